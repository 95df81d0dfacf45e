/** Writing a key to a file: the one place lmnr-keys writes a key, and only where the operator says. */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { enclosingGitWorkTree } from './git-work-tree.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';
import { makeFolders } from '../files/folders.js';
import { writeNewKeyFile } from '../files/atomic-file.js';

/**
 * Writes the key as 64 hex characters and a newline to FILE, whole or not at all (atomic-file.ts:
 * a 0600 temporary file beside it, fsynced, read back, then linked into place), never
 * overwriting and never inside a git work tree. A missing parent folder is created 0700, one
 * level at a time; a path that cannot be created is refused at once (exit 3).
 */
export function writeKeyFile(cwd: string, file: string, bytes: Uint8Array, fs: FileSystem = nodeFileSystem): string {
  const full = path.resolve(cwd, file);
  const repository = enclosingGitWorkTree(path.dirname(full));
  if (repository) {
    // Laminar's checkout is a git work tree whose .gitignore covers .env only: a key file there is one `git add .` from a commit.
    throw new ConfigError(
      `${file} would be inside the git work tree ${repository}; lmnr-keys does not write keys where they could be committed`,
      'write it outside, e.g. --out ~/.local/state/lmnr-keys/keys/' + path.basename(full),
    );
  }
  makeFolders(fs, path.dirname(full), 0o700, 'the folder for the key file');
  const hex = Buffer.from(bytes).toString('hex');
  writeNewKeyFile(fs, full, `${hex}\n`);
  return full;
}
