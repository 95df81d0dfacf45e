/**
 * What CI and monitoring keep from a run: --json-out (the document to a file, the human report on
 * stdout) on doctor, verify-provider and check-deployment, failed runs included.
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
import { laminarDotenv, QUICKSTART_COMPOSE, writeFolder } from '../support/deployment.js';
import { startProviderImitation, type ImitationServer } from '../../src/demo/provider-imitation.js';

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
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
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
