/**
 * What CI and monitoring keep from a run: --json-out (the document to a file, the human report on
 * stdout) and --metrics (Prometheus text for node_exporter's textfile collector) on doctor,
 * verify-provider and check-deployment, failed runs included.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addWorkspace, seal } from '../support/seed.js';
import { findLeaks, quiet, runCli } from '../support/cli.js';
import { readDocument } from '../support/schemas.js';
import { laminarDotenv, QUICKSTART_COMPOSE, writeFolder } from '../support/deployment.js';
import { startProviderImitation, type ImitationServer } from '../../src/demo/provider-imitation.js';
import { parseMetrics, promtoolCheck, sampleValues, type ParsedFamily } from '../support/prometheus.js';

const AEAD = newKeyHex();
const OTHER = newKeyHex();
const plaintexts: string[] = [];
let t: TestDatabase;
let imitation: ImitationServer;
let dir: string;

function providerKey(provider: string, scenario: string): string {
  const value = `${provider}-key-${scenario}-${randomBytes(8).toString('hex')}`;
  plaintexts.push(value);
  return value;
}

beforeAll(async () => {
  t = await createTestDatabase();
  imitation = await startProviderImitation();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-ci-'));
  const workspace = await addWorkspace(t, 'Acme');
  const project = await addProject(t, workspace, 'Chatbot');
  const other = await addProject(t, workspace, 'Search');
  await addProviderKey(t, project, 'OPENAI_API_KEY', providerKey('openai', 'ok'), AEAD);
  await addProviderKey(t, project, 'ANTHROPIC_API_KEY', providerKey('anthropic', 'invalid'), AEAD);
  await addProviderKey(t, other, 'OPENAI_API_KEY', providerKey('openai', 'quota'), AEAD);
  await addProviderKey(t, other, 'GEMINI_API_KEY', providerKey('gemini', 'ok'), DEFAULT_KEY_HEX);
  await addProviderKey(t, other, 'GROQ_API_KEY', providerKey('groq', 'ok'), OTHER);
  await addDeployment(t, workspace, {
    privateKey: await seal(AEAD, 'cHJpdmF0ZS1rZXk=', workspace),
    dataPlaneUrl: await seal(AEAD, 'https://plane.example', workspace),
  });
});

afterAll(async () => {
  await imitation?.close();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, ...extra });
const secrets = () => [AEAD, OTHER, ...plaintexts, new URL(adminUrl()).password];
/** A --json-out file, parsed and validated against its command's schema. */
const readJson = readDocument;
/** Nothing but the named files in the folder: no temporary file left behind. */
const filesIn = (folder: string) => fs.readdirSync(folder).sort();

describe('--json-out: the document to a file, the human report on stdout', () => {
  it('doctor: the file holds the --json document, stdout the human report', async () => {
    const out = path.join(dir, 'doctor');
    fs.mkdirSync(out);
    const both = await runCli(['doctor', '--json-out', path.join(out, 'doctor.json')], { env: env() });
    expect(both.code).toBe(1);
    expect(both.stdout).toMatch(/^Secrets\n/);
    expect(both.stdout).toMatch(/Verdict/);
    const json = await runCli(['doctor', '--json'], { env: env() });
    expect(json.code).toBe(1);
    expect(readJson(path.join(out, 'doctor.json'))).toEqual(JSON.parse(json.stdout));
    expect(filesIn(out)).toEqual(['doctor.json']);
    expect(findLeaks([both.stdout, both.stderr, fs.readFileSync(path.join(out, 'doctor.json'), 'utf8')], secrets())).toEqual([]);

    // --all streams its lines to stdout while the document streams to the file.
    const all = await runCli(['doctor', '--all', '--json-out', 'all.json'], { env: env(), cwd: out });
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/Values Laminar cannot use/);
    expect(readJson(path.join(out, 'all.json')).findings).toHaveLength(JSON.parse(json.stdout).findings.length);
  });

  it('verify-provider: the file holds the document; stdout the table; the JUnit file beside it', async () => {
    const out = path.join(dir, 'verify');
    fs.mkdirSync(out);
    const run = await runCli(['verify-provider', '--json-out', 'verify.json', '--junit', 'verify.xml', ...imitation.baseUrlFlags()], {
      env: env(),
      cwd: out,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/invalid_key|invalid key/);
    const doc = readJson(path.join(out, 'verify.json'));
    expect(doc).toMatchObject({ version: 1, command: 'verify-provider', ok: false });
    expect(doc.results.map((r: { status: string }) => r.status).sort()).toEqual(
      ['decode_failed', 'decode_failed', 'invalid_key', 'ok', 'quota_exceeded'].sort(),
    );
    expect(filesIn(out)).toEqual(['verify.json', 'verify.xml']);
    expect(findLeaks([run.stdout, run.stderr, JSON.stringify(doc)], secrets())).toEqual([]);
  });

  it('check-deployment: version 2 in the file, the tables on stdout', async () => {
    const folder = writeFolder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(AEAD) });
    try {
      const run = await runCli(['check-deployment', '--no-containers', '--json-out', 'deployment.json'], {
        env: { DATABASE_URL: t.url },
        cwd: folder.dir,
      });
      const doc = readJson(folder.file('deployment.json'));
      expect(run.stdout).toMatch(/docker compose files\n\s+SERVICE/);
      expect(doc).toMatchObject({ version: 2, command: 'check-deployment' });
      expect(run.code).toBe(doc.ok ? 0 : 1);
    } finally {
      folder.remove();
    }
  });

  it('a failed run still leaves its document: the database does not answer (exit 4)', async () => {
    const file = path.join(dir, 'failed.json');
    const run = await runCli(['doctor', '--json-out', file], {
      env: { DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres', AEAD_SECRET_KEY: AEAD },
    });
    expect(run.code).toBe(4);
    expect(quiet(run.stderr)).toMatch(/^error: /);
    const doc = readJson(file);
    expect(doc).toMatchObject({ version: 1, command: 'doctor', ok: false, error: { exitCode: 4 } });
    expect(run.stdout).toBe('');
  });

  it("a failed verify-provider replaces the last run's JUnit report with one saying it could not complete", async () => {
    const out = path.join(dir, 'stale');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'verify.xml'), '<testsuites name="yesterday"/>\n');
    const run = await runCli(['verify-provider', '--junit', 'verify.xml', '--json-out', 'verify.json'], {
      env: { DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres', AEAD_SECRET_KEY: AEAD },
      cwd: out,
    });
    expect(run.code).toBe(4);
    const report = fs.readFileSync(path.join(out, 'verify.xml'), 'utf8');
    expect(report).not.toContain('yesterday');
    expect(report).toMatch(/tests="1" failures="0" errors="1"/);
    expect(report).toMatch(
      /<testcase classname="lmnr-keys" name="verify-provider"><error message="the run could not complete: [^"]*127\.0\.0\.1/,
    );
    expect(readJson(path.join(out, 'verify.json'))).toMatchObject({ ok: false, error: { exitCode: 4 } });
    expect(filesIn(out)).toEqual(['verify.json', 'verify.xml']);
  });

  it('refuses --json with --json-out (exit 2) and a folder that does not exist (exit 3), in one line each', async () => {
    const both = await runCli(['doctor', '--json', '--json-out', path.join(dir, 'x.json')], { env: env() });
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stdout)).toMatchObject({ ok: false, error: { exitCode: 2 } });
    expect(both.stderr).toMatch(/--json-out and --json/);
    const missing = await runCli(['doctor', '--json-out', path.join(dir, 'no/such/folder/doctor.json')], { env: env() });
    expect(missing.code).toBe(3);
    expect(quiet(missing.stderr).split('\n')[0]).toMatch(/^error: .*no\/such\/folder/);
    expect(missing.stdout).toBe('');
  });
});

describe('--metrics: Prometheus text for the textfile collector', () => {
  const runSeries = (families: ParsedFamily[], command: string) => ({
    exitCode: sampleValues(families, 'lmnr_keys_last_run_exit_code', ['command']).get(command),
    lastRun: sampleValues(families, 'lmnr_keys_last_run_timestamp_seconds', ['command']).get(command),
    lastSuccess: sampleValues(families, 'lmnr_keys_last_success_timestamp_seconds', ['command']).get(command),
  });
  const checkWithPromtool = (text: string) => {
    const checked = promtoolCheck(text);
    if (checked === null) console.warn('*** promtool is not installed: the metrics were checked by the parser only ***');
    else expect(checked).toEqual({ code: 0, output: '' });
  };

  it('doctor: every store and status, equal to the JSON counts; a folder gets lmnr-keys-doctor.prom', async () => {
    const folder = path.join(dir, 'textfile');
    fs.mkdirSync(folder);
    const before = Date.now() / 1000;
    const run = await runCli(['doctor', '--metrics', folder, '--json-out', path.join(dir, 'doctor-metrics.json')], { env: env() });
    expect(run.code).toBe(1);
    expect(filesIn(folder)).toEqual(['lmnr-keys-doctor.prom']);
    const text = fs.readFileSync(path.join(folder, 'lmnr-keys-doctor.prom'), 'utf8');
    const families = parseMetrics(text);
    expect(families.map((f) => `${f.name} ${f.type}`)).toEqual([
      'lmnr_keys_stored_values GAUGE',
      'lmnr_keys_last_run_timestamp_seconds GAUGE',
      'lmnr_keys_last_run_exit_code GAUGE',
      'lmnr_keys_last_success_timestamp_seconds GAUGE',
    ]);
    const doc = readJson(path.join(dir, 'doctor-metrics.json'));
    const values = sampleValues(families, 'lmnr_keys_stored_values', ['store', 'status']);
    for (const store of doc.stores as Array<{ store: string; byStatus: Record<string, number> }>) {
      for (const [status, count] of Object.entries(store.byStatus)) expect(values.get(`${store.store},${status}`)).toBe(count);
    }
    expect(values.get('provider_api_keys,ok')).toBe(3);
    expect(values.get('provider_api_keys,wrong_secret')).toBe(2);
    expect(values.get('provider_api_keys,malformed')).toBe(0);
    const series = runSeries(families, 'doctor');
    expect(series.exitCode).toBe(1);
    expect(series.lastRun).toBeGreaterThanOrEqual(before);
    expect(series.lastSuccess).toBe(series.lastRun);
    checkWithPromtool(text);

    // A failed run (the database does not answer): only the run's series, the last success carried over.
    const failed = await runCli(['doctor', '--metrics', folder], {
      env: { DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres', AEAD_SECRET_KEY: AEAD },
    });
    expect(failed.code).toBe(4);
    const after = parseMetrics(fs.readFileSync(path.join(folder, 'lmnr-keys-doctor.prom'), 'utf8'));
    expect(after.map((f) => f.name)).not.toContain('lmnr_keys_stored_values');
    expect(runSeries(after, 'doctor')).toMatchObject({ exitCode: 4, lastSuccess: series.lastSuccess });
    expect(runSeries(after, 'doctor').lastRun).toBeGreaterThanOrEqual(series.lastRun!);

    // A flag commander refuses (exit 2) still writes the run's series.
    const refused = await runCli(['doctor', '--metrics', folder, '--no-such-flag'], { env: env() });
    expect(refused.code).toBe(2);
    expect(runSeries(parseMetrics(fs.readFileSync(path.join(folder, 'lmnr-keys-doctor.prom'), 'utf8')), 'doctor').exitCode).toBe(2);
    expect(filesIn(folder)).toEqual(['lmnr-keys-doctor.prom']);
  });

  it("verify-provider: every provider and status, equal to byProvider; never over another command's file", async () => {
    const file = path.join(dir, 'verify.prom');
    const run = await runCli(['verify-provider', '--metrics', file, '--json', ...imitation.baseUrlFlags()], { env: env() });
    expect(run.code).toBe(1);
    const doc = JSON.parse(run.stdout);
    const text = fs.readFileSync(file, 'utf8');
    const values = sampleValues(parseMetrics(text), 'lmnr_keys_provider_credentials', ['provider', 'status']);
    for (const [provider, statuses] of Object.entries(doc.byProvider as Record<string, Record<string, number>>)) {
      for (const [status, count] of Object.entries(statuses)) expect(values.get(`${provider},${status}`)).toBe(count);
    }
    expect(values.get('anthropic,invalid_key')).toBe(1);
    expect(values.get('openai,quota_exceeded')).toBe(1);
    expect(values.get('gemini,decode_failed')).toBe(1);
    expect(values.get('mistral,ok')).toBe(0);
    checkWithPromtool(text);
    expect(findLeaks([text], secrets())).toEqual([]);

    const clash = await runCli(['doctor', '--metrics', file], { env: env() });
    expect(clash.code).toBe(2);
    expect(quiet(clash.stderr)).toMatch(/holds the metrics of verify-provider: each command needs its own file/);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it('check-deployment: every finding kind, equal to the findings', async () => {
    const folder = writeFolder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(DEFAULT_KEY_HEX) });
    try {
      const run = await runCli(['check-deployment', '--no-containers', '--no-database', '--json', '--metrics', 'deployment.prom'], {
        cwd: folder.dir,
      });
      expect(run.code).toBe(1);
      const doc = JSON.parse(run.stdout);
      const text = fs.readFileSync(folder.file('deployment.prom'), 'utf8');
      const values = sampleValues(parseMetrics(text), 'lmnr_keys_deployment_findings', ['kind']);
      const byKind = new Map<string, number>();
      for (const finding of doc.findings as Array<{ kind: string }>) byKind.set(finding.kind, (byKind.get(finding.kind) ?? 0) + 1);
      for (const [kind, value] of values) expect(value).toBe(byKind.get(kind) ?? 0);
      expect(values.get('public_default')).toBeGreaterThan(0);
      checkWithPromtool(text);
    } finally {
      folder.remove();
    }
  });
});
