/**
 * Backups of what a write replaces: JSON Lines, mode 0600, ciphertext and nonces only (never
 * plaintext). Each batch's records are written and fsynced before the batch commits, so a
 * crash at any moment leaves a backup that covers every value that may have changed.
 *
 * rotate numbers its batches and appends a commit mark once a batch's transaction commits, so
 * a restore can tell the records of a batch that never committed (killed, rolled back) from
 * values changed after the backup. Backups without marks (set, quarantine, older versions) are
 * read as before: every record applied.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
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
  /** rotate's batch number; the batch committed only if a commit mark with it follows. */
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

export interface BackupSink {
  /** The file's path; it exists only once a record was appended (see `written`). */
  path: string;
  /** Appends records and forces them to disk; the first call creates the file. */
  append: (records: BackupRecord[]) => void;
  /** True once the file exists: a run that changed nothing leaves no file behind. */
  written: () => boolean;
  /**
   * Appends lines already formatted as JSON records (rotate's hot path builds them straight
   * from the bytes it read and wrote; test/unit/reseal-batch.test.ts checks they equal
   * JSON.stringify of the record), and, with `sync` (the default), forces the file to disk.
   */
  appendLines: (lines: Buffer, sync?: boolean) => void;
  /** Records that a batch's transaction committed, and forces it to disk. */
  markCommitted: (batch: number, count: number) => void;
  /** How many batches were marked committed: none means the file holds only changes never applied. */
  committedBatches: () => number;
  close: () => void;
}

/**
 * A name no other run picks: the operation, a millisecond UTC timestamp and 48 random bits.
 * (One-second names collided when a script re-ran rotate at once.)
 */
export function defaultBackupName(now: Date, operation: BackupHeader['operation'], random: () => string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `lmnr-keys-${operation}-${stamp}-${random()}.jsonl`;
}

export class BackupExistsError extends ConfigError {}

/**
 * A backup file created on the first append, exclusively (never overwrites: an existing file
 * is an error) with mode 0600, header first. Nothing is created for a run that writes no
 * record, so a rotation with nothing to change leaves no file.
 */
export function createBackupFile(filePath: string, header: () => BackupHeader): BackupSink {
  let fd: number | null = null;
  const writeLines = (lines: BackupLine[]) => {
    if (lines.length === 0 || fd === null) return;
    fs.writeSync(fd, lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
    fs.fsyncSync(fd);
  };
  const open = () => {
    try {
      fd = fs.openSync(filePath, 'wx', 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        throw new BackupExistsError(
          `backup file ${filePath} already exists`,
          'choose another --backup path; lmnr-keys never overwrites a backup',
        );
      throw new ConfigError(`cannot create backup file ${filePath} (${code ?? 'error'})`, 'choose a writable --backup path');
    }
    // umask cannot widen 0600, but make the mode explicit in case the file system ignored it.
    fs.fchmodSync(fd, 0o600);
    writeLines([header()]);
  };
  const writeAll = (bytes: Buffer) => {
    if (fd === null) open();
    for (let written = 0; written < bytes.length;) written += fs.writeSync(fd!, bytes, written, bytes.length - written);
  };
  let committed = 0;
  return {
    path: filePath,
    append: (records) => {
      if (records.length === 0) return;
      if (fd === null) open();
      writeLines(records);
    },
    appendLines: (lines, sync = true) => {
      if (lines.length === 0) return;
      writeAll(lines);
      if (sync) fs.fsyncSync(fd!);
    },
    markCommitted: (batch, count) => {
      if (fd === null) return;
      committed += 1;
      writeLines([{ type: 'commit', batch, count }]);
    },
    written: () => fd !== null,
    committedBatches: () => committed,
    close: () => {
      if (fd !== null) fs.closeSync(fd);
    },
  };
}

export interface ParsedBackup {
  header: BackupHeader;
  records: BackupRecord[];
  /** The last line was cut short (a crash mid-write) and was ignored. */
  truncatedLastLine: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isTextOrNull = (value: unknown) => value === null || typeof value === 'string';

/** Checks a record's shape, so a hand-edited file is refused with its line number instead of failing in SQL. */
function checkRecord(record: BackupRecord, line: number, file: string, isStore: (name: string) => boolean): void {
  const bad = (what: string) => new ConfigError(`backup file ${file} line ${line}: ${what}`, 'pass an lmnr-keys backup file, unedited');
  if (!isStore(record.store)) throw bad(`unknown store ${JSON.stringify(String(record.store)).slice(0, 60)}`);
  if (typeof record.id !== 'string' || !UUID.test(record.id)) throw bad('the id is not a uuid');
  if (record.type === 'update') {
    if (![record.oldCiphertextHex, record.oldNonceHex, record.newCiphertextHex, record.newNonceHex].every(isTextOrNull))
      throw bad('a sealed value is neither text nor null');
  } else if (record.row === null || typeof record.row !== 'object' || Array.isArray(record.row)) {
    throw bad('the deleted row is not an object');
  }
}

/**
 * Reads a backup. A truncated last line (a crash mid-write) is reported and ignored; anything
 * else malformed, and a version this lmnr-keys does not know, is an error.
 */
export function readBackupFile(filePath: string, isStore: (name: string) => boolean): ParsedBackup {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read backup file ${filePath} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path');
  }
  const name = path.basename(filePath);
  const lines = text.split('\n');
  const records: BackupRecord[] = [];
  const committedBatches = new Set<number>();
  let header: BackupHeader | null = null;
  let truncatedLastLine = false;
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let parsed: BackupLine;
    try {
      parsed = JSON.parse(line) as BackupLine;
    } catch {
      // Only the very last line can be cut short by a crash (it has no newline yet).
      if (index === lines.length - 1) {
        truncatedLastLine = true;
        continue;
      }
      throw new ConfigError(`backup file ${name} line ${index + 1} is not JSON`, 'pass an lmnr-keys backup file, unedited');
    }
    if (parsed === null || typeof parsed !== 'object')
      throw new ConfigError(`backup file ${name} line ${index + 1} is not a record`, 'pass an lmnr-keys backup file, unedited');
    if (parsed.type === 'header') {
      if (parsed.tool !== 'lmnr-keys') break;
      if (parsed.version !== 1) {
        throw new ConfigError(
          `backup file ${name} has version ${JSON.stringify(parsed.version)}, which this lmnr-keys does not know`,
          'restore it with the lmnr-keys version that wrote it',
        );
      }
      header = parsed;
    } else if (parsed.type === 'update' || parsed.type === 'delete') {
      checkRecord(parsed, index + 1, name, isStore);
      records.push(parsed);
    } else if (parsed.type === 'commit' && typeof parsed.batch === 'number') {
      committedBatches.add(parsed.batch);
    }
  }
  for (const record of records) {
    if (typeof record.batch === 'number') record.committed = committedBatches.has(record.batch);
  }
  if (!header || header.tool !== 'lmnr-keys') {
    throw new ConfigError(
      `${name} is not an lmnr-keys backup (no header line)`,
      'pass a file written by lmnr-keys rotate, set or quarantine',
    );
  }
  return { header, records, truncatedLastLine };
}
