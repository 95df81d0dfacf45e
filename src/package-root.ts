/**
 * Where lmnr-keys is installed: the folder of its package.json, found by walking up from this
 * module. The same answer from the bundle the bin runs (dist/bundle/) and from the compiled
 * modules (dist/) or the sources (src/, under vitest), so no path here depends on which file
 * the code ended up in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let found: { root: string; version: string } | null = null;

function find(): { root: string; version: string } {
  if (found) return found;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const parsed = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'lmnr-keys') return (found = { root: dir, version: parsed.version ?? '0.0.0' });
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('the package.json of lmnr-keys was not found above its code');
    dir = parent;
  }
}

export function packageRoot(): string {
  return find().root;
}

export function packageVersion(): string {
  return find().version;
}
