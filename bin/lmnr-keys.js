#!/usr/bin/env node
// Started with no Node flags: memory stays flat by design (streaming, bounded batches), not by a V8 setting.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv);
