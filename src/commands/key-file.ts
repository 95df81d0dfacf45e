/** Writing a key to a file: the one place lmnr-keys writes a key, and only where the operator says. */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { enclosingGitWorkTree } from './git-work-tree.js';

/**
 * Creates FILE exclusively with mode 0600 from the first byte (no moment where another user
 * could read it, unlike `> file && chmod 600 file`) and never overwrites. A missing parent
 * folder is created 0700.
 */
export function writeKeyFile(cwd: string, file: string, bytes: Uint8Array): string {
  const full = path.resolve(cwd, file);
  const repository = enclosingGitWorkTree(path.dirname(full));
  if (repository) {
    // Laminar's checkout is a git work tree whose .gitignore covers .env only: a key file there is one `git add .` from a commit.
    throw new ConfigError(
      `${file} would be inside the git work tree ${repository}; lmnr-keys does not write keys where they could be committed`,
      'write it outside, e.g. --out ~/.local/state/lmnr-keys/keys/' + path.basename(full),
    );
  }
  try {
    fs.mkdirSync(path.dirname(full), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(
      `cannot create the folder for ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      'choose a writable --out path',
    );
  }
  let fd: number;
  try {
    fd = fs.openSync(full, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'EEXIST' ? `${file} already exists; lmnr-keys never overwrites a key file` : `cannot create ${file} (${code ?? 'error'})`,
      code === 'EEXIST' ? 'choose another --out path (or move the old file away yourself)' : 'choose a writable --out path',
    );
  }
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${Buffer.from(bytes).toString('hex')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return full;
}
