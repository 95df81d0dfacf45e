/** A failed file operation as one line for the operator: the path, what failed in words, the code, what to do. */
import { LocalFileError } from '../errors.js';

const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EIO: 'the disk reported an input/output error',
  EROFS: 'the file system is read-only',
  EFBIG: 'the file would exceed the size limit (ulimit -f, or the file system)',
  ENOENT: 'the folder does not exist (or was removed)',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'it already exists',
  EISDIR: 'it is a folder',
  EMFILE: 'too many open files',
};

const HINTS: Record<string, string> = {
  ENOSPC: 'free space there or choose another place (--backup PATH, LMNR_KEYS_BACKUP_DIR, --out)',
  EDQUOT: 'free space in your quota there or choose another place (--backup PATH, LMNR_KEYS_BACKUP_DIR, --out)',
  EIO: 'the disk may be failing: choose another place and check the disk',
  EROFS: 'choose a writable place (--backup PATH, LMNR_KEYS_BACKUP_DIR, --out)',
  EFBIG: 'raise the file size limit (ulimit -f) or choose another file system',
  ENOENT: 'create the folder, or choose one that exists',
};

/** The code of a Node file error (ENOSPC...), or 'error'. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * `doing` names the operation and the file in words ("write the backup file /x/y.jsonl"); the
 * message is "cannot <doing>: <what failed> (<CODE>)". Never includes the bytes being written.
 */
export function localFileError(error: unknown, doing: string, path: string, hint?: string): LocalFileError {
  if (error instanceof LocalFileError) return error;
  const code = errorCode(error);
  const words = WORDS[code];
  return new LocalFileError(
    `cannot ${doing}: ${words ? `${words} (${code})` : code}`,
    hint ?? HINTS[code] ?? 'check the path and its folder',
    {
      cause: error,
      path,
      code,
    },
  );
}
