#!/bin/sh
":" //# ; exec node -- "$0" "$@"
// Line 2 is read by sh first (the no-op `:`, then exec), and by Node as a string and a comment.
// Why not `#!/usr/bin/env node`: Node 20 looks for its own --env-file anywhere on the command
// line (and dies on a missing file before any of our code runs) unless `--` precedes the
// script; `env -S node --` would pass it, but BusyBox's env (Alpine images) has no -S. Every
// /bin/sh (dash, bash, BusyBox ash) runs the line above. No V8 flags: memory is bounded by
// the program itself.
// The bundle `npm run build` makes (fast to start); the compiled modules when it could not make it
// (scripts/bundle.mjs: no esbuild binary on this platform); else the build never ran.
let main;
for (const entry of ['../dist/bundle/cli.js', '../dist/cli.js']) {
  try {
    ({ main } = await import(new URL(entry, import.meta.url).href));
    break;
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(entry.slice(3))) throw error;
  }
}
if (!main) {
  process.stderr.write('lmnr-keys: not built (dist/ is missing): run `npm run build` in its folder (npm ci runs it)\n');
  process.exit(3);
}

// stdout is written through file descriptor 1 (src/report/text-sink.ts, which handles EPIPE);
// stderr may lose its reader (a terminal closed by SIGHUP): the exit code still tells.
process.stderr.on('error', () => {});

process.exitCode = await main(process.argv);
