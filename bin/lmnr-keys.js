#!/usr/bin/env -S node --max-old-space-size=1024 --
// `--` stops Node 20 from taking our --env-file flag as its own (it reads it anywhere on the command line).
// The 1 GB heap cap makes V8 collect before its heap balloons: peak memory stays flat over a million rows.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
