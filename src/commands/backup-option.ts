/** --backup FILE | --no-backup, shared by every command that writes. */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeTarget, type DatabaseTarget } from '../config/database-target.js';
import type { CommandContext } from '../context.js';
import { ConfigError, LocalFileError } from '../errors.js';
import { enclosingGitWorkTree } from './git-work-tree.js';
import { makeFolders } from '../files/folders.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';
import { localFileError } from '../files/file-error.js';
import { createBackupFile, defaultBackupName, type BackupHeader, type BackupSink } from '../core/backup.js';

/**
 * Where a backup goes. An explicit path that exists is refused before anything is read; the
 * default is a private folder outside any git work tree (a backup taken while rotating off
 * the public default key is as good as plaintext, and Laminar's checkout is a git work tree).
 */
export function openBackup(
  ctx: CommandContext,
  option: string | false | undefined,
  operation: BackupHeader['operation'],
  target: DatabaseTarget,
  toFingerprint: string | null,
  databaseIdentity: () => string | null,
): BackupSink | null {
  if (option === false) return null;
  // Built when the first record is written, once the database's identity is known.
  const header = (): BackupHeader => ({
    type: 'header',
    version: 1,
    tool: 'lmnr-keys',
    operation,
    createdAt: new Date().toISOString(),
    database: describeTarget(target),
    databaseIdentity: databaseIdentity(),
    toFingerprint,
  });
  if (option !== undefined) {
    const file = path.resolve(ctx.cwd, option);
    if (fs.existsSync(file))
      throw new ConfigError(`backup file ${option} already exists`, 'choose another --backup path; lmnr-keys never overwrites a backup');
    checkWritableFolder(path.dirname(file), '--backup');
    return createBackupFile(file, header);
  }
  const folder = defaultBackupFolder(ctx);
  return createBackupFile(
    path.join(
      folder,
      defaultBackupName(new Date(), operation, () => randomBytes(6).toString('hex')),
    ),
    header,
  );
}

function checkWritableFolder(folder: string, what: string): void {
  try {
    fs.accessSync(folder, fs.constants.W_OK);
  } catch (error) {
    throw new ConfigError(
      `cannot write a backup in ${folder} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      `choose a writable ${what} path`,
    );
  }
}

/** LMNR_KEYS_BACKUP_DIR, else $XDG_STATE_HOME/lmnr-keys/backups, else ~/.local/state/lmnr-keys/backups (created 0700). */
function defaultBackupFolder(ctx: CommandContext): string {
  const chosen = ctx.backupDirectory();
  const folder = chosen.path;
  try {
    makeFolders(nodeFileSystem, folder, 0o700, 'the backup folder');
  } catch (error) {
    throw localFileError(
      error,
      `create the backup folder ${folder}`,
      folder,
      'pass --backup PATH, or set LMNR_KEYS_BACKUP_DIR to a writable folder',
    );
  }
  if (!chosen.explicit) {
    const repository = enclosingGitWorkTree(folder);
    if (repository) {
      throw new ConfigError(
        `the default backup folder ${folder} is inside the git work tree ${repository}; ` +
          `lmnr-keys does not put backups where they could be committed`,
        'pass --backup PATH outside it, or set LMNR_KEYS_BACKUP_DIR',
      );
    }
  }
  checkWritableFolder(folder, 'LMNR_KEYS_BACKUP_DIR');
  return folder;
}

/** How to show a backup path: relative to the working folder when inside it; null when no file was written. */
export function displayPath(ctx: CommandContext, sink: BackupSink | null): string | null {
  if (!sink || !sink.written()) return null;
  const relative = path.relative(ctx.cwd, sink.path);
  return relative.startsWith('..') || path.isAbsolute(relative) ? sink.path : relative;
}

const MB = 1024 * 1024;
const megabytes = (bytes: number) => (bytes / MB >= 10 ? Math.round(bytes / MB).toString() : (bytes / MB).toFixed(1));

/**
 * Before the first write: the backup's estimated size against the free space of its folder's
 * file system (statfs: the bytes an unprivileged writer may still use). More than there is:
 * refused, exit 3, nothing written. More than 80% of it: a warning. Returns the estimate.
 */
export async function checkBackupRoom(
  ctx: CommandContext,
  backup: BackupSink,
  estimate: (freeBytes: number) => Promise<number>,
  fs: FileSystem = nodeFileSystem,
): Promise<number> {
  const folder = path.dirname(backup.path);
  let free: number;
  try {
    const stats = fs.statfsSync(folder);
    free = stats.bavail * stats.bsize;
  } catch (error) {
    throw localFileError(error, `measure the free space of the backup folder ${folder}`, folder);
  }
  const needed = await estimate(free);
  ctx.output.debug(`backup: about ${needed} bytes needed, ${free} free at ${folder}`);
  if (needed > free)
    throw new LocalFileError(
      `the backup needs about ${megabytes(needed)} MB, and only ${megabytes(free)} MB are free at ${folder}; nothing was written`,
      'free space there, or choose a folder with room (--backup PATH, or LMNR_KEYS_BACKUP_DIR)',
      { path: folder, code: 'ENOSPC' },
    );
  if (needed > free * 0.8)
    ctx.output.note(
      ctx.output.color.yellow(
        `warning: the backup needs about ${megabytes(needed)} MB, ${Math.round((needed / free) * 100)}% of the ${megabytes(free)} MB free at ${folder}`,
      ),
    );
  return needed;
}

/**
 * A backup of a write that committed nothing holds only changes never applied (ciphertexts a
 * reader could still use): it is removed, and the run says so.
 */
export function removeUnusedBackup(ctx: CommandContext, backup: BackupSink, say: boolean): void {
  if (!backup.written()) return;
  try {
    fs.unlinkSync(backup.path);
    if (say) ctx.output.note('Nothing was changed, so its backup file was removed.');
  } catch {
    ctx.output.note(`Nothing was changed; its backup file ${displayPath(ctx, backup)} holds no committed change and may be deleted.`);
  }
}
