#!/usr/bin/env -S node --
// The `--` stops Node 20 from taking our --env-file flag as its own (Node 20 reads it anywhere on the command line).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
