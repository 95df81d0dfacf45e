/** Creating folders one level at a time (Node's recursive mkdir spins at 100% CPU on /proc/nope/x). */
import path from 'node:path';
import type { FileSystem } from './file-system.js';
import { errorCode, localFileError } from './file-error.js';

/**
 * Creates `folder` and any missing parents with `mode`, walking down from the root: one mkdir
 * per path component, so the loop ends whatever the kernel answers. An existing folder is
 * fine; anything else that refuses (ENOENT under /proc, EACCES, EROFS) throws LocalFileError.
 */
export function makeFolders(fs: FileSystem, folder: string, mode: number, what = 'the folder'): void {
  const absolute = path.resolve(folder);
  if (fs.isDirectory(absolute)) return;
  const { root } = path.parse(absolute);
  const parts = absolute.slice(root.length).split(path.sep).filter(Boolean);
  let current = root;
  for (const part of parts) {
    current = path.join(current, part);
    try {
      fs.mkdirSync(current, mode);
    } catch (error) {
      if (errorCode(error) === 'EEXIST' && fs.isDirectory(current)) continue;
      throw localFileError(error, `create ${what} ${absolute}${current === absolute ? '' : ` (at ${current})`}`, absolute);
    }
  }
}
