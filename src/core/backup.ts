/**
 * Backups of what a write replaces: JSON Lines, mode 0600, ciphertext and nonces only (never
 * plaintext). Each batch's records are written and fsynced before the batch commits, so a
 * crash at any moment leaves a backup that covers every value that may have changed.
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
}

/** A whole row was deleted (quarantine, set): every column, as text, to re-insert it. */
export interface DeleteRecord {
  type: 'delete';
  store: StoreName;
  id: string;
  row: Record<string, string | null>;
}

export type BackupRecord = UpdateRecord | DeleteRecord;
export type BackupLine = BackupHeader | BackupRecord;

export interface BackupSink {
  path: string;
  /** Appends records and forces them to disk. */
  append: (records: BackupRecord[]) => void;
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
  writeLines([header]);
  return {
    path: filePath,
    append: (records) => writeLines(records),
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
  }
  if (!header || header.tool !== 'lmnr-keys') {
    throw new ConfigError(`${path.basename(filePath)} is not an lmnr-keys backup (no header line)`, 'pass a file written by lmnr-keys rotate, set or quarantine');
  }
  return { header, records };
}
