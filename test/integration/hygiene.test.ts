/**
 * Secret hygiene and least privilege. Every command, human and JSON, on success and failure
 * paths, with --debug: no key, plaintext or password in stdout, stderr, backups or JUnit files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addRawProviderKey, addSlack, addWorkspace, seal } from '../support/seed.js';
import { findLeaks, runCli, type CliResult } from '../support/cli.js';
import { startProviderImitation, type ImitationServer } from '../../src/demo/provider-imitation.js';
import { openAll } from '../support/verify.js';

const AEAD = newKeyHex();
const OLD = newKeyHex();
const NEW = newKeyHex();
const SLACK = newKeyHex();
const LOST = newKeyHex();
const PLAINTEXTS = [
  'sk-hygiene-ok-5f1d2c3b4a',
  'sk-hygiene-quota-9e8d7c6b',
  'sk-hygiene-invalid-1a2b3c',
  'AIza-hygiene-old-4d5e6f7a',
  'sk-ant-hygiene-lost-8b9c0d',
  'xoxb-hygiene-slack-1f2e3d',
  'https://hygiene-data-plane.example',
  'sk-hygiene-set-value-77aa88',
];
let t: TestDatabase;
let dir: string;
let imitation: ImitationServer;
let project: string;
const outputs: CliResult[] = [];

const dbPassword = () => decodeURIComponent(new URL(adminUrl()).password);
const secrets = () => [AEAD, OLD, NEW, SLACK, LOST, ...PLAINTEXTS, dbPassword(), new URL(adminUrl()).password];

beforeAll(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-hygiene-'));
  imitation = await startProviderImitation();
  const ws = await addWorkspace(t, 'Acme');
  project = await addProject(t, ws, 'P');
  const other = await addProject(t, ws, 'Q');
  const third = await addProject(t, ws, 'R');
  await addProviderKey(t, project, 'OPENAI_API_KEY', PLAINTEXTS[0]!, AEAD);
  await addProviderKey(t, other, 'OPENAI_API_KEY', PLAINTEXTS[1]!, AEAD);
  await addProviderKey(t, third, 'OPENAI_API_KEY', PLAINTEXTS[2]!, AEAD);
  await addProviderKey(t, project, 'GEMINI_API_KEY', PLAINTEXTS[3]!, OLD);
  await addProviderKey(t, project, 'ANTHROPIC_API_KEY', PLAINTEXTS[4]!, LOST);
  await addProviderKey(t, project, 'MISTRAL_API_KEY', 'sk-under-default-0a0b0c', DEFAULT_KEY_HEX);
  await addRawProviderKey(t, project, 'GROQ_API_KEY', 'zz', 'zz');
  await addSlack(t, ws, 'T0', PLAINTEXTS[5]!, AEAD);
  await addDeployment(t, ws, { dataPlaneUrl: await seal(OLD, PLAINTEXTS[6]!, ws) });
});

afterAll(async () => {
  await imitation.close();
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('no secret in any output', () => {
  const env = () => ({
    DATABASE_URL: t.url,
    AEAD_SECRET_KEY: AEAD,
    SLACK_ENCRYPTION_KEY: SLACK,
    OLD_KEY: OLD,
    NEW_KEY: NEW,
    SET_VALUE: PLAINTEXTS[7]!,
  });

  it('every command, human and JSON, success and failure, with --debug', async () => {
    const commands: string[][] = [
      ['doctor', '--candidate', 'env:OLD_KEY'],
      ['doctor', '--candidate', OLD],
      ['doctor', '--candidate', '-'],
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--from', 'env:OLD_KEY', '--to', 'env:NEW_KEY', '--dry-run'],
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY'],
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:AEAD_SECRET_KEY', '--yes'],
      ['verify-provider', '--max-retry-wait', '10', '--junit', path.join(dir, 'junit.xml'), '--base-url', `openai=${imitation.url}/openai`],
      ['verify-provider', '--provider', 'openai', '--key', 'env:SET_VALUE', '--base-url', `openai=${imitation.url}/openai`],
      ['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:SET_VALUE', '--dry-run'],
      ['quarantine', '--dry-run', '--candidate', 'env:OLD_KEY'],
      ['quarantine'],
      ['restore', path.join(dir, 'missing.jsonl')],
    ];
    for (const args of commands) {
      for (const json of [false, true]) {
        const result = await runCli([...args, ...(json ? ['--json'] : []), '--debug'], { env: env(), cwd: dir, input: `${OLD}\n` });
        outputs.push(result);
        if (json) expect(() => JSON.parse(result.stdout), args.join(' ')).not.toThrow();
      }
    }
    // Failure paths: wrong password, unreachable server, invalid key, bad reference.
    const wrong = new URL(t.url);
    wrong.password = 'Wrong-Password-Hygiene-1';
    outputs.push(await runCli(['doctor', '--debug'], { env: { ...env(), DATABASE_URL: wrong.toString() }, cwd: dir }));
    outputs.push(await runCli(['doctor', '--debug', '--json'], { env: { ...env(), AEAD_SECRET_KEY: AEAD.slice(1) }, cwd: dir }));
    outputs.push(
      await runCli(['rotate', '--debug', '--from', 'env:AEAD_SECRET_KEY', '--to', LOST.slice(2), '--yes'], { env: env(), cwd: dir }),
    );
    // Writes that succeed, with backups: rotate, set, quarantine, restore.
    outputs.push(
      await runCli(
        [
          'rotate',
          '--debug',
          '--from',
          'env:AEAD_SECRET_KEY',
          '--from',
          'env:OLD_KEY',
          '--to',
          'env:NEW_KEY',
          '--yes',
          '--backup',
          'rotate.jsonl',
        ],
        { env: env(), cwd: dir },
      ),
    );
    outputs.push(
      await runCli(
        ['set', '--debug', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:SET_VALUE', '--yes', '--backup', 'set.jsonl'],
        { env: { ...env(), AEAD_SECRET_KEY: NEW }, cwd: dir },
      ),
    );
    outputs.push(
      await runCli(['quarantine', '--debug', '--yes', '--backup', 'quarantine.jsonl'], {
        env: { ...env(), AEAD_SECRET_KEY: NEW },
        cwd: dir,
      }),
    );
    outputs.push(await runCli(['restore', '--debug', 'quarantine.jsonl', '--yes'], { env: env(), cwd: dir }));
    outputs.push(await runCli(['gen-secret', '--debug'], { env: env(), cwd: dir }));
    outputs.push(await runCli(['gen-secret', '--debug', '--out', 'fresh.key'], { env: env(), cwd: dir }));
    outputs.push(await runCli(['save-key', '--debug', 'env:OLD_KEY', '--out', 'old.key'], { env: env(), cwd: dir }));

    // Key files hold a key by design (gen-secret --out, save-key --out); every other file is searched.
    const files = fs
      .readdirSync(dir)
      .filter((f) => !f.endsWith('.key'))
      .map((f) => path.join(dir, f));
    for (const file of files.filter((f) => f.endsWith('.jsonl'))) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(files.some((f) => f.endsWith('junit.xml'))).toBe(true);
    const texts = [...outputs.flatMap((o) => [o.stdout, o.stderr]), ...files.map((f) => fs.readFileSync(f, 'utf8'))];
    expect(texts.join('').length).toBeGreaterThan(10_000);
    expect(findLeaks(texts, secrets())).toEqual([]);
    // And the data really moved: the rotation happened, the set value is in place.
    expect([...(await openAll(t, [NEW])).values()].some((v) => v.plaintext === PLAINTEXTS[7])).toBe(true);
  });
});

describe('least privilege', () => {
  async function role(grants: string[]): Promise<string> {
    const name = `r_${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    await t.query(`create role ${name} login password '${password}'`);
    await t.query(`grant connect on database ${t.name} to ${name}; grant usage on schema public to ${name}`);
    for (const grant of grants) await t.query(grant.replaceAll('ROLE', name));
    const url = new URL(t.url);
    url.username = name;
    url.password = password;
    return url.toString();
  }
  const READ =
    'grant select on provider_api_keys, workspace_deployments, slack_integrations, slack_channel_projects, projects, workspaces to ROLE';

  it('doctor and verify-provider run with SELECT only; rotate is refused there with exit 4', async () => {
    const url = await role([READ]);
    const env = { DATABASE_URL: url, AEAD_SECRET_KEY: NEW, SLACK_ENCRYPTION_KEY: SLACK };
    expect([0, 1]).toContain((await runCli(['doctor'], { env, cwd: dir })).code);
    expect([0, 1]).toContain(
      (await runCli(['verify-provider', '--max-retry-wait', '10', '--base-url', `openai=${imitation.url}/openai`], { env, cwd: dir })).code,
    );
    const rotate = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:OTHER', '--yes', '--no-backup'], {
      env: { ...env, OTHER: newKeyHex() },
      cwd: dir,
    });
    expect(rotate.code, rotate.stderr).toBe(4);
    expect(rotate.stderr).toMatch(/permission denied/);
    // Postgres's own words name what the role lacks.
    expect(rotate.stderr).toMatch(/permission denied for table (provider_api_keys|workspace_deployments)/);
    // Every dry run plans on a plain read-only connection without the lock: it works under SELECT only.
    const dryRuns = [
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:OTHER', '--dry-run'],
      ['quarantine', '--dry-run'],
      ['set', '--project', project, '--name', 'OPENAI_API_KEY', '--dry-run'],
      ['restore', path.join(dir, 'quarantine.jsonl'), '--dry-run'],
    ];
    for (const args of dryRuns) {
      const result = await runCli(args, { env: { ...env, OTHER: newKeyHex() }, cwd: dir });
      expect(result.stderr, args.join(' ')).not.toMatch(/permission denied/);
      expect([0, 1], `${args.join(' ')}: ${result.stderr}`).toContain(result.code);
    }
  });

  it('rotate needs UPDATE on the sealed columns only (the README grants)', async () => {
    const url = await role([
      READ,
      'grant update (value, nonce_hex) on provider_api_keys to ROLE',
      'grant update (private_key, private_key_nonce, data_plane_url, data_plane_url_nonce) on workspace_deployments to ROLE',
    ]);
    const next = newKeyHex();
    const result = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEXT', '--yes', '--json', '--no-backup'], {
      env: { DATABASE_URL: url, AEAD_SECRET_KEY: NEW, NEXT: next },
      cwd: dir,
    });
    expect(result.stderr).not.toMatch(/permission denied/);
    expect(JSON.parse(result.stdout).summary.rotated).toBeGreaterThan(0);
  });
});
