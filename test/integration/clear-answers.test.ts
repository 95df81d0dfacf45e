/**
 * Clear answers at 3 a.m.: advice that fits the situation, nothing accepted silently, no raw
 * SQL error where a sentence belongs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addProviderKey, addSlack, addWorkspace } from '../support/seed.js';
import { runCli } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const AEAD = newKeyHex();
const SLACK = newKeyHex();
const NEW = newKeyHex();
let t: TestDatabase;
let dir: string;
let workspace: string;
let project: string;
const env = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  AEAD_SECRET_KEY: AEAD,
  SLACK_ENCRYPTION_KEY: SLACK,
  NEW_KEY: NEW,
  ...extra,
});

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-answers-'));
  workspace = await addWorkspace(t, 'Acme');
  project = await addProject(t, workspace, 'Chatbot');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('doctor while another lmnr-keys writer runs', () => {
  it('says a rotation holds the lock, and does not advise quarantine meanwhile', async () => {
    await addManyProviderKeys(t, project, 3, newKeyHex());
    const holder = new pg.Client({ connectionString: t.url, application_name: 'lmnr-keys rotate' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [0x6c6d6e72, 0x6b657973]);
      const result = await runCli(['doctor'], { env: env(), cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/An lmnr-keys writer is running on this database right now \(lmnr-keys rotate, backend pid \d+/);
      expect(result.stdout).not.toMatch(/lmnr-keys quarantine/);
      const json = JSON.parse((await runCli(['doctor', '--json'], { env: env(), cwd: dir })).stdout);
      expect(json.writer).toMatchObject({ purpose: 'lmnr-keys rotate' });
      expect(json.verdict.quarantineAdvisable).toBe(false);
    } finally {
      await holder.end();
    }
    const after = await runCli(['doctor', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(after.stdout).writer).toBeNull();
  });

  it('does not see a writer that holds the lock on another database of the same server', async () => {
    await addManyProviderKeys(t, project, 1, AEAD);
    const other = await createTestDatabase();
    const holder = new pg.Client({ connectionString: other.url, application_name: 'lmnr-keys rotate' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [0x6c6d6e72, 0x6b657973]);
      const json = JSON.parse((await runCli(['doctor', '--json'], { env: env(), cwd: dir })).stdout);
      expect(json.writer).toBeNull();
    } finally {
      await holder.end();
      await other.drop();
    }
  });
});

describe('Slack tokens sealed with the AEAD key', () => {
  it('rotate says they stay under the old key when slack_integrations is not named, and its runbook re-seals them', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-aead-0123456789', AEAD);
    await addSlack(t, workspace, 'T0ACME', 'xoxb-under-aead-0123', AEAD);
    const plan = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--dry-run', '--json'], {
      env: env(),
      cwd: dir,
    });
    expect(JSON.parse(plan.stdout).slackLeftUnderFrom).toBe(1);
    const human = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes'], { env: env(), cwd: dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/1 Slack token opens under a --from key and stays under it/);
    expect(human.stdout).toMatch(
      /and the 1 Slack token under the old key, .*: lmnr-keys rotate --store slack_integrations --from file:\S+old-AEAD_SECRET_KEY-\w{8}\.key --to env:SLACK_ENCRYPTION_KEY --yes/,
    );
  });
});

describe('duplicates', () => {
  it('set --keep keeps an existing row that opens and removes the others, backed up; the doctor hint says so', async () => {
    const good = await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-keep-me-0123456', AEAD);
    const stale = await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-stale-01234567', newKeyHex());
    const doctor = await runCli(['doctor', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(doctor.stdout).warnings[0].detail).toMatch(new RegExp(`--keep ${good}`));
    // With --env-file, the command in the JSON detail repeats it, as the human output does.
    fs.writeFileSync(path.join(dir, 'dup.env'), '# nothing needed here\n');
    const withFile = await runCli(['doctor', '--json', '--env-file', 'dup.env'], { env: env(), cwd: dir });
    expect(JSON.parse(withFile.stdout).warnings[0].detail).toMatch(/lmnr-keys set --env-file dup\.env --project /);
    const refused = await runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--keep', stale, '--yes'], {
      env: env(),
      cwd: dir,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/does not open under the current AEAD_SECRET_KEY/);
    const kept = await runCli(
      ['set', '--project', project, '--name', 'OPENAI_API_KEY', '--keep', good, '--yes', '--json', '--backup', 'keep.jsonl'],
      { env: env(), cwd: dir },
    );
    expect(kept.code).toBe(0);
    expect(JSON.parse(kept.stdout)).toMatchObject({ keptId: good, newId: null, replaced: [stale] });
    expect([...(await snapshotProviderKeys(t)).keys()]).toEqual([good]);
    expect((await openAll(t, [AEAD])).get(good)).toEqual({ plaintext: 'sk-keep-me-0123456', keyIndex: 0 });
    const restored = await runCli(['restore', 'keep.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(restored.stdout)).toMatchObject({ ok: true, restored: 1 });
  });

  it('a newer duplicate that only another known key opens: re-seal first, no --keep that would drop it', async () => {
    const older = await addProviderKey(t, project, 'GROQ_API_KEY', 'gsk-older-0123456', AEAD);
    const newest = await addProviderKey(t, project, 'GROQ_API_KEY', 'gsk-newest-012345', DEFAULT_KEY_HEX);
    await t.query(`update provider_api_keys set created_at = now() - interval '1 day' where id = $1`, [older]);
    const doctor = await runCli(['doctor', '--json'], { env: env(), cwd: dir });
    const warning = JSON.parse(doctor.stdout).warnings[0];
    expect(warning).toMatchObject({ ids: [newest, older], openingIds: [older], recoverableIds: [newest] });
    expect(warning.detail).toMatch(new RegExp(`The newest \\(${newest}\\) opens only under another known key: re-seal first`));
    expect(warning.detail).not.toMatch(/--keep/);
  });

  it('the --keep hint names the newest row that opens, and lists the rows newest first', async () => {
    const older = await addProviderKey(t, project, 'GEMINI_API_KEY', 'gm-older-0123456', AEAD);
    const newer = await addProviderKey(t, project, 'GEMINI_API_KEY', 'gm-newer-0123456', AEAD);
    const newest = await addProviderKey(t, project, 'GEMINI_API_KEY', 'gm-broken-012345', newKeyHex());
    await t.query(
      `update provider_api_keys set created_at = case id when $1 then now() - interval '2 days' when $2 then now() - interval '1 day' else now() end
       where project_id = $3`,
      [older, newer, project],
    );
    const warning = JSON.parse((await runCli(['doctor', '--json'], { env: env(), cwd: dir })).stdout).warnings[0];
    expect(warning).toMatchObject({ ids: [newest, newer, older], openingIds: [newer, older] });
    expect(warning.detail).toMatch(new RegExp(`Keep the newest that opens .*--keep ${newer}`));
  });
});

describe('nothing accepted silently', () => {
  it('verify-provider --project: a malformed id exits 2, an unknown project is reported (exit 2), not "none stored"', async () => {
    const malformed = await runCli(['verify-provider', '--project', 'abc'], { env: env(), cwd: dir });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--project must be an id/);
    expect(malformed.stderr).not.toMatch(/22P02/);
    const unknown = await runCli(['verify-provider', '--project', '00000000-0000-0000-0000-000000000000'], { env: env(), cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no such project: 00000000-0000-0000-0000-000000000000/);
  });

  it('quarantine --id: an unknown id, or the id of a value that opens, is refused with the reason', async () => {
    const opens = await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-fine-0123456789', AEAD);
    const before = await snapshotProviderKeys(t);
    const unknown = await runCli(['quarantine', '--id', randomUUID(), '--yes'], { env: env(), cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no such row/);
    const fine = await runCli(['quarantine', '--id', opens, '--yes'], { env: env(), cwd: dir });
    expect(fine.code).toBe(2);
    expect(fine.stderr).toMatch(/opens under the current AEAD_SECRET_KEY/);
    expect((await runCli(['quarantine', '--id', 'nope', '--yes'], { env: env(), cwd: dir })).code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });

  it('one clear line instead of raw SQL: set without a projects table, verify without provider_api_keys, a hand-edited backup', async () => {
    const partial = await createTestDatabase({ schema: false });
    try {
      await partial.query(
        'create table provider_api_keys (id uuid primary key, project_id uuid not null, name text not null, ' +
          'nonce_hex text not null, value text not null)',
      );
      const set = await runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:V', '--yes'], {
        env: env({ DATABASE_URL: partial.url, V: 'sk-x-0123456789' }),
        cwd: dir,
      });
      expect(set.code).toBe(3);
      expect(set.stderr).toMatch(/no projects table/);
      await partial.query(
        'drop table provider_api_keys; create table slack_integrations (id uuid primary key, workspace_id ' +
          'uuid, team_id text, token text, nonce_hex text)',
      );
      const verify = await runCli(['verify-provider'], { env: env({ DATABASE_URL: partial.url }), cwd: dir });
      expect(verify.code).toBe(3);
      expect(verify.stderr).toMatch(/no provider keys to verify: table provider_api_keys does not exist/);
    } finally {
      await partial.drop();
    }
    const header = {
      type: 'header',
      version: 1,
      tool: 'lmnr-keys',
      operation: 'rotate',
      createdAt: new Date().toISOString(),
      database: `127.0.0.1:5432/${t.name}`,
      toFingerprint: null,
    };
    const record = {
      type: 'update',
      store: 'provider_api_keys',
      id: 'not-a-uuid',
      oldNonceHex: 'aa',
      oldCiphertextHex: 'bb',
      newNonceHex: 'cc',
      newCiphertextHex: 'dd',
    };
    fs.writeFileSync(path.join(dir, 'edited.jsonl'), `${JSON.stringify(header)}\n${JSON.stringify(record)}\n`);
    const restore = await runCli(['restore', 'edited.jsonl', '--yes'], { env: env(), cwd: dir });
    expect(restore.code).toBe(3);
    expect(restore.stderr).toMatch(/edited.jsonl line 2: the id is not a uuid/);
  });

  it('restore: a truncated last line is reported and ignored; an unknown backup version is refused', async () => {
    const header = {
      type: 'header',
      version: 1,
      tool: 'lmnr-keys',
      operation: 'rotate',
      createdAt: new Date().toISOString(),
      database: `127.0.0.1:5432/${t.name}`,
      toFingerprint: null,
    };
    fs.writeFileSync(path.join(dir, 'cut.jsonl'), `${JSON.stringify(header)}\n{"type":"update","store":"provider_api_`);
    const cut = await runCli(['restore', 'cut.jsonl', '--dry-run', '--json'], { env: env(), cwd: dir });
    expect(cut.stderr).toMatch(/the last line of cut.jsonl was cut short/);
    expect(JSON.parse(cut.stdout)).toMatchObject({ truncatedLastLine: true, total: 0 });
    fs.writeFileSync(path.join(dir, 'future.jsonl'), `${JSON.stringify({ ...header, version: 2 })}\n`);
    const future = await runCli(['restore', 'future.jsonl', '--dry-run'], { env: env(), cwd: dir });
    expect(future.code).toBe(3);
    expect(future.stderr).toMatch(/has version 2, which this lmnr-keys does not know/);
  });

  it('a host that does not resolve is not blamed on the compose service name; `postgres` is', async () => {
    const far = await runCli(['doctor'], { env: env({ DATABASE_URL: 'postgres://u:p@nosuchhost.invalid:5432/db' }), cwd: dir });
    expect(far.code).toBe(4);
    expect(far.stderr).not.toMatch(/compose/);
    const service = await runCli(['doctor'], { env: env({ DATABASE_URL: 'postgres://u:p@postgres:5432/db' }), cwd: dir });
    expect(service.code).toBe(4);
    expect(service.stderr).toMatch(/"postgres" resolves only inside its compose network/);
  });
});

describe('small things a user notices', () => {
  it('verify-provider does not count ok credentials among the failing', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-lost-0123456789', newKeyHex());
    const result = await runCli(['verify-provider'], { env: env(), cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Verdict: 1 failing \(1 cannot decrypt \(nothing sent\)\)\./);
  });

  it("doctor's secrets table keeps its columns apart for the public default key", async () => {
    const result = await runCli(['doctor'], { env: env({ AEAD_SECRET_KEY: '0123456789abcdef'.repeat(4) }), cwd: dir });
    expect(result.stdout).toMatch(/AEAD_SECRET_KEY\s+Laminar's PUBLIC default key\s{2,}fingerprint [0-9a-f]{8}/);
  });
});
