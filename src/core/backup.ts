/**
 * Backups of what a write replaces: JSON Lines, mode 0600, ciphertext and nonces only (never
 * plaintext). Each batch's records are written and fsynced before the batch commits, so a
 * crash at any moment leaves a backup that covers every value that may have changed.
 *
 * Every write (rotate, quarantine, set) numbers its batches and appends a commit mark once a
 * batch's transaction commits, so a restore can tell the records of a batch that never
 * committed (killed, rolled back) from values changed after the backup. Records without a batch
 * number (backups of older versions) are read as before: every record applied.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { DurableFile } from '../files/durable-file.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';
import type { BackupLineSink } from '../stores/copy-writer.js';
import type { StoreName } from '../stores/stores.js';

export interface BackupHeader {
  type: 'header';
  version: 1;
  tool: 'lmnr-keys';
  operation: 'rotate' | 'quarantine' | 'set';
  createdAt: string;
  /** host:port/database the backup was taken from. */
  database: string;
  /** The database's identity whatever host reached it (system identifier/database name); absent in older backups. */
  databaseIdentity?: string | null;
  /** Fingerprint of the key the new values are sealed under, when there is one. */
  toFingerprint: string | null;
}

/** A sealed pair was replaced in place (rotate), or cleared (quarantine of a deployment pair: new = null). */
export interface UpdateRecord {
  type: 'update';
  store: StoreName;
  id: string;
  oldNonceHex: string | null;
  oldCiphertextHex: string | null;
  newNonceHex: string | null;
  newCiphertextHex: string | null;
  /** The write's batch number; the batch committed only if a commit mark with it follows. */
  batch?: number;
  /**
   * Set by readBackupFile: false for a record of a numbered batch that has no commit mark (its
   * transaction never committed, or the process died between the commit and the mark).
   */
  committed?: boolean;
}

/** Written after a batch's transaction committed: its update records were applied. */
export interface CommitMark {
  type: 'commit';
  batch: number;
  /** How many values the batch re-sealed. */
  count: number;
}

/** A whole row was deleted (quarantine, set): every column, as text, to re-insert it. */
export interface DeleteRecord {
  type: 'delete';
  store: StoreName;
  id: string;
  row: Record<string, string | null>;
  /** The write's batch number (quarantine, set); committed only if a commit mark with it follows. */
  batch?: number;
  /** Set by readBackupFile, as for updates. */
  committed?: boolean;
}

export type BackupRecord = UpdateRecord | DeleteRecord;
export type BackupLine = BackupHeader | BackupRecord | CommitMark;

/** A write's backup file; appendLines and sync are what rotate's batches use (stores/copy-writer.ts). */
export interface BackupSink extends BackupLineSink {
  /** The file's path; it exists only once a record was appended (see `written`). */
  path: string;
  /** Appends records and forces them to disk (the first call creates the file); throws LocalFileError. */
  append: (records: BackupRecord[]) => void;
  /** True once the file exists: a run that changed nothing leaves no file behind. */
  written: () => boolean;
  /** Records that a batch's transaction committed (on disk with the next sync). */
  markCommitted: (batch: number, count: number) => void;
  /** Records known to be on disk (the last sync): what a restore can put back. */
  durableRecords: () => number;
  close: () => void;
}

/**
 * What a write has committed so far, batch by batch, and the commit marks in its backup: every
 * write reports each commit here, right after it, so a failure or a signal can say exactly what
 * was changed and whether the backup holds all of it.
 */
export class WriteJournal {
  committedValues = 0;
  committedBatches = 0;
  /** Of the committed values, those the backup must hold (a row `set` adds did not exist before: nothing to back up). */
  backedUpValues = 0;

  constructor(readonly backup: BackupSink | null) {}

  /**
   * Called right after a batch's transaction committed. The mark is written after the commit by
   * nature: if it cannot be, this throws (the run stops before its next batch) but the counts
   * already say the batch did commit.
   */
  committed(batch: number, count: number, backedUp = count): void {
    this.committedValues += count;
    this.backedUpValues += backedUp;
    this.committedBatches += 1;
    this.backup?.markCommitted(batch, backedUp);
  }

  /** Every committed change has its record on disk in the backup (vacuously true when there is none to hold). */
  backupComplete(): boolean {
    if (this.backedUpValues === 0) return true;
    return this.backup !== null && this.backup.written() && this.backup.durableRecords() >= this.backedUpValues;
  }
}

/**
 * A name no other run picks: the operation, a millisecond UTC timestamp and 48 random bits.
 * (One-second names collided when a script re-ran rotate at once.)
 */
export function defaultBackupName(now: Date, operation: BackupHeader['operation'], random: () => string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `lmnr-keys-${operation}-${stamp}-${random()}.jsonl`;
}

/**
 * A backup file created on the first append, exclusively (never overwrites: an existing file
 * is an error) with mode 0600, header first. Nothing is created for a run that writes no
 * record, so a rotation with nothing to change leaves no file. Every byte goes through
 * DurableFile: short writes looped, any failure a LocalFileError (exit 3) before the commit.
 */
export function createBackupFile(filePath: string, header: () => BackupHeader, fs: FileSystem = nodeFileSystem): BackupSink {
  let file: DurableFile | null = null;
  let appended = 0;
  let durable = 0;
  const open = (): DurableFile => {
    if (file !== null) return file;
    const created = DurableFile.createExclusive(fs, filePath, 'the backup file', 0o600);
    try {
      created.write(`${JSON.stringify(header())}\n`);
    } catch (error) {
      // A file without its header is no backup: not left behind.
      created.closeQuietly();
      try {
        fs.unlinkSync(filePath);
      } catch {
        // Its folder may be gone too.
      }
      throw error;
    }
    file = created;
    return file;
  };
  const sync = () => {
    if (file === null) return;
    file.sync();
    durable = appended;
  };
  return {
    path: filePath,
    append: (records) => {
      if (records.length === 0) return;
      open().write(records.map((record) => JSON.stringify(record)).join('\n') + '\n');
      appended += records.length;
      sync();
    },
    appendLines: (lines, count, shouldSync = true) => {
      if (lines.length === 0) return;
      open().write(lines);
      appended += count;
      if (shouldSync) sync();
    },
    sync,
    // Written, not forced to disk: the next batch's sync carries it, and a mark lost in a crash
    // costs nothing (restore puts back a batch without its mark when its rows hold what it wrote).
    // A failed write still stops the run before its next batch.
    markCommitted: (batch, count) => {
      if (file === null) return;
      file.write(`${JSON.stringify({ type: 'commit', batch, count } satisfies CommitMark)}\n`);
    },
    written: () => file !== null,
    durableRecords: () => durable,
    close: () => {
      if (file === null) return;
      try {
        // The last commit mark has no next batch to carry it to disk (best effort: see markCommitted).
        file.sync();
      } catch {
        // Reported where it matters: every record was synced before its commit.
      }
      file.closeQuietly();
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isTextOrNull = (value: unknown) => value === null || typeof value === 'string';

/** Checks a record's shape, so a hand-edited file is refused with its place instead of failing in SQL. */
function checkRecord(record: BackupRecord, where: () => string, file: string, isStore: (name: string) => boolean): void {
  const bad = (what: string) => new ConfigError(`backup file ${file} ${where()}: ${what}`, 'pass an lmnr-keys backup file, unedited');
  if (!isStore(record.store)) throw bad(`unknown store ${JSON.stringify(String(record.store)).slice(0, 60)}`);
  if (typeof record.id !== 'string' || !UUID.test(record.id)) throw bad('the id is not a uuid');
  if (record.type === 'update') {
    if (![record.oldCiphertextHex, record.oldNonceHex, record.newCiphertextHex, record.newNonceHex].every(isTextOrNull))
      throw bad('a sealed value is neither text nor null');
  } else if (record.row === null || typeof record.row !== 'object' || Array.isArray(record.row)) {
    throw bad('the deleted row is not an object');
  }
}

/** Bytes read at a time, from the end of the file backwards. */
const READ_CHUNK = 1 << 20;

/**
 * A backup file, read line by line and never whole (the backup of a million-value rotation is
 * close to a gigabyte; Node's longest string is about half that). The header is read when it is
 * opened; `newestFirst` reads the records from the end of the file backwards, so a value changed
 * twice (a retried batch) unwinds in order, and each record is marked committed or not by the
 * commit marks, which always follow their batch's records and so are met first.
 */
export interface BackupFile {
  path: string;
  header: BackupHeader;
  /** The last line was cut short (a crash mid-write) and is ignored. */
  truncatedLastLine: boolean;
  /** The records, newest first; reads the file again on each call. */
  newestFirst: () => Generator<BackupRecord>;
}

export function openBackupFile(filePath: string, isStore: (name: string) => boolean): BackupFile {
  const name = path.basename(filePath);
  const cannot = (error: unknown) =>
    new ConfigError(`cannot read backup file ${filePath} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path');
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(filePath, 'r');
    size = fs.fstatSync(fd).size;
  } catch (error) {
    throw cannot(error);
  }
  const notBackup = () =>
    new ConfigError(`${name} is not an lmnr-keys backup (no header line)`, 'pass a file written by lmnr-keys rotate, set or quarantine');
  try {
    // The header: the first line.
    const head = Buffer.alloc(Math.min(size, 64 * 1024));
    fs.readSync(fd, head, 0, head.length, 0);
    const end = head.indexOf(0x0a);
    let header: BackupHeader;
    try {
      header = JSON.parse(head.toString('utf8', 0, end < 0 ? head.length : end)) as BackupHeader;
    } catch {
      throw notBackup();
    }
    if (header === null || typeof header !== 'object' || header.type !== 'header' || header.tool !== 'lmnr-keys') throw notBackup();
    if (header.version !== 1)
      throw new ConfigError(
        `backup file ${name} has version ${JSON.stringify(header.version)}, which this lmnr-keys does not know`,
        'restore it with the lmnr-keys version that wrote it',
      );
    const firstRecordAt = end < 0 ? size : end + 1;
    // A crash mid-write leaves the last line without its newline: it is ignored (and said so).
    let truncatedLastLine = false;
    for (const { line } of linesBackwards(fd, firstRecordAt, size)) {
      if (line.length > 0) {
        try {
          JSON.parse(line);
        } catch {
          truncatedLastLine = true;
        }
      }
      break;
    }
    return {
      path: filePath,
      header,
      truncatedLastLine,
      newestFirst: function* () {
        const committed = new Set<number>();
        // Line numbers are counted only for a message: the reader goes by byte offsets.
        const lineAt = (offset: number) => lineNumberAt(fd, offset);
        let last = true;
        for (const { line, offset } of linesBackwards(fd, firstRecordAt, size)) {
          const isLast = last;
          last = false;
          if (line.trim() === '') continue;
          let parsed: BackupLine;
          try {
            parsed = JSON.parse(line) as BackupLine;
          } catch {
            if (isLast) continue;
            throw new ConfigError(`backup file ${name} line ${lineAt(offset)} is not JSON`, 'pass an lmnr-keys backup file, unedited');
          }
          if (parsed === null || typeof parsed !== 'object')
            throw new ConfigError(`backup file ${name} line ${lineAt(offset)} is not a record`, 'pass an lmnr-keys backup file, unedited');
          if (parsed.type === 'commit') {
            if (typeof parsed.batch === 'number') committed.add(parsed.batch);
          } else if (parsed.type === 'update' || parsed.type === 'delete') {
            checkRecord(parsed, () => `line ${lineAt(offset)}`, name, isStore);
            if (typeof parsed.batch === 'number') parsed.committed = committed.has(parsed.batch);
            yield parsed;
          }
        }
      },
    };
  } catch (error) {
    fs.closeSync(fd);
    if (error instanceof ConfigError) throw error;
    throw cannot(error);
  }
}

/** The number of the line starting at byte `offset` (1 + the newlines before it). */
function lineNumberAt(fd: number, offset: number): number {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  let lines = 1;
  for (let position = 0; position < offset; position += READ_CHUNK) {
    const read = fs.readSync(fd, chunk, 0, Math.min(READ_CHUNK, offset - position), position);
    for (let at = chunk.indexOf(0x0a); at >= 0 && at < read; at = chunk.indexOf(0x0a, at + 1)) lines += 1;
  }
  return lines;
}

/**
 * The lines of `fd` between `start` and `end`, last first, each with the byte offset it starts
 * at. One working buffer, reused: a buffer per chunk read was external memory the collector
 * freed late (RSS grew by tens of MB reading a 700 MB backup).
 */
function* linesBackwards(fd: number, start: number, end: number): Generator<{ line: string; offset: number }> {
  let work = Buffer.allocUnsafe(2 * READ_CHUNK);
  /** The start of the line still open at the front of `work` (carried to the next read), and its length. */
  let carry = Buffer.allocUnsafe(READ_CHUNK);
  let carryLength = 0;
  let position = end;
  // A newline at the very end closes the last line; it does not start an empty one.
  let skipFinalNewline = true;
  while (position > start) {
    const length = Math.min(READ_CHUNK, position - start);
    position -= length;
    if (work.length < length + carryLength) work = Buffer.allocUnsafe(2 * (length + carryLength));
    fs.readSync(fd, work, 0, length, position);
    carry.copy(work, length, 0, carryLength);
    let blockLength = length + carryLength;
    if (skipFinalNewline) {
      skipFinalNewline = false;
      if (blockLength > 0 && work[blockLength - 1] === 0x0a) blockLength -= 1;
    }
    let lineEnd = blockLength;
    for (
      let at = lineEnd > 0 ? work.lastIndexOf(0x0a, lineEnd - 1) : -1;
      at >= 0;
      at = lineEnd > 0 ? work.lastIndexOf(0x0a, lineEnd - 1) : -1
    ) {
      yield { line: work.toString('utf8', at + 1, lineEnd), offset: position + at + 1 };
      lineEnd = at;
      if (lineEnd === 0) break;
    }
    if (carry.length < lineEnd) carry = Buffer.allocUnsafe(2 * lineEnd);
    work.copy(carry, 0, 0, lineEnd);
    carryLength = lineEnd;
  }
  if (carryLength > 0) yield { line: carry.toString('utf8', 0, carryLength), offset: start };
}

/** The header line and a margin for commit marks. */
const BACKUP_FIXED_BYTES = 4096;

/**
 * About how many bytes the backup records of `values` values take, from the average stored
 * sizes (measureSealedValues): an update record holds the old and new ciphertext and nonce
 * (rotate, a cleared pair), a delete record the whole row (every column as text).
 */
export function estimateBackupBytes(
  kind: 'update' | 'delete',
  values: number,
  sizes: { values: number; ciphertextBytes: number; nonceBytes: number },
): number {
  if (values === 0) return 0;
  const averageCiphertext = sizes.values > 0 ? sizes.ciphertextBytes / sizes.values : 0;
  const averageNonce = sizes.values > 0 ? sizes.nonceBytes / sizes.values : 48;
  // Field names, quotes, the id, the store name, the batch number: under 300 bytes; a deleted
  // row's other columns (ids, names, timestamps) under 600.
  const perRecord = kind === 'update' ? 300 + 2 * averageCiphertext + averageNonce + 48 : 600 + averageCiphertext + averageNonce;
  return BACKUP_FIXED_BYTES + Math.ceil(values * perRecord);
}
