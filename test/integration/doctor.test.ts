import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, withDatabaseName, adminUrl, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addRawProviderKey, addSlack, addWorkspace, seal } from '../support/seed.js';
import { findLeaks, runCli, quiet } from '../support/cli.js';

const CURRENT = newKeyHex();
const OLD = newKeyHex();
const SLACK = newKeyHex();
const PLAINTEXTS = {
  ok: 'sk-proj-current-0123456789abcdef',
  default: 'AIzaSy-default-sealed-gemini-key',
  old: 'sk-ant-old-key-0123456789abcdef',
  wrongAad: 'gsk_wrong_aad_0123456789abcdef',
  dup: 'sk-proj-duplicate-0123456789',
  slackOk: 'xoxb-slack-ok-0123456789',
  slackAead: 'xoxb-slack-under-aead-0123456789',
  privateKey: 'cHJpdmF0ZS1rZXktYmFzZTY0LWVkMjU1MTk=',
  dataPlane: 'https://data-plane.internal.example',
};

let t: TestDatabase;
const ids: Record<string, string> = {};
let acme: string, beta: string, chatbot: string, search: string, ops: string;

beforeAll(async () => {
  t = await createTestDatabase();
  acme = await addWorkspace(t, 'Acme');
  beta = await addWorkspace(t, 'Beta');
  chatbot = await addProject(t, acme, 'Chatbot');
  search = await addProject(t, acme, 'Search');
  ops = await addProject(t, beta, 'Ops');

  ids.ok = await addProviderKey(t, chatbot, 'OPENAI_API_KEY', PLAINTEXTS.ok, CURRENT);
  ids.dup = await addProviderKey(t, chatbot, 'OPENAI_API_KEY', PLAINTEXTS.dup, CURRENT);
  ids.default = await addProviderKey(t, chatbot, 'GEMINI_API_KEY', PLAINTEXTS.default, DEFAULT_KEY_HEX);
  ids.old = await addProviderKey(t, chatbot, 'ANTHROPIC_API_KEY', PLAINTEXTS.old, OLD);
  ids.wrongAad = await addProviderKey(t, search, 'GROQ_API_KEY', PLAINTEXTS.wrongAad, CURRENT, { aad: 'OPENAI_API_KEY' });
  const good = await seal(CURRENT, 'x', 'MISTRAL_API_KEY');
  ids.malformedHex = await addRawProviderKey(t, search, 'MISTRAL_API_KEY', good.nonceHex, 'zz' + good.ciphertextHex.slice(2));
  ids.shortNonce = await addRawProviderKey(t, search, 'OPENAI_API_KEY', good.nonceHex.slice(0, 24), good.ciphertextHex);
  ids.empty = await addRawProviderKey(t, ops, 'AZURE_API_KEY', '', '');
  ids.notUtf8 = await addProviderKey(t, ops, 'OPENAI_API_KEY', new Uint8Array([0xff, 0xfe, 0x41]), CURRENT);

  // Deployments: Acme has a good private key and a half-set data-plane URL; Beta has nothing set
  // (NULL and ''); an orphan row (no workspace) is sealed with the public default.
  const privateKey = await seal(CURRENT, PLAINTEXTS.privateKey, acme);
  const dataPlane = await seal(CURRENT, PLAINTEXTS.dataPlane, acme);
  await addDeployment(t, acme, { privateKey, dataPlaneUrl: { ciphertextHex: dataPlane.ciphertextHex, nonceHex: '' } });
  await addDeployment(t, beta, { privateKey: { ciphertextHex: null, nonceHex: null }, dataPlaneUrl: { ciphertextHex: '', nonceHex: '' } });
  ids.orphan = randomUUID();
  await addDeployment(t, ids.orphan, { privateKey: await seal(DEFAULT_KEY_HEX, PLAINTEXTS.privateKey, ids.orphan) });

  ids.slackOk = await addSlack(t, acme, 'T0ACME', PLAINTEXTS.slackOk, SLACK);
  ids.slackAead = await addSlack(t, beta, 'T0BETA', PLAINTEXTS.slackAead, CURRENT);
});

afterAll(async () => {
  await t?.drop();
});

const baseEnv = () => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: CURRENT, SLACK_ENCRYPTION_KEY: SLACK, OLD_KEY: OLD });
const secretsOf = () => [
  CURRENT,
  OLD,
  SLACK,
  ...Object.values(PLAINTEXTS),
  new URL(adminUrl()).password,
  decodeURIComponent(new URL(adminUrl()).password),
];

describe('doctor on a broken Laminar database', () => {
  it('classifies every value exactly (JSON through the bin)', async () => {
    const result = await runCli(['doctor', '--json', '--candidate', 'env:OLD_KEY'], { env: baseEnv() });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ version: 1, command: 'doctor', ok: false });
    const byId = new Map<string, any>(report.findings.map((f: any) => [`${f.store}:${f.id}`, f]));
    const finding = (store: string, id: string) => byId.get(`${store}:${id}`);

    expect(finding('provider_api_keys', ids.ok!)).toBeUndefined();
    expect(finding('provider_api_keys', ids.default!)).toMatchObject({
      status: 'wrong_secret',
      decryptsWith: 'laminar-default',
      name: 'GEMINI_API_KEY',
      projectId: chatbot,
      workspaceId: acme,
      projectName: 'Chatbot',
      workspaceName: 'Acme',
    });
    expect(finding('provider_api_keys', ids.old!)).toMatchObject({ status: 'wrong_secret', decryptsWith: 'env:OLD_KEY' });
    expect(finding('provider_api_keys', ids.wrongAad!)).toMatchObject({ status: 'wrong_secret', decryptsWith: null });
    expect(finding('provider_api_keys', ids.malformedHex!)).toMatchObject({ status: 'malformed', detail: 'ciphertext is not hex' });
    expect(finding('provider_api_keys', ids.shortNonce!)).toMatchObject({ status: 'malformed', detail: 'nonce is 12 bytes, expected 24' });
    expect(finding('provider_api_keys', ids.empty!)).toMatchObject({ status: 'malformed' });
    expect(finding('provider_api_keys', ids.notUtf8!)).toMatchObject({ status: 'not_utf8', decryptsWith: null });
    expect(finding('workspace_deployments.data_plane_url', acme)).toMatchObject({ status: 'incomplete', workspaceName: 'Acme' });
    expect(finding('workspace_deployments.private_key', acme)).toBeUndefined();
    expect(finding('workspace_deployments.private_key', ids.orphan!)).toMatchObject({
      status: 'wrong_secret',
      decryptsWith: 'laminar-default',
      workspaceName: null,
    });
    expect(finding('slack_integrations', ids.slackAead!)).toMatchObject({
      status: 'wrong_secret',
      decryptsWith: 'AEAD_SECRET_KEY',
      workspaceId: beta,
    });
    expect(finding('slack_integrations', ids.slackOk!)).toBeUndefined();
    expect(report.findings).toHaveLength(10);

    const stores = Object.fromEntries(report.stores.map((s: any) => [s.store, s]));
    expect(stores.provider_api_keys).toMatchObject({ present: true, total: 9, ok: 2, failing: 7 });
    // Beta's pair is NULL/'' on both sides: not set, not counted.
    expect(stores['workspace_deployments.private_key']).toMatchObject({ total: 2, ok: 1, failing: 1 });
    expect(stores['workspace_deployments.data_plane_url']).toMatchObject({ total: 1, ok: 0, failing: 1 });
    expect(stores.slack_integrations).toMatchObject({ total: 2, ok: 1, failing: 1 });
    expect(report.summary).toEqual({ total: 14, ok: 4, failing: 10 });

    expect(report.warnings).toEqual([
      expect.objectContaining({
        kind: 'duplicate_name',
        projectId: chatbot,
        name: 'OPENAI_API_KEY',
        ids: expect.arrayContaining([ids.ok, ids.dup]),
        openingIds: expect.arrayContaining([ids.ok, ids.dup]),
      }),
    ]);
    expect(report.secrets).toEqual([
      expect.objectContaining({
        name: 'AEAD_SECRET_KEY',
        status: 'ok',
        fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
        problem: null,
      }),
      expect.objectContaining({ name: 'SLACK_ENCRYPTION_KEY', status: 'ok' }),
    ]);
    expect(findLeaks([result.stdout, result.stderr], secretsOf())).toEqual([]);
  });

  it('without the candidate, the older key is unknown', async () => {
    const result = await runCli(['doctor', '--json'], { env: baseEnv() });
    const report = JSON.parse(result.stdout);
    expect(report.findings.find((f: any) => f.id === ids.old)).toMatchObject({ status: 'wrong_secret', decryptsWith: null });
  });

  it('explains causes and next steps in human output, grouped by workspace and project', async () => {
    const result = await runCli(['doctor', '--candidate', 'env:OLD_KEY'], { env: baseEnv() });
    expect(result.code).toBe(1);
    const out = result.stdout;
    expect(out).toMatch(/Workspace "Acme" \(/);
    expect(out).toMatch(/Project "Chatbot" \(/);
    expect(out).toMatch(/GEMINI_API_KEY .*wrong_secret/);
    expect(out).toMatch(/sealed with Laminar's public default key/);
    expect(out).toContain('lmnr-keys rotate --from laminar-default --to env:AEAD_SECRET_KEY');
    expect(out).toContain('lmnr-keys rotate --from env:OLD_KEY --to env:AEAD_SECRET_KEY');
    expect(out).toContain('lmnr-keys rotate --store slack_integrations --from env:AEAD_SECRET_KEY --to env:SLACK_ENCRYPTION_KEY');
    expect(out).toMatch(/lmnr-keys set --project [0-9a-f-]+ --name GROQ_API_KEY/);
    expect(out).toMatch(/malformed: ciphertext is not hex/);
    expect(out).toMatch(/not UTF-8/);
    expect(out).toMatch(/half of the value is missing/);
    expect(out).toMatch(/2 rows for OPENAI_API_KEY/);
    expect(out).toMatch(/Verdict: problems found: 10 of 14 stored secrets cannot be used by Laminar/);
    expect(quiet(result.stderr)).toBe('');
    expect(findLeaks([result.stdout, result.stderr], secretsOf())).toEqual([]);
  });

  it('reports slack tokens as secret_missing when SLACK_ENCRYPTION_KEY is unset, naming the key that opens them', async () => {
    const result = await runCli(['doctor', '--json'], { env: { ...baseEnv(), SLACK_ENCRYPTION_KEY: undefined } });
    const report = JSON.parse(result.stdout);
    expect(report.secrets[1]).toMatchObject({ name: 'SLACK_ENCRYPTION_KEY', status: 'missing', fingerprint: null });
    const slack = report.findings.filter((f: any) => f.store === 'slack_integrations');
    expect(slack).toHaveLength(2);
    expect(slack.find((f: any) => f.id === ids.slackAead)).toMatchObject({ status: 'secret_missing', decryptsWith: 'AEAD_SECRET_KEY' });
    expect(slack.find((f: any) => f.id === ids.slackOk)).toMatchObject({ status: 'secret_missing', decryptsWith: null });
  });

  it('reads secrets from a candidate file and from stdin, labelling them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-cand-'));
    try {
      const file = path.join(dir, 'old.key');
      fs.writeFileSync(file, `${OLD}\n`, { mode: 0o600 });
      const fromFile = JSON.parse((await runCli(['doctor', '--json', '--candidate', `file:${file}`], { env: baseEnv() })).stdout);
      expect(fromFile.findings.find((f: any) => f.id === ids.old).decryptsWith).toBe(`file:${file}`);
      const fromStdin = JSON.parse(
        (await runCli(['doctor', '--json', '--candidate', 'laminar-default', '--candidate', '-'], { env: baseEnv(), input: `${OLD}\n` }))
          .stdout,
      );
      expect(fromStdin.findings.find((f: any) => f.id === ids.old).decryptsWith).toBe('candidate-2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a literal candidate with a warning on stderr, never echoing it', async () => {
    const result = await runCli(['doctor', '--json', '--candidate', OLD], { env: baseEnv() });
    expect(JSON.parse(result.stdout).findings.find((f: any) => f.id === ids.old).decryptsWith).toBe('candidate-1');
    expect(result.stderr).toMatch(/other users of this machine can read process arguments/);
    expect(findLeaks([result.stdout, result.stderr], [OLD])).toEqual([]);
  });
});

describe('doctor secrets and exit codes', () => {
  let healthy: TestDatabase;
  beforeAll(async () => {
    healthy = await createTestDatabase();
    const ws = await addWorkspace(healthy, 'Solo');
    const project = await addProject(healthy, ws, 'Only');
    await addProviderKey(healthy, project, 'OPENAI_API_KEY', 'sk-healthy-0123456789', CURRENT);
  });
  afterAll(async () => healthy?.drop());

  it('exits 0 on a healthy database', async () => {
    const result = await runCli(['doctor'], { env: { DATABASE_URL: healthy.url, AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Verdict: healthy/);
  });

  it('exits 2 on a usage error', async () => {
    const result = await runCli(['doctor', '--no-such-flag'], { env: { DATABASE_URL: healthy.url, AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option/);
  });

  it('exits 2 on a malformed --candidate, without echoing it', async () => {
    const result = await runCli(['doctor', '--candidate', 'not-a-key-but-maybe-secret'], {
      env: { DATABASE_URL: healthy.url, AEAD_SECRET_KEY: CURRENT },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('not-a-key-but-maybe-secret');
  });

  it.each([
    ['missing', undefined, /AEAD_SECRET_KEY is not set/],
    ['too short', 'ab'.repeat(31) + 'a', /must be 64 hex characters/],
    ['not hex', 'zz'.repeat(32), /must be 64 hex characters/],
  ])('exits 3 when AEAD_SECRET_KEY is %s', async (_what, value, message) => {
    const result = await runCli(['doctor', '--json'], { env: { DATABASE_URL: healthy.url, AEAD_SECRET_KEY: value } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/hint:/);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { exitCode: 3 } });
    if (value) expect(result.stderr + result.stdout).not.toContain(value);
  });

  it('exits 3 when no database is configured', async () => {
    const result = await runCli(['doctor'], { env: { AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/no database configured/);
  });

  it('exits 3 on a URL that is not a postgres URL', async () => {
    const result = await runCli(['doctor', '--database-url', 'mysql://u:hunter2pass@h/db'], { env: { AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(3);
    expect(result.stderr).not.toContain('hunter2pass');
  });

  it('needs_cleanup: carries on with the cleaned key and exits 1', async () => {
    const result = await runCli(['doctor', '--json'], { env: { DATABASE_URL: healthy.url, AEAD_SECRET_KEY: `${CURRENT}\r` } });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.secrets[0]).toMatchObject({ status: 'needs_cleanup' });
    expect(report.summary).toEqual({ total: 1, ok: 1, failing: 0 });
  });

  it('public default: loud warning, exit 0, and exit 1 with --strict', async () => {
    const db = await createTestDatabase();
    try {
      const ws = await addWorkspace(db, 'Default');
      const project = await addProject(db, ws, 'P');
      await addProviderKey(db, project, 'OPENAI_API_KEY', 'sk-under-default-0123', DEFAULT_KEY_HEX);
      const env = { DATABASE_URL: db.url, AEAD_SECRET_KEY: DEFAULT_KEY_HEX };
      const plain = await runCli(['doctor'], { env });
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/WARNING: AEAD_SECRET_KEY is Laminar's public default key/);
      expect(plain.stdout).toMatch(/under Laminar's PUBLIC default key/);
      expect((await runCli(['doctor', '--strict'], { env })).code).toBe(1);
    } finally {
      await db.drop();
    }
  });

  it('exits 4 when the database is unreachable, naming host, port and database', async () => {
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: 'postgres://postgres:s3cretpassword@127.0.0.1:1/laminar', AEAD_SECRET_KEY: CURRENT },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/127\.0\.0\.1:1\/laminar/);
    expect(result.stderr).toMatch(/connection refused/);
    expect(result.stderr).not.toContain('s3cretpassword');
  });

  it('exits 4 on a wrong password, never printing it', async () => {
    const url = new URL(healthy.url);
    url.password = 'definitely-wrong-password';
    const result = await runCli(['doctor', '--debug'], { env: { DATABASE_URL: url.toString(), AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/28P01|password authentication failed/);
    expect(result.stderr).not.toContain('definitely-wrong-password');
  });

  it('exits 4 when the database does not exist', async () => {
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: withDatabaseName(healthy.url, 'no_such_db'), AEAD_SECRET_KEY: CURRENT },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/database does not exist/);
  });

  it('reports tables of an older Laminar as not present', async () => {
    const db = await createTestDatabase();
    try {
      await db.query(
        'drop table slack_channel_projects; drop table slack_integrations; alter table workspace_deployments drop column data_plane_url',
      );
      const result = await runCli(['doctor', '--json'], { env: { DATABASE_URL: db.url, AEAD_SECRET_KEY: CURRENT } });
      expect(result.code).toBe(0);
      const stores = Object.fromEntries(JSON.parse(result.stdout).stores.map((s: any) => [s.store, s]));
      expect(stores.slack_integrations).toMatchObject({ present: false });
      expect(stores['workspace_deployments.data_plane_url']).toMatchObject({ present: false });
      expect(stores.provider_api_keys).toMatchObject({ present: true });
    } finally {
      await db.drop();
    }
  });

  it("works with Laminar's own compose .env as-is", async () => {
    const admin = new URL(adminUrl());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-env-'));
    try {
      // Laminar's .env shape: POSTGRES_* for the compose service, AEAD key, a bare `OPENAI_API_KEY` line.
      fs.writeFileSync(
        path.join(dir, 'laminar.env'),
        [
          `POSTGRES_USER=${decodeURIComponent(admin.username)}`,
          // Quoted: the harness password holds '#', which starts a comment in an unquoted .env value.
          `POSTGRES_PASSWORD="${decodeURIComponent(admin.password)}"`,
          `POSTGRES_DB=${healthy.name}`,
          'SHARED_SECRET_TOKEN=some_secret',
          `POSTGRES_PORT=${admin.port}`,
          '# must be exactly 32 bytes (64 hex characters)',
          `AEAD_SECRET_KEY=${CURRENT}`,
          '# OPENAI_API_KEY',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const result = await runCli(['doctor', '--env-file', path.join(dir, 'laminar.env')], { cwd: dir });
      expect(quiet(result.stderr)).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/Verdict: healthy/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs under a SELECT-only role, inside a read-only transaction; refuses when row-level security would hide rows', async () => {
    const role = `ro_${randomUUID().slice(0, 8)}`;
    const password = `ro-${randomUUID()}`;
    await healthy.query(`create role ${role} login password '${password}'`);
    await healthy.query(
      `grant connect on database ${healthy.name} to ${role}; grant usage on schema ` +
        `public to ${role}; grant select on all tables in schema public to ${role}`,
    );
    const url = new URL(healthy.url);
    url.username = role;
    url.password = password;
    // Laminar does not enable RLS on the tables lmnr-keys reads: SELECT is all it needs.
    const result = await runCli(['doctor', '--json'], { env: { DATABASE_URL: url.toString(), AEAD_SECRET_KEY: CURRENT } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).summary).toEqual({ total: 1, ok: 1, failing: 0 });
    // Should an operator enable it, a non-owner would silently see no rows: doctor refuses (exit 4)
    // instead of reporting a healthy, empty table.
    await healthy.query('alter table provider_api_keys enable row level security');
    try {
      const hidden = await runCli(['doctor', '--json'], { env: { DATABASE_URL: url.toString(), AEAD_SECRET_KEY: CURRENT } });
      expect(hidden.code).toBe(4);
      expect(hidden.stderr).toMatch(/row-level security on .*provider_api_keys.* would hide rows from role ro_/);
      expect(hidden.stderr).toMatch(/ALTER ROLE ro_\w+ BYPASSRLS/);
      await healthy.query(`alter role ${role} bypassrls`);
      const bypassing = await runCli(['doctor', '--json'], { env: { DATABASE_URL: url.toString(), AEAD_SECRET_KEY: CURRENT } });
      expect(bypassing.code).toBe(0);
    } finally {
      await healthy.query('alter table provider_api_keys disable row level security');
    }
    expect(result.stderr + result.stdout).not.toContain(password);
  });
});
