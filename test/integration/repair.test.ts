import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addRawProviderKey, addSlack, addWorkspace, seal } from '../support/seed.js';
import { findLeaks, runCli } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const AEAD = newKeyHex();
const LOST = newKeyHex();
const OLD = newKeyHex();
const SLACK = newKeyHex();
let t: TestDatabase;
let dir: string;
let workspace: string;
let project: string;
const env = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  AEAD_SECRET_KEY: AEAD,
  SLACK_ENCRYPTION_KEY: SLACK,
  OLD_KEY: OLD,
  ...extra,
});

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-repair-'));
  workspace = await addWorkspace(t, 'Acme');
  project = await addProject(t, workspace, 'Chatbot');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('set', () => {
  it('replaces every row for the name (duplicates removed) with the new value, backed up, and restore brings the old rows back', async () => {
    const a = await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-old-one-0123456', LOST);
    const b = await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-old-two-0123456', AEAD);
    const other = await addProviderKey(t, project, 'GEMINI_API_KEY', 'AIza-keep-0123456', AEAD);
    const before = await snapshotProviderKeys(t);

    const refused = await runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:NEW_VALUE'], {
      env: env({ NEW_VALUE: 'sk-new-0123456789' }),
      cwd: dir,
    });
    expect(refused.code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);

    const result = await runCli(
      ['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:NEW_VALUE', '--yes', '--json', '--backup', 'set.jsonl'],
      {
        env: env({ NEW_VALUE: 'sk-new-0123456789' }),
        cwd: dir,
      },
    );
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.replaced.sort()).toEqual([a, b].sort());
    const opened = await openAll(t, [AEAD]);
    const rows = await t.query(`select id::text as id from provider_api_keys where name = 'OPENAI_API_KEY'`);
    expect(rows.rows).toEqual([{ id: doc.newId }]);
    expect(opened.get(doc.newId)).toEqual({ plaintext: 'sk-new-0123456789', keyIndex: 0 });
    expect(opened.get(other)).toEqual({ plaintext: 'AIza-keep-0123456', keyIndex: 0 });

    const backupText = fs.readFileSync(path.join(dir, 'set.jsonl'), 'utf8');
    expect(fs.statSync(path.join(dir, 'set.jsonl')).mode & 0o777).toBe(0o600);
    expect(
      findLeaks([backupText, result.stdout, result.stderr], [AEAD, LOST, 'sk-new-0123456789', 'sk-old-one-0123456', 'sk-old-two-0123456']),
    ).toEqual([]);

    const restored = await runCli(['restore', 'set.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(restored.stdout)).toMatchObject({ restored: 2 });
    const after = await snapshotProviderKeys(t);
    for (const [id, row] of before) expect(after.get(id)).toEqual(row);
  });

  it('reads the value from stdin, and refuses names Laminar does not use unless --force', async () => {
    const ok = await runCli(['set', '--project', project, '--name', 'GEMINI_API_KEY', '--value', '-', '--yes'], {
      env: env(),
      cwd: dir,
      input: 'AIza-from-stdin-0123\n',
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('AIza-from-stdin-0123');
    expect([...(await openAll(t, [AEAD])).values()]).toEqual([{ plaintext: 'AIza-from-stdin-0123', keyIndex: 0 }]);
    const unknown = await runCli(['set', '--project', project, '--name', 'MY_KEY', '--value', '-', '--yes', '--no-backup'], {
      env: env(),
      cwd: dir,
      input: 'x\n',
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/not a name Laminar uses/);
    const forced = await runCli(['set', '--project', project, '--name', 'MY_KEY', '--value', '-', '--yes', '--force', '--no-backup'], {
      env: env(),
      cwd: dir,
      input: 'x-forced-value\n',
    });
    expect(forced.code).toBe(0);
    const missing = await runCli(
      ['set', '--project', '00000000-0000-0000-0000-000000000000', '--name', 'GEMINI_API_KEY', '--value', '-', '--yes', '--no-backup'],
      { env: env(), cwd: dir, input: 'x\n' },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
  });
});

describe('quarantine', () => {
  async function seed() {
    const ids = {
      ok: await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-ok-0123456789', AEAD),
      underDefault: await addProviderKey(t, project, 'GEMINI_API_KEY', 'AIza-default-012345', DEFAULT_KEY_HEX),
      underOld: await addProviderKey(t, project, 'GROQ_API_KEY', 'gsk-old-0123456789', OLD),
      lost: await addProviderKey(t, project, 'ANTHROPIC_API_KEY', 'sk-ant-lost-012345', LOST),
      malformed: await addRawProviderKey(t, project, 'MISTRAL_API_KEY', 'nothex', 'nothex'),
    };
    const dataPlane = await seal(LOST, 'https://dp.example', workspace);
    await addDeployment(t, workspace, { privateKey: await seal(AEAD, 'cHJpdg==', workspace), dataPlaneUrl: dataPlane });
    const slackLost = await addSlack(t, workspace, 'T0ACME', 'xoxb-lost-0123456', LOST);
    // As in Laminar: channels mapped to projects through the integration row (ON DELETE CASCADE).
    for (const channel of ['C0GENERAL', 'C0ALERTS']) {
      await t.query(
        'insert into slack_channel_projects (workspace_id, channel_id, channel_name, project_id, ' +
          'integration_id) values ($1, $2, $3, $4, $5)',
        [workspace, channel, channel.toLowerCase(), project, slackLost],
      );
    }
    return { ids, slackLost, dataPlane };
  }

  it("printed commands carry the run's --env-file, and a printed quarantine the --candidate keys doctor tried", async () => {
    await seed();
    fs.writeFileSync(path.join(dir, 'ops.env'), 'LMNR_TRIAL=1\n');
    const doctor = await runCli(['doctor', '--env-file', 'ops.env', '--candidate', 'env:OLD_KEY'], { env: env(), cwd: dir });
    expect(doctor.stdout).toContain('`lmnr-keys quarantine --env-file ops.env --candidate env:OLD_KEY`');
    expect(doctor.stdout).not.toMatch(/lmnr-keys quarantine`/);
    const taken = await runCli(['quarantine', '--env-file', 'ops.env', '--candidate', 'env:OLD_KEY', '--yes', '--expect', '4'], {
      env: env(),
      cwd: dir,
    });
    expect(taken.code).toBe(0);
    expect(taken.stdout).toMatch(/undo with: lmnr-keys restore --env-file ops\.env \S+\.jsonl/);
    expect(taken.stdout).toContain('`lmnr-keys set --env-file ops.env --project ID --name NAME`');
  });

  it('an --expect that is not the count refuses even where no --expect is needed, and writes nothing', async () => {
    await seed();
    const before = await snapshotProviderKeys(t);
    const wrong = await runCli(['quarantine', '--yes', '--no-backup', '--candidate', 'env:OLD_KEY', '--expect', '3'], {
      env: env(),
      cwd: dir,
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/refusing: --expect 3 was given, but this run would take out 4 values/);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const right = await runCli(['quarantine', '--yes', '--no-backup', '--candidate', 'env:OLD_KEY', '--expect', '4'], {
      env: env(),
      cwd: dir,
    });
    expect(right.code).toBe(0);
  });

  it('lists, refuses without --yes, then takes out only what no key opens; restore puts it back', async () => {
    const { ids, slackLost, dataPlane } = await seed();
    const before = await snapshotProviderKeys(t);
    const plan = await runCli(['quarantine', '--dry-run', '--json', '--candidate', 'env:OLD_KEY'], { env: env(), cwd: dir });
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout)
      .targets.map((x: any) => x.id)
      .sort();
    expect(planned).toEqual([ids.lost, ids.malformed, workspace, slackLost].sort());
    // The plan says the Slack row is kept and so are the two channel mappings that reference it.
    expect(JSON.parse(plan.stdout).targets.find((x: any) => x.id === slackLost).action).toBe('clear_pair');
    expect(JSON.parse(plan.stdout).dependents).toEqual([
      {
        store: 'slack_integrations',
        table: 'slack_channel_projects',
        column: 'integration_id',
        onDelete: 'cascade',
        rows: 2,
        effect: 'kept',
      },
    ]);
    const humanPlan = await runCli(['quarantine', '--dry-run', '--candidate', 'env:OLD_KEY'], { env: env(), cwd: dir });
    expect(humanPlan.stdout).toMatch(/kept: 2 rows of slack_channel_projects/);

    const refused = await runCli(['quarantine', '--candidate', 'env:OLD_KEY'], { env: env(), cwd: dir });
    expect(refused.code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual([]);

    const done = await runCli(['quarantine', '--candidate', 'env:OLD_KEY', '--yes', '--json', '--backup', 'q.jsonl'], {
      env: env(),
      cwd: dir,
    });
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ removed: 4, changed: [] });
    const after = await snapshotProviderKeys(t);
    expect([...after.keys()].sort()).toEqual([ids.ok, ids.underDefault, ids.underOld].sort());
    const deployment = (await t.query('select private_key, data_plane_url, data_plane_url_nonce from workspace_deployments')).rows[0];
    expect(deployment.private_key).not.toBeNull();
    expect([deployment.data_plane_url, deployment.data_plane_url_nonce]).toEqual(['', '']);
    // The Slack row stays (its token emptied), so its channel mappings survive.
    expect((await t.query('select token, nonce_hex from slack_integrations')).rows).toEqual([{ token: '', nonce_hex: '' }]);
    expect((await t.query('select count(*)::int as n from slack_channel_projects')).rows[0].n).toBe(2);
    expect(done.stdout).not.toMatch(/lmnr-keys set.*slack/i);
    expect(fs.statSync(path.join(dir, 'q.jsonl')).mode & 0o777).toBe(0o600);
    expect(
      findLeaks(
        [fs.readFileSync(path.join(dir, 'q.jsonl'), 'utf8'), done.stdout, done.stderr],
        [AEAD, LOST, OLD, 'sk-ant-lost-012345', 'xoxb-lost-0123456', 'https://dp.example'],
      ),
    ).toEqual([]);

    const doctor = await runCli(['doctor', '--json', '--candidate', 'env:OLD_KEY'], { env: env(), cwd: dir });
    expect(JSON.parse(doctor.stdout).findings.every((f: any) => f.decryptsWith !== null)).toBe(true);
    // An emptied Slack token is not a malformed value: a note tells how Laminar gets it back.
    expect(JSON.parse(doctor.stdout).takenOut).toMatchObject([{ store: 'slack_integrations', id: slackLost, workspaceName: 'Acme' }]);
    expect(JSON.parse(doctor.stdout).takenOut[0].detail).toMatch(/reconnects Slack in Laminar's workspace settings/);

    const restored = await runCli(['restore', 'q.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ restored: 4, leftAlone: [] });
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const back = (await t.query('select data_plane_url, data_plane_url_nonce from workspace_deployments')).rows[0];
    expect(back).toEqual({ data_plane_url: dataPlane.ciphertextHex, data_plane_url_nonce: dataPlane.nonceHex });
    const slackBack = (await t.query('select token from slack_integrations')).rows[0];
    expect(slackBack.token).not.toBe('');
    expect((await t.query('select count(*)::int as n from slack_channel_projects')).rows[0].n).toBe(2);
  });

  it('never deletes a row that other rows reference: the delete is refused and nothing changes', async () => {
    const { ids } = await seed();
    // A database that references provider_api_keys (Laminar's does not): a delete would cascade.
    await t.query(
      'create table key_usage (id serial primary key, key_id uuid not null references provider_api_keys(id) on delete cascade)',
    );
    await t.query('insert into key_usage (key_id) values ($1)', [ids.lost]);
    const before = await snapshotProviderKeys(t);
    const plan = await runCli(['quarantine', '--store', 'provider_api_keys', '--dry-run', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(plan.stdout).dependents).toMatchObject([{ table: 'key_usage', column: 'key_id', rows: 1, effect: 'blocks_delete' }]);
    const done = await runCli(
      ['quarantine', '--store', 'provider_api_keys', '--candidate', 'env:OLD_KEY', '--yes', '--backup', 'q.jsonl'],
      { env: env(), cwd: dir },
    );
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/refusing to delete from provider_api_keys: 1 row of key_usage/);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    expect((await t.query('select count(*)::int as n from key_usage')).rows[0].n).toBe(1);
  });

  it('restore of a backup from an older lmnr-keys that deleted a Slack row says what it cannot bring back (exit 1)', async () => {
    const { slackLost } = await seed();
    const whole = (await t.query('select to_jsonb(s) as row from slack_integrations s')).rows[0].row;
    const header = {
      type: 'header',
      version: 1,
      tool: 'lmnr-keys',
      operation: 'quarantine',
      createdAt: new Date().toISOString(),
      database: `127.0.0.1:5432/${t.name}`,
      toFingerprint: null,
    };
    fs.writeFileSync(
      path.join(dir, 'old.jsonl'),
      [header, { type: 'delete', store: 'slack_integrations', id: slackLost, row: whole }].map((l) => JSON.stringify(l)).join('\n') + '\n',
      { mode: 0o600 },
    );
    await t.query('delete from slack_integrations'); // what the old quarantine did; the cascade took the mappings
    expect((await t.query('select count(*)::int as n from slack_channel_projects')).rows[0].n).toBe(0);
    const planned = await runCli(['restore', 'old.jsonl', '--dry-run'], { env: env(), cwd: dir });
    expect(planned.code).toBe(1);
    expect(planned.stdout).toMatch(/1 row would be put back without what was deleted with them/);
    const restored = await runCli(['restore', 'old.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(restored.code).toBe(1);
    const doc = JSON.parse(restored.stdout);
    expect(doc).toMatchObject({ ok: false, restored: 1, incomplete: [{ store: 'slack_integrations', id: slackLost }] });
    expect(doc.incomplete[0].reason).toMatch(/slack_channel_projects.*not in this backup/);
    expect((await t.query('select count(*)::int as n from slack_integrations')).rows[0].n).toBe(1);
  });

  it('--id limits it to chosen rows; values whose store key is missing are never taken out', async () => {
    const { ids } = await seed();
    const one = await runCli(['quarantine', '--id', ids.malformed, '--yes', '--json', '--no-backup'], { env: env(), cwd: dir });
    expect(JSON.parse(one.stdout)).toMatchObject({ removed: 1 });
    const noSlackKey = await runCli(['quarantine', '--store', 'slack_integrations', '--dry-run', '--json'], {
      env: env({ SLACK_ENCRYPTION_KEY: '' }),
      cwd: dir,
    });
    expect(JSON.parse(noSlackKey.stdout).targets).toEqual([]);
  });
});
