/** --backup FILE | --no-backup, shared by every command that writes. */
import path from 'node:path';
import { describeTarget, type DatabaseTarget } from '../config.js';
import { createBackupFile, defaultBackupName, type BackupHeader, type BackupSink } from '../core/backup.js';

export function openBackup(option: string | false | undefined, operation: BackupHeader['operation'], target: DatabaseTarget, toFingerprint: string | null): BackupSink | null {
  if (option === false) return null;
  const file = path.resolve(option ?? defaultBackupName(new Date()));
  return createBackupFile(file, {
    type: 'header',
    version: 1,
    tool: 'lmnr-keys',
    operation,
    createdAt: new Date().toISOString(),
    database: describeTarget(target),
    toFingerprint,
  });
}

/** How to show a backup path: relative to the working folder when inside it. */
export function displayPath(sink: BackupSink | null): string | null {
  if (!sink) return null;
  const relative = path.relative(process.cwd(), sink.path);
  return relative.startsWith('..') ? sink.path : relative;
}
