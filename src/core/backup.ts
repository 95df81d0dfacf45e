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
}

export type BackupRecord = UpdateRecord | DeleteRecord;
export type BackupLine = BackupHeader | BackupRecord | CommitMark;

export interface BackupSink {
  path: string;
  /** Appends records and forces them to disk. */
  append: (records: BackupRecord[]) => void;
  /**
   * Appends lines already formatted as JSON records (rotate's hot path builds them straight
   * from the bytes it read and wrote; test/unit/reseal-batch.test.ts checks they equal
   * JSON.stringify of the record), and, with `sync` (the default), forces the file to disk.
   */
  appendLines: (lines: Buffer, sync?: boolean) => void;
  /** Records that a batch's transaction committed, and forces it to disk. */
  markCommitted: (batch: number, count: number) => void;
  close: () => void;
}

export function defaultBackupName(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `lmnr-keys-backup-${stamp}.jsonl`;
}

/** Creates the file exclusively (never overwrites) with mode 0600, and writes the header. */
export function createBackupFile(filePath: string, header: BackupHeader): BackupSink {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot create backup file ${filePath} (${code ?? 'error'})`,
      code === 'EEXIST' ? 'choose another --backup path; lmnr-keys never overwrites a backup' : 'choose a writable --backup path',
    );
  }
  // umask cannot widen 0600, but make the mode explicit in case the file system ignored it.
  fs.fchmodSync(fd, 0o600);
  const writeLines = (lines: BackupLine[]) => {
    if (lines.length === 0) return;
    fs.writeSync(fd, lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
    fs.fsyncSync(fd);
  };
  const writeAll = (bytes: Buffer) => {
    for (let written = 0; written < bytes.length; ) written += fs.writeSync(fd, bytes, written, bytes.length - written);
  };
  writeLines([header]);
  return {
    path: filePath,
    append: (records) => writeLines(records),
    appendLines: (lines, sync = true) => {
      writeAll(lines);
      if (sync) fs.fsyncSync(fd);
    },
    markCommitted: (batch, count) => writeLines([{ type: 'commit', batch, count }]),
    close: () => fs.closeSync(fd),
  };
}

export interface ParsedBackup {
  header: BackupHeader;
  records: BackupRecord[];
}

/** Reads a backup; a truncated last line (a crash mid-write) is ignored, anything else malformed is an error. */
export function readBackupFile(filePath: string): ParsedBackup {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read backup file ${filePath} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path');
  }
  const lines = text.split('\n');
  const records: BackupRecord[] = [];
  const committedBatches = new Set<number>();
  let header: BackupHeader | null = null;
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let parsed: BackupLine;
    try {
      parsed = JSON.parse(line) as BackupLine;
    } catch {
      // Only the very last line can be cut short by a crash (it has no newline yet).
      if (index === lines.length - 1) continue;
      throw new ConfigError(`backup file ${path.basename(filePath)} line ${index + 1} is not JSON`, 'pass an lmnr-keys backup file, unedited');
    }
    if (parsed.type === 'header') header = parsed;
    else if (parsed.type === 'update' || parsed.type === 'delete') records.push(parsed);
    else if (parsed.type === 'commit' && typeof parsed.batch === 'number') committedBatches.add(parsed.batch);
  }
  for (const record of records) {
    if (record.type === 'update' && typeof record.batch === 'number') record.committed = committedBatches.has(record.batch);
  }
  if (!header || header.tool !== 'lmnr-keys') {
    throw new ConfigError(`${path.basename(filePath)} is not an lmnr-keys backup (no header line)`, 'pass a file written by lmnr-keys rotate, set or quarantine');
  }
  return { header, records };
}
