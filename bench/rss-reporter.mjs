// Loaded with `node --import` into a spawned lmnr-keys: writes its peak RSS (KB) where the bench asks.
import fs from 'node:fs';

const file = process.env.LMNR_KEYS_BENCH_RSS_FILE;
if (file) process.on('exit', () => fs.writeFileSync(file, String(process.resourceUsage().maxRSS)));
