import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import {
  addDeployment,
  addManyProviderKeys,
  addProject,
  addProviderKey,
  addRawProviderKey,
  addSlack,
  addWorkspace,
  seal,
} from '../support/seed.js';
import { BIN, findLeaks, runCli } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const OLD = newKeyHex();
const OLDER = newKeyHex();
const NEW = newKeyHex();
const LOST = newKeyHex();
const SLACK = newKeyHex();

let t: TestDatabase;
let dir: string;
let project: string;
let workspace: string;

const env = () => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD, OLDER_KEY: OLDER, NEW_KEY: NEW, SLACK_ENCRYPTION_KEY: SLACK });
const rotateArgs = [
  'rotate',
  '--from',
  'env:AEAD_SECRET_KEY',
  '--from',
  'laminar-default',
  '--from',
  'env:OLDER_KEY',
  '--to',
  'env:NEW_KEY',
];

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-rotate-'));
  workspace = await addWorkspace(t, 'Acme');
  project = await addProject(t, workspace, 'Chatbot');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function seedMixed() {
  const ids = {
    current: await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-current-0123456789', OLD),
    fromDefault: await addProviderKey(t, project, 'GEMINI_API_KEY', 'AIza-default-0123456789', DEFAULT_KEY_HEX),
    older: await addProviderKey(t, project, 'ANTHROPIC_API_KEY', 'sk-ant-older-0123456789', OLDER),
    notUtf8: await addProviderKey(t, project, 'GROQ_API_KEY', new Uint8Array([0xff, 0x00, 0xfe, 0x80]), OLD),
    lost: await addProviderKey(t, project, 'MISTRAL_API_KEY', 'lost-key-0123456789', LOST),
    malformed: await addRawProviderKey(t, project, 'AZURE_API_KEY', 'abc', 'zz'),
    alreadyNew: await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-already-new-0123', NEW),
  };
  const privateKey = await seal(OLD, 'cHJpdmF0ZS1rZXk=', workspace);
  await addDeployment(t, workspace, { privateKey, dataPlaneUrl: { ciphertextHex: null, nonceHex: null } });
  const slack = await addSlack(t, workspace, 'T0ACME', 'xoxb-slack-0123456789', SLACK);
  return { ids, slack };
}

describe('rotate', () => {
  it("an odd-length ciphertext is malformed in rotate's stuck list, as doctor calls it", async () => {
    // Sealed under a key no run has: read leniently (the odd last digit dropped), it opens under none.
    const good = await seal(LOST, 'sk-odd-0123456789', 'OPENAI_API_KEY');
    const odd = await addRawProviderKey(t, project, 'OPENAI_API_KEY', good.nonceHex, `${good.ciphertextHex}a`);
    const doctor = await runCli(['doctor', '--json'], { env: env() });
    expect(JSON.parse(doctor.stdout).findings.find((f: any) => f.id === odd)).toMatchObject({ status: 'malformed' });
    const result = await runCli([...rotateArgs, '--yes', '--json', '--no-backup'], { env: env(), cwd: dir });
    expect(JSON.parse(result.stdout).stuck).toEqual([expect.objectContaining({ id: odd, status: 'malformed' })]);
  });

  it('dry run writes nothing and reports the plan', async () => {
    await seedMixed();
    const before = await snapshotProviderKeys(t);
    const result = await runCli([...rotateArgs, '--dry-run', '--json'], { env: env(), cwd: dir });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ command: 'rotate', dryRun: true, ok: false, backup: null });
    expect(doc.summary).toEqual({ total: 8, rotated: 5, alreadyCurrent: 1, stuck: 2, retried: 0 });
    expect(await snapshotProviderKeys(t)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses without --yes when no terminal is attached: exit 2, nothing written', async () => {
    await seedMixed();
    const before = await snapshotProviderKeys(t);
    const result = await runCli(rotateArgs, { env: env(), cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refusing to rotate without --yes/);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('re-seals from several keys at once, exact bytes and fresh nonces; stuck values untouched; second run rotates nothing', async () => {
    const { ids } = await seedMixed();
    const before = await snapshotProviderKeys(t);
    const result = await runCli([...rotateArgs, '--yes', '--json'], { env: env(), cwd: dir });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.summary).toEqual({ total: 8, rotated: 5, alreadyCurrent: 1, stuck: 2, retried: 0 });
    expect(doc.stores.find((s: any) => s.store === 'provider_api_keys')).toMatchObject({
      total: 7,
      rotated: 4,
      alreadyCurrent: 1,
      stuck: 2,
    });
    expect(doc.stores.find((s: any) => s.store === 'workspace_deployments.private_key')).toMatchObject({ total: 1, rotated: 1 });
    expect(doc.stores.map((s: any) => s.store)).not.toContain('slack_integrations');
    expect(doc.stuck.map((s: any) => [s.id, s.status]).sort()).toEqual(
      [
        [ids.lost, 'wrong_secret'],
        [ids.malformed, 'malformed'],
      ].sort(),
    );

    const after = await snapshotProviderKeys(t);
    const opened = await openAll(t, [NEW]);
    for (const id of [ids.current, ids.fromDefault, ids.older, ids.alreadyNew]) expect(opened.get(id)!.keyIndex).toBe(0);
    expect(opened.get(ids.current)!.plaintext).toBe('sk-current-0123456789');
    expect(opened.get(ids.fromDefault)!.plaintext).toBe('AIza-default-0123456789');
    expect(opened.get(ids.older)!.plaintext).toBe('sk-ant-older-0123456789');
    // Non-UTF-8 plaintext keeps its exact bytes.
    const raw = after.get(ids.notUtf8)!;
    const { openSealed, parseSealedText, encodeAad, loadCipher } = await import('../../src/crypto/aead.js');
    await loadCipher();
    const parsed = parseSealedText({ ciphertextHex: raw.value, nonceHex: raw.nonce_hex });
    expect(parsed.ok && [...openSealed(Buffer.from(NEW, 'hex'), parsed.sealed, encodeAad('GROQ_API_KEY'))!]).toEqual([
      0xff, 0x00, 0xfe, 0x80,
    ]);
    for (const id of [ids.current, ids.fromDefault, ids.older, ids.notUtf8])
      expect(after.get(id)!.nonce_hex).not.toBe(before.get(id)!.nonce_hex);
    for (const id of [ids.lost, ids.malformed, ids.alreadyNew]) expect(after.get(id)).toEqual(before.get(id));

    // The backup: mode 0600, ciphertext only.
    const backupFile = path.resolve(dir, doc.backup);
    expect(fs.statSync(backupFile).mode & 0o777).toBe(0o600);
    const backupText = fs.readFileSync(backupFile, 'utf8');
    const backupLines = backupText
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    // The header, one update record per re-sealed value, and a commit mark after each batch (one per store here).
    expect(backupLines.filter((line) => line.type === 'update')).toHaveLength(5);
    expect(backupLines.filter((line) => line.type === 'commit').map((line) => line.count)).toEqual([4, 1]);
    expect(backupLines).toHaveLength(1 + 5 + 2);
    expect(
      findLeaks(
        [backupText, result.stdout, result.stderr],
        [OLD, OLDER, NEW, LOST, 'sk-current-0123456789', 'AIza-default-0123456789', 'sk-ant-older-0123456789'],
      ),
    ).toEqual([]);

    const second = await runCli([...rotateArgs, '--yes', '--json', '--no-backup'], { env: env(), cwd: dir });
    const again = JSON.parse(second.stdout);
    expect(again.summary).toMatchObject({ rotated: 0, alreadyCurrent: 6, stuck: 2 });
    expect(await snapshotProviderKeys(t)).toEqual(after);
  });

  it('rotates slack_integrations only when named, and exits 0 when nothing is stuck', async () => {
    const { slack } = await seedMixed();
    await t.query(`delete from provider_api_keys where name in ('MISTRAL_API_KEY', 'AZURE_API_KEY')`);
    const result = await runCli(
      ['rotate', '--store', 'slack_integrations', '--from', 'env:SLACK_ENCRYPTION_KEY', '--to', 'env:NEW_KEY', '--yes', '--json'],
      { env: env(), cwd: dir },
    );
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.stores).toEqual([expect.objectContaining({ store: 'slack_integrations', total: 1, rotated: 1 })]);
    const doctor = await runCli(['doctor', '--json'], { env: { ...env(), SLACK_ENCRYPTION_KEY: NEW } });
    expect(JSON.parse(doctor.stdout).findings.find((f: any) => f.id === slack)).toBeUndefined();
  });

  it("restore returns the database to the backup's old values", async () => {
    await seedMixed();
    const before = await snapshotProviderKeys(t);
    const rotated = JSON.parse((await runCli([...rotateArgs, '--yes', '--json', '--backup', 'b.jsonl'], { env: env(), cwd: dir })).stdout);
    expect(rotated.backup).toBe('b.jsonl');
    expect(await snapshotProviderKeys(t)).not.toEqual(before);
    const refused = await runCli(['restore', 'b.jsonl'], { env: env(), cwd: dir });
    expect(refused.code).toBe(2);
    const restored = await runCli(['restore', 'b.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ restored: 5, leftAlone: [] });
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const deployment = await t.query('select private_key_nonce from workspace_deployments');
    expect(deployment.rows[0].private_key_nonce).toBeTruthy();
  });

  it('restore leaves alone a value changed after the rotation', async () => {
    const { ids } = await seedMixed();
    await runCli([...rotateArgs, '--yes', '--backup', 'b.jsonl'], { env: env(), cwd: dir });
    const changed = await seal(NEW, 'sk-changed-by-user', 'OPENAI_API_KEY');
    await t.query('update provider_api_keys set value = $1, nonce_hex = $2 where id = $3', [
      changed.ciphertextHex,
      changed.nonceHex,
      ids.current,
    ]);
    const restored = await runCli(['restore', 'b.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(restored.code).toBe(1);
    const doc = JSON.parse(restored.stdout);
    expect(doc.restored).toBe(4);
    expect(doc.leftAlone).toEqual([expect.objectContaining({ id: ids.current, reason: expect.stringMatching(/changed after/) })]);
    expect((await snapshotProviderKeys(t)).get(ids.current)!.value).toBe(changed.ciphertextHex);
  });

  it.each([
    [['rotate', '--from', 'env:NEW_KEY', '--to', 'env:NEW_KEY', '--yes'], /same key/],
    [['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'abc', '--yes'], /not a secret reference/],
    [['rotate', '--to', 'env:NEW_KEY', '--yes'], /--from/],
    [['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--store', 'nope', '--yes'], /unknown store/],
  ])('usage error %# exits 2', async (args, message) => {
    await seedMixed();
    const before = await snapshotProviderKeys(t);
    const result = await runCli(args, { env: { ...env(), BAD: 'x' }, cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });
});

it('a reference to a variable that is not set is a configuration error (exit 3), as the README table says', async () => {
  await seedMixed();
  const before = await snapshotProviderKeys(t);
  const result = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NOT_SET', '--yes'], { env: env(), cwd: dir });
  expect(result.code).toBe(3);
  expect(result.stderr).toMatch(/NOT_SET is not set/);
  expect(await snapshotProviderKeys(t)).toEqual(before);
});

describe('rotate under concurrency and faults', () => {
  afterAll(() => {});

  it('a platform writer updating and inserting under the old key meanwhile: nothing lost, nothing overwritten', async () => {
    const expected = await addManyProviderKeys(t, project, 4000, OLD);
    const ids = [...expected.keys()];
    let stop = false;
    let writes = 0;
    const writer = (async () => {
      while (!stop) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const name = (await t.query('select name from provider_api_keys where id = $1', [id])).rows[0].name;
        const plaintext = `sk-updated-${writes}-${randomUUID().slice(0, 6)}`;
        const sealed = await seal(OLD, plaintext, name);
        await t.query('update provider_api_keys set value = $1, nonce_hex = $2 where id = $3', [sealed.ciphertextHex, sealed.nonceHex, id]);
        expected.set(id, plaintext);
        const newId = await addProviderKey(t, project, 'OPENAI_API_KEY', `sk-inserted-${writes}`, OLD);
        expected.set(newId, `sk-inserted-${writes}`);
        writes++;
      }
    })();
    const first = await runCli(
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--json', '--batch-size', '50', '--no-backup'],
      { env: env(), cwd: dir },
    );
    stop = true;
    await writer;
    expect(first.code).toBe(0);
    expect(writes).toBeGreaterThan(5);
    const second = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--json', '--no-backup'], {
      env: env(),
      cwd: dir,
    });
    expect(second.code).toBe(0);
    const opened = await openAll(t, [NEW]);
    expect(opened.size).toBe(expected.size);
    for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
  });

  it('kill -9 in the middle, then a re-run: every value opens under --to to its original bytes', async () => {
    const expected = await addManyProviderKeys(t, project, 20_000, OLD);
    const backup = path.join(dir, 'kill.jsonl');
    const child = spawn(
      process.execPath,
      ['--', BIN, 'rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--batch-size', '100', '--backup', backup],
      {
        env: { PATH: process.env.PATH ?? '', CI: 'true', ...env() },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Kill once a few batches have committed but well before the end.
    for (let i = 0; i < 400; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (fs.existsSync(backup) && fs.readFileSync(backup, 'utf8').split('\n').length > 500) break;
    }
    child.kill('SIGKILL');
    await exited;
    const mid = await openAll(t, [OLD, NEW]);
    const underNew = [...mid.values()].filter((v) => v.keyIndex === 1).length;
    expect(underNew).toBeGreaterThan(0);
    expect(underNew).toBeLessThan(20_000);
    expect([...mid.values()].every((v) => v.keyIndex >= 0)).toBe(true);

    const rerun = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--json', '--no-backup'], {
      env: env(),
      cwd: dir,
    });
    expect(rerun.code).toBe(0);
    const doc = JSON.parse(rerun.stdout);
    expect(doc.summary.alreadyCurrent).toBe(underNew);
    expect(doc.summary.rotated).toBe(20_000 - underNew);
    const opened = await openAll(t, [NEW]);
    expect(opened.size).toBe(20_000);
    for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
  });

  it('a cut connection exits 4 with a clear message; a re-run completes', async () => {
    const expected = await addManyProviderKeys(t, project, 20_000, OLD);
    const run = runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--batch-size', '100', '--no-backup'], {
      env: env(),
      cwd: dir,
    });
    let terminated = 0;
    for (let i = 0; i < 400 && terminated === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const result = await t.query(
        `select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name like ` +
          `'lmnr-keys%' and datname = current_database() and state <> 'idle' ` +
          // Not the final unlock: after the last commit a cut connection loses nothing, and rotate rightly exits 0.
          `and query not ilike '%pg_advisory_unlock%'`,
      );
      terminated = result.rows.filter((r: any) => r.ok).length;
    }
    const result = await run;
    expect(terminated).toBeGreaterThan(0);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/connection to Postgres at .* (lost|terminated)|terminated the connection|lost the connection/);
    expect(result.stderr).toMatch(/run the command again/);
    const rerun = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--no-backup'], {
      env: env(),
      cwd: dir,
    });
    expect(rerun.code).toBe(0);
    const opened = await openAll(t, [NEW]);
    for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
  });

  it('two rotations started together: one refuses with exit 4 (or waits with --wait); nothing lost', async () => {
    const expected = await addManyProviderKeys(t, project, 8000, OLD);
    // Small batches keep the first run going long enough for the second to meet its lock.
    const args = ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--batch-size', '20', '--no-backup', '--json'];
    const [a, b] = await Promise.all([runCli(args, { env: env(), cwd: dir }), runCli(args, { env: env(), cwd: dir })]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 4]);
    const loser = a.code === 4 ? a : b;
    expect(loser.stderr).toMatch(/another lmnr-keys rotation or repair is running/);
    const [c, d] = await Promise.all([
      runCli([...args, '--wait'], { env: env(), cwd: dir }),
      runCli([...args, '--wait'], { env: env(), cwd: dir }),
    ]);
    expect([c.code, d.code]).toEqual([0, 0]);
    const opened = await openAll(t, [NEW]);
    for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
  });

  it('a lock held by another session: --lock-timeout gives up with exit 4', async () => {
    await addManyProviderKeys(t, project, 10, OLD);
    const holder = await t.pool.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [0x6c6d6e72, 0x6b657973]);
      const started = Date.now();
      const result = await runCli(
        ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--lock-timeout', '300', '--no-backup'],
        { env: env(), cwd: dir },
      );
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/held the lock after 300 ms/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      holder.release();
    }
  });
});
