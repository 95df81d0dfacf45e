import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addProject, addProviderKey, addWorkspace } from '../support/seed.js';
import { findLeaks, runCli } from '../support/cli.js';
import { freePort } from '../support/embedded.js';
import { startProviderImitation, type ImitationServer, type Scenario } from '../../src/demo/provider-imitation.js';

const AEAD = newKeyHex();
const OTHER = newKeyHex();
let t: TestDatabase;
let imitation: ImitationServer;
let dir: string;
const plaintexts: string[] = [];
const projectOf = new Map<string, string>();

const EXPECTED: Record<Exclude<Scenario, 'hang' | 'echo'>, string> = {
  ok: 'ok',
  invalid: 'invalid_key',
  quota: 'quota_exceeded',
  rate: 'rate_limited',
  denied: 'access_denied',
  outage: 'provider_error',
  html: 'provider_error',
};

const PRIMARY: Record<string, string> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  gemini: 'GEMINI_API_KEY',
  groq: 'GROQ_API_KEY',
  mistral: 'MISTRAL_API_KEY',
  azure: 'AZURE_API_KEY',
  bedrock: 'AWS_ACCESS_KEY_ID',
};

function secretValue(provider: string, scenario: string): string {
  const value = `${provider}-key-${scenario}-${randomBytes(8).toString('hex')}`;
  plaintexts.push(value);
  return value;
}

let workspace: string;
let decodeFailedKey: string;

beforeAll(async () => {
  t = await createTestDatabase();
  imitation = await startProviderImitation();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-verify-'));
  workspace = await addWorkspace(t, 'Acme');
  for (const provider of Object.keys(PRIMARY)) {
    for (const scenario of Object.keys(EXPECTED)) {
      const project = await addProject(t, workspace, `${provider}-${scenario}`);
      projectOf.set(`${provider}-${scenario}`, project);
      await addProviderKey(t, project, PRIMARY[provider]!, secretValue(provider, scenario), AEAD);
      if (provider === 'azure') {
        await addProviderKey(t, project, 'OPENAI_AZURE_RESOURCE_ID', 'myresource', AEAD);
        await addProviderKey(t, project, 'OPENAI_AZURE_DEPLOYMENT_NAME', 'gpt-4o-mini', AEAD);
      }
      if (provider === 'bedrock' && scenario !== 'ok') {
        await addProviderKey(t, project, 'AWS_SECRET_ACCESS_KEY', secretValue('aws-secret', 'x'), AEAD);
        await addProviderKey(t, project, 'AWS_REGION', 'eu-west-1', AEAD);
      }
    }
  }
  // Decoding problems, incomplete and skipped credentials.
  const broken = await addProject(t, workspace, 'broken');
  projectOf.set('broken', broken);
  decodeFailedKey = secretValue('openai', 'ok');
  await addProviderKey(t, broken, 'OPENAI_API_KEY', decodeFailedKey, OTHER);
  await addProviderKey(t, broken, 'AZURE_API_KEY', secretValue('azure', 'ok'), AEAD);
  await addProviderKey(t, broken, 'OPENAI_AZURE_RESOURCE_ID', 'res', AEAD);
  await addProviderKey(t, broken, 'GOOGLE_SEARCH_API_KEY', secretValue('search', 'ok'), AEAD);
  await addProviderKey(t, broken, 'AWS_REGION', 'us-east-1', AEAD);
});

afterAll(async () => {
  await imitation?.close();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, ...extra });

describe('verify-provider against an imitation of all seven providers', () => {
  let doc: any;
  let run: { code: number | null; stdout: string; stderr: string };
  const junit = () => path.join(dir, 'verify.xml');

  beforeAll(async () => {
    imitation.log.length = 0;
    // The imitation's rate limits ask for 1 s: a cap of 1 s honours it (a shorter cap reports the wait instead of retrying early).
    run = await runCli(['verify-provider', '--json', '--max-retry-wait', '1000', '--junit', junit(), ...imitation.baseUrlFlags()], {
      env: env({ GITHUB_ACTIONS: 'true' }),
      cwd: dir,
    });
    doc = JSON.parse(run.stdout);
  });

  it('classifies every provider answer into its category', () => {
    expect(run.code).toBe(1);
    expect(doc).toMatchObject({ version: 1, command: 'verify-provider', ok: false });
    for (const provider of Object.keys(PRIMARY)) {
      for (const [scenario, status] of Object.entries(EXPECTED)) {
        const result = doc.results.find(
          (r: any) => r.projectId === projectOf.get(`${provider}-${scenario}`) && r.name === PRIMARY[provider],
        );
        expect({ provider, scenario, status: result?.status }).toEqual({ provider, scenario, status });
        expect(result.provider).toBe(provider);
        expect(result.workspaceId).toBe(workspace);
      }
    }
  });

  it('reports HTTP status, retry-after and the provider message with the key echo redacted', () => {
    const rate = doc.results.find((r: any) => r.projectId === projectOf.get('openai-rate'));
    expect(rate).toMatchObject({ httpStatus: 429, retryAfterSeconds: 1 });
    const gemini = doc.results.find((r: any) => r.projectId === projectOf.get('gemini-rate'));
    expect(gemini.retryAfterSeconds).toBe(1);
    const invalid = doc.results.find((r: any) => r.projectId === projectOf.get('openai-invalid'));
    expect(invalid.detail).toMatch(/Incorrect API key provided: \[redacted\]/);
    expect(invalid.httpStatus).toBe(401);
  });

  it('retries transient answers once and does not retry permanent ones', () => {
    const calls = (project: string) =>
      imitation.log.filter((l) => l.key.includes(`-${project.split('-')[1]}-`) && l.provider === project.split('-')[0]).length;
    expect(calls('openai-rate')).toBe(2);
    expect(calls('openai-outage')).toBe(2);
    expect(calls('openai-quota')).toBe(1);
    expect(calls('openai-invalid')).toBe(1);
  });

  it("sends requests in each provider's documented shape", () => {
    const byProvider = (p: string) => imitation.log.find((l) => l.provider === p && l.key.includes('-ok-'))!;
    expect(byProvider('openai')).toMatchObject({ method: 'POST', path: '/chat/completions' });
    expect(JSON.parse(byProvider('openai').body)).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 1 });
    expect(byProvider('anthropic').path).toBe('/messages');
    expect(byProvider('gemini').path).toBe('/models/gemini-2.5-flash-lite:generateContent');
    expect(byProvider('azure').path).toBe('/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
    expect(byProvider('bedrock').path).toBe('/model/amazon.nova-micro-v1%3A0/converse');
    // Bedrock with a secret key is signed with SigV4; without one the key goes as a bearer token.
    const signed = imitation.log.find((l) => l.provider === 'bedrock' && l.key.includes('-quota-'))!;
    expect(signed.key).toMatch(/^bedrock-key-quota-/);
  });

  it('folds companions, and reports decode failures, incomplete and skipped credentials without sending them', () => {
    const broken = doc.results.filter((r: any) => r.projectId === projectOf.get('broken'));
    const byName = Object.fromEntries(broken.map((r: any) => [r.name, r]));
    expect(byName.OPENAI_API_KEY).toMatchObject({ status: 'decode_failed', httpStatus: null });
    expect(byName.OPENAI_API_KEY.detail).toMatch(/wrong_secret/);
    expect(byName.AZURE_API_KEY).toMatchObject({ status: 'incomplete_credentials' });
    expect(byName.AZURE_API_KEY.detail).toMatch(/OPENAI_AZURE_DEPLOYMENT_NAME is not stored/);
    expect(byName.GOOGLE_SEARCH_API_KEY).toMatchObject({ status: 'skipped' });
    expect(byName.AWS_REGION).toMatchObject({ status: 'skipped' });
    expect(byName.OPENAI_AZURE_RESOURCE_ID).toBeUndefined();
    expect(doc.results.filter((r: any) => r.name === 'OPENAI_AZURE_DEPLOYMENT_NAME')).toEqual([]);
    // No request carried the undecryptable key, nor anything for incomplete credentials.
    expect(imitation.log.filter((l) => l.key === decodeFailedKey)).toEqual([]);
    expect(imitation.log.filter((l) => l.provider === 'azure' && !l.path.includes('gpt-4o-mini'))).toEqual([]);
    expect(doc.summary.decode_failed).toBe(1);
  });

  it('writes JUnit and GitHub annotations, with no key anywhere', () => {
    const xml = fs.readFileSync(junit(), 'utf8');
    expect(xml).toMatch(/<testsuites name="lmnr-keys verify-provider" tests="\d+" failures="\d+"/);
    expect(xml).toMatch(/<failure type="quota_exceeded"/);
    expect(xml).toMatch(/<skipped/);
    expect(run.stderr).toMatch(/^::error title=lmnr-keys openai OPENAI_API_KEY::/m);
    expect(findLeaks([xml, run.stdout, run.stderr], [AEAD, ...plaintexts])).toEqual([]);
  });

  it('human output groups by project and says what each status means', async () => {
    const human = await runCli(['verify-provider', '--max-retry-wait', '50', '--provider', 'openai', ...imitation.baseUrlFlags()], {
      env: env(),
      cwd: dir,
    });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/Project "openai-quota"/);
    expect(human.stdout).toMatch(/quota exhausted\s+429/);
    expect(human.stdout).toMatch(/cannot decrypt \(nothing sent\)/);
    expect(findLeaks([human.stdout, human.stderr], plaintexts)).toEqual([]);
  });

  it('--fail-on narrows what fails the run', async () => {
    const project = projectOf.get('openai-rate')!;
    const strict = await runCli(['verify-provider', '--project', project, '--max-retry-wait', '10', ...imitation.baseUrlFlags()], {
      env: env(),
      cwd: dir,
    });
    expect(strict.code).toBe(1);
    const lenient = await runCli(
      [
        'verify-provider',
        '--project',
        project,
        '--max-retry-wait',
        '10',
        '--fail-on',
        'invalid_key,quota_exceeded,decode_failed',
        ...imitation.baseUrlFlags(),
      ],
      { env: env(), cwd: dir },
    );
    expect(lenient.code).toBe(0);
    const healthy = await runCli(['verify-provider', '--project', projectOf.get('anthropic-ok')!, ...imitation.baseUrlFlags()], {
      env: env(),
      cwd: dir,
    });
    expect(healthy.code).toBe(0);
  });

  it('--probe auth uses key-only endpoints and says quota was not checked', async () => {
    imitation.log.length = 0;
    const result = await runCli(
      ['verify-provider', '--json', '--probe', 'auth', '--project', projectOf.get('gemini-ok')!, ...imitation.baseUrlFlags()],
      { env: env(), cwd: dir },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).results[0].detail).toMatch(/quota not checked/);
    expect(imitation.log[0]).toMatchObject({ method: 'GET', path: '/models' });
  });

  it("warns when keys go to a host that is not the provider's own", async () => {
    const result = await runCli(['verify-provider', '--project', projectOf.get('openai-ok')!, ...imitation.baseUrlFlags()], {
      env: env(),
      cwd: dir,
    });
    expect(result.stderr).toMatch(/openai keys will be sent to 127\.0\.0\.1:\d+, which is not openai's own API host/);
  });

  it('network_error for a closed port and for a server that never answers, within the timeout', async () => {
    const closedPort = await freePort(); // nothing listens there
    const closed = await runCli(
      [
        'verify-provider',
        '--json',
        '--project',
        projectOf.get('openai-ok')!,
        '--base-url',
        `openai=http://127.0.0.1:${closedPort}/v1`,
        '--max-retry-wait',
        '10',
      ],
      { env: env(), cwd: dir },
    );
    expect(JSON.parse(closed.stdout).results[0]).toMatchObject({
      status: 'network_error',
      httpStatus: null,
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
    const hangProject = await addProject(t, workspace, 'hang');
    await addProviderKey(t, hangProject, 'OPENAI_API_KEY', secretValue('openai', 'hang'), AEAD);
    const started = Date.now();
    const hang = await runCli(
      ['verify-provider', '--json', '--project', hangProject, '--timeout', '400', '--max-retry-wait', '10', ...imitation.baseUrlFlags()],
      { env: env(), cwd: dir },
    );
    expect(JSON.parse(hang.stdout).results[0]).toMatchObject({ status: 'network_error', detail: 'no answer within 400 ms' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('--key checks one key without any database', async () => {
    const key = secretValue('openai', 'quota');
    const result = await runCli(
      ['verify-provider', '--provider', 'openai', '--key', 'env:CI_OPENAI_KEY', '--json', ...imitation.baseUrlFlags()],
      { env: { CI_OPENAI_KEY: key }, cwd: dir },
    );
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).results).toEqual([
      expect.objectContaining({ provider: 'openai', status: 'quota_exceeded', httpStatus: 429, projectId: null }),
    ]);
    const literal = await runCli(['verify-provider', '--provider', 'openai', '--key', key], { env: {}, cwd: dir });
    expect(literal.code).toBe(2);
    expect(literal.stderr).not.toContain(key);
  });
});

describe('verify-provider at scale', () => {
  // Speed is proven by `npm run bench` (1,000 credentials at 100 ms each), not by timing a test:
  // here we check what makes it fast, that --concurrency requests really are in flight at once.
  it('keeps --concurrency requests in flight at once, and no more', async () => {
    const slow = await startProviderImitation({ latencyMs: 100 });
    const db = await createTestDatabase();
    try {
      const ws = await addWorkspace(db, 'Big');
      const projects: string[] = [],
        ids: string[] = [],
        names: string[] = [],
        nonces: string[] = [],
        values: string[] = [];
      const { sealToText, encodeAad, loadCipher } = await import('../../src/crypto/aead.js');
      await loadCipher();
      for (let i = 0; i < 120; i++) {
        const project = randomUUID();
        projects.push(project);
        const sealed = sealToText(Buffer.from(AEAD, 'hex'), new TextEncoder().encode(`sk-bulk-ok-${i}`), encodeAad('OPENAI_API_KEY'));
        ids.push(randomUUID());
        names.push('OPENAI_API_KEY');
        nonces.push(sealed.nonceHex);
        values.push(sealed.ciphertextHex);
      }
      await db.query(`insert into projects (id, name, workspace_id) select p, 'p', $2 from unnest($1::uuid[]) p`, [projects, ws]);
      await db.query(
        'insert into provider_api_keys (id, project_id, name, nonce_hex, value) select * from ' +
          'unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])',
        [ids, projects, names, nonces, values],
      );
      const result = await runCli(['verify-provider', '--json', '--concurrency', '12', '--base-url', `openai=${slow.url}/openai`], {
        env: { DATABASE_URL: db.url, AEAD_SECRET_KEY: AEAD },
      });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).summary).toEqual({ ok: 120 });
      expect(slow.log).toHaveLength(120);
      expect(slow.maxInFlight()).toBe(12);
    } finally {
      await slow.close();
      await db.drop();
    }
  });
});

describe('what must never leave, and what must never reach the terminal', () => {
  it("a key sealed under Laminar's public default key while the current key is another: decode_failed, and no request carries it", async () => {
    const project = await addProject(t, workspace, 'sealed-under-default');
    const value = secretValue('openai', 'ok');
    await addProviderKey(t, project, 'OPENAI_API_KEY', value, DEFAULT_KEY_HEX);
    imitation.log.length = 0;
    const run = await runCli(['verify-provider', '--json', '--project', project, ...imitation.baseUrlFlags()], { env: env(), cwd: dir });
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout).results.find((r: any) => r.projectId === project);
    expect(result).toMatchObject({ status: 'decode_failed', provider: 'openai' });
    expect(result.detail).toMatch(/sealed with Laminar's public default key.*nothing was sent/);
    expect(imitation.log.filter((l) => l.key.includes(value))).toEqual([]);
    expect(imitation.log).toEqual([]);
  });

  it('an echo of the key only the last redaction pass knows (base64, upper case, a piece) reaches no output path: human, JSON, --debug, JUnit, annotations', async () => {
    const project = await addProject(t, workspace, 'echoes');
    const value = secretValue('openai', 'echo');
    await addProviderKey(t, project, 'OPENAI_API_KEY', value, AEAD);
    const forms = [Buffer.from(`user:${value}`).toString('base64').slice(8, 40), value.toUpperCase().slice(2, 20)];
    const outputs: string[] = [];
    for (const args of [['--json', '--junit', path.join(dir, 'echo.xml')], ['--debug'], ['--all']]) {
      const run = await runCli(['verify-provider', '--project', project, ...args, ...imitation.baseUrlFlags()], {
        env: env({ GITHUB_ACTIONS: 'true' }),
        cwd: dir,
      });
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).toMatch(/invalid key|invalid_key/);
      outputs.push(run.stdout, run.stderr);
    }
    outputs.push(fs.readFileSync(path.join(dir, 'echo.xml'), 'utf8'));
    expect(outputs.join('\n')).toMatch(/\[redacted\]/);
    for (const form of forms) for (const text of outputs) expect(text.toLowerCase()).not.toContain(form.toLowerCase());
  });
});
