import fs from 'node:fs';
import path from 'node:path';

/** The git work tree a folder lies in (the nearest ancestor holding `.git`), or null. */
export function enclosingGitWorkTree(folder: string): string | null {
  for (let current = path.resolve(folder); ; current = path.dirname(current)) {
    if (fs.existsSync(path.join(current, '.git'))) return current;
    if (path.dirname(current) === current) return null;
  }
}
