#!/bin/sh
":" //# ; exec node -- "$0" "$@"
// Line 2 is read by sh first (the no-op `:`, then exec), and by Node as a string and a comment.
// Why not `#!/usr/bin/env node`: Node 20 looks for its own --env-file anywhere on the command
// line (and dies on a missing file before any of our code runs) unless `--` precedes the
// script; `env -S node --` would pass it, but BusyBox's env (Alpine images) has no -S. Every
// /bin/sh (dash, bash, BusyBox ash) runs the line above. No V8 flags: memory is bounded by
// the program itself.
import { main } from '../dist/bundle/cli.js';

// `lmnr-keys ... | head` closes stdout early: that is the reader's choice, not a crash.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv);
