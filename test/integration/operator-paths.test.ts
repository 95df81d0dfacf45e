/**
 * What operators actually do, each a promise an earlier version broke: re-running a write at
 * once (and twice in parallel), following the rotate runbook to the letter, 45,000 failing
 * values, a password with raw URL characters, the public default key, a database that is not
 * Laminar's, hostile provider bodies and names, a restore aimed at the wrong database.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, withDatabaseName, type TestDatabase } from '../support/database.js';
import { DEFAULT_KEY_HEX, newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addProviderKey, addWorkspace, seal } from '../support/seed.js';
import { LAMINAR_SCHEMA_SQL } from '../../src/demo/laminar-schema.js';
import { findLeaks, runCli } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const OLD = newKeyHex();
const NEW = newKeyHex();
let t: TestDatabase;
let dir: string;
let project: string;
const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD, NEW_KEY: NEW, ...extra });

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-operator-'));
  project = await addProject(t, await addWorkspace(t, 'Acme'), 'Chatbot');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const backupsIn = (folder: string) => (fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.jsonl')) : []);

describe('re-running a write', () => {
  it('twice in a row at once: both succeed; the second changes nothing and writes no backup, and says so', async () => {
    await addManyProviderKeys(t, project, 50, OLD);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-home-'));
    try {
      const args = ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes'];
      const first = await runCli([...args, '--json'], { env: env({ HOME: home }), cwd: dir });
      const second = await runCli(args, { env: env({ HOME: home }), cwd: dir });
      expect(first.code).toBe(0);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/No backup written: nothing was changed/);
      // The default backup: a private folder under HOME, never the working folder (often Laminar's git checkout).
      const folder = path.join(home, '.local/state/lmnr-keys/backups');
      expect(backupsIn(folder)).toHaveLength(1);
      expect(JSON.parse(first.stdout).backup).toBe(path.join(folder, backupsIn(folder)[0]!));
      expect(fs.statSync(folder).mode & 0o777).toBe(0o700);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('two runs in parallel from one folder (set, waiting for the lock): both succeed, two distinct backups', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-first-0123456789', OLD);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-home-'));
    try {
      const set = (value: string) =>
        runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:V', '--yes', '--wait', '--json'], {
          env: env({ HOME: home, V: value }),
          cwd: dir,
        });
      const [a, b] = await Promise.all([set('sk-parallel-a-0123456'), set('sk-parallel-b-0123456')]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const files = backupsIn(path.join(home, '.local/state/lmnr-keys/backups'));
      expect(files).toHaveLength(2);
      expect(JSON.parse(a.stdout).backup).not.toBe(JSON.parse(b.stdout).backup);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('rotate, quarantine and restore each started twice at the same moment from one folder: one does the work, nothing is lost', async () => {
    // Values no key opens (sealed under a key nobody has) beside values under OLD.
    const lost = newKeyHex();
    const failing = await addManyProviderKeys(t, project, 1500, lost, 'sk-lost');
    const healthy = await addManyProviderKeys(t, project, 1500, OLD);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-home-'));
    const folder = path.join(home, '.local/state/lmnr-keys/backups');
    const twice = (args: string[], extra: Record<string, string> = {}) =>
      Promise.all([0, 1].map(() => runCli([...args, '--yes', '--wait', '--json'], { env: env({ HOME: home, ...extra }), cwd: dir })));
    try {
      // rotate: the second waits for the lock, then finds nothing under OLD and changes nothing
      // (both exit 1: the values no key opens are stuck, and said so).
      const rotations = await twice(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--batch-size', '200']);
      expect(rotations.map((r) => r.code)).toEqual([1, 1]);
      const documents = rotations.map((r) => JSON.parse(r.stdout));
      expect(documents.map((d) => d.backup === null).sort()).toEqual([false, true]);
      expect(backupsIn(folder)).toHaveLength(1);
      const rotated = await openAll(t, [NEW]);
      for (const [id, plaintext] of healthy) expect(rotated.get(id)?.plaintext).toBe(plaintext);

      // quarantine: the second plans under the lock after the first is done, finds 0, and is refused by its --expect.
      const quarantines = await twice(['quarantine', '--expect', '1500'], { AEAD_SECRET_KEY: NEW });
      expect(quarantines.map((r) => r.code).sort()).toEqual([0, 2]);
      const refused = quarantines.find((r) => r.code === 2)!;
      expect(refused.stderr).toMatch(/--expect 1500 was given, but this run would take out 0 values/);
      expect((await snapshotProviderKeys(t)).size).toBe(1500);
      const quarantineBackups = backupsIn(folder).filter((file) => file.includes('quarantine'));
      expect(quarantineBackups).toHaveLength(1);
      const backup = path.join(folder, quarantineBackups[0]!);

      // restore, twice at once: every value back exactly once, whichever ran first.
      const restores = await twice(['restore', backup], { AEAD_SECRET_KEY: NEW });
      expect(restores.map((r) => r.code)).toEqual([0, 0]);
      const after = await openAll(t, [NEW, lost]);
      expect(after.size).toBe(3000);
      for (const [id, plaintext] of failing) expect(after.get(id)).toEqual({ plaintext, keyIndex: 1 });
      for (const [id, plaintext] of healthy) expect(after.get(id)).toEqual({ plaintext, keyIndex: 0 });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('an explicit --backup that exists is refused before anything is read, and left untouched', async () => {
    await addManyProviderKeys(t, project, 5, OLD);
    fs.writeFileSync(path.join(dir, 'b.jsonl'), 'precious\n');
    const before = await snapshotProviderKeys(t);
    const result = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--backup', 'b.jsonl'], {
      env: env(),
      cwd: dir,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/backup file b.jsonl already exists/);
    expect(fs.readFileSync(path.join(dir, 'b.jsonl'), 'utf8')).toBe('precious\n');
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });

  it('the default backup folder inside a git work tree is refused (exit 3); LMNR_KEYS_BACKUP_DIR chooses another', async () => {
    await addManyProviderKeys(t, project, 5, OLD);
    execFileSync('git', ['init', '-q', dir]);
    const inRepo = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes'], {
      env: env({ HOME: dir }),
      cwd: dir,
    });
    expect(inRepo.code).toBe(3);
    expect(inRepo.stderr).toMatch(/inside the git work tree/);
    const chosen = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-chosen-'));
    try {
      const ok = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes'], {
        env: env({ HOME: dir, LMNR_KEYS_BACKUP_DIR: chosen }),
        cwd: dir,
      });
      expect(ok.code).toBe(0);
      expect(backupsIn(chosen)).toHaveLength(1);
    } finally {
      fs.rmSync(chosen, { recursive: true, force: true });
    }
  });
});

describe('the rotate runbook, followed to the letter', () => {
  it('keeps the old key before it is replaced, and the catch-up run it prints works after the key changed', async () => {
    const expected = await addManyProviderKeys(t, project, 20, OLD);
    const envFile = path.join(dir, '.env');
    const keyFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-keys-'));
    fs.writeFileSync(envFile, `DATABASE_URL=${t.url}\nAEAD_SECRET_KEY=${OLD}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'new.key'), `${NEW}\n`, { mode: 0o600 });
    // Backups elsewhere must not move where old keys go (once they went to dirname(backups)/keys).
    const home = { HOME: keyFolder, LMNR_KEYS_BACKUP_DIR: path.join(keyFolder, 'chosen', 'backups') };
    try {
      const rotated = await runCli(['rotate', '--env-file', envFile, '--from', 'env:AEAD_SECRET_KEY', '--to', 'file:new.key', '--yes'], {
        env: home,
        cwd: dir,
      });
      expect(rotated.code).toBe(0);
      const step = (pattern: RegExp) => {
        const match = pattern.exec(rotated.stdout);
        expect(match, `runbook step ${pattern}`).not.toBeNull();
        return match![1]!.trim().split(/\s+/).slice(1);
      };
      const saveKey = step(/1\. Keep the old key .*?: (lmnr-keys save-key .*)/);
      const catchUp = step(/4\. Re-seal what the platform sealed with the old key meanwhile: (lmnr-keys rotate .*)/);
      expect(saveKey).toContain('--env-file');
      expect(saveKey[saveKey.indexOf('--out') + 1]).toMatch(new RegExp(`^${keyFolder}/\\.local/state/lmnr-keys/keys/old-AEAD_SECRET_KEY-`));
      expect(catchUp.join(' ')).toMatch(
        new RegExp(`--env-file ${envFile} .*--from file:\\S+old-AEAD_SECRET_KEY-\\w{8}\\.key --to env:AEAD_SECRET_KEY --yes`),
      );
      // Step 1, before the key changes.
      expect((await runCli(saveKey, { env: home, cwd: dir })).code).toBe(0);
      // Meanwhile the running platform (still on the old key) saves another value.
      await addProviderKey(t, project, 'GEMINI_API_KEY', 'AIza-saved-meanwhile-012', OLD);
      // Step 2: the new key goes where Laminar reads it. Then step 4, as printed.
      fs.writeFileSync(envFile, `DATABASE_URL=${t.url}\nAEAD_SECRET_KEY=${NEW}\n`, { mode: 0o600 });
      // doctor, told where the old key is, prints the same fix with the run's --env-file: it runs as printed.
      const savedKey = saveKey[saveKey.indexOf('--out') + 1]!;
      const doctor = await runCli(['doctor', '--env-file', envFile, '--candidate', `file:${savedKey}`], { env: home, cwd: dir });
      expect(doctor.code).toBe(1);
      const next = /next: +(lmnr-keys rotate .*)/.exec(doctor.stdout);
      expect(next?.[1]).toBe(`lmnr-keys rotate --env-file ${envFile} --from file:${savedKey} --to env:AEAD_SECRET_KEY`);
      const doctorsFix = await runCli([...next![1]!.split(' ').slice(1), '--dry-run'], { env: home, cwd: dir });
      expect(doctorsFix.code).toBe(0);
      const caughtUp = await runCli(catchUp, { env: home, cwd: dir });
      expect(caughtUp.stderr).not.toMatch(/error/);
      expect(caughtUp.code).toBe(0);
      const opened = await openAll(t, [NEW]);
      for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
      expect([...opened.values()].filter((v) => v.plaintext === 'AIza-saved-meanwhile-012')).toEqual([
        { plaintext: 'AIza-saved-meanwhile-012', keyIndex: 0 },
      ]);
      expect(findLeaks([rotated.stdout, rotated.stderr, caughtUp.stdout, caughtUp.stderr], [OLD, NEW])).toEqual([]);
    } finally {
      fs.rmSync(keyFolder, { recursive: true, force: true });
    }
  });
});

describe("Laminar's public default key", () => {
  it('is never sealed under without --allow-public-key, and then loudly', async () => {
    await addManyProviderKeys(t, project, 3, OLD);
    const before = await snapshotProviderKeys(t);
    const refused = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'laminar-default', '--yes'], { env: env(), cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--to is Laminar's PUBLIC default key.*--allow-public-key/s);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const set = await runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:V', '--yes'], {
      env: env({ AEAD_SECRET_KEY: DEFAULT_KEY_HEX, V: 'sk-x-0123456789' }),
      cwd: dir,
    });
    expect(set.code).toBe(2);
    const allowed = await runCli(
      ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'laminar-default', '--yes', '--allow-public-key', '--no-backup'],
      { env: env(), cwd: dir },
    );
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/WARNING: sealing under Laminar's PUBLIC default key/);
  });

  it('a backup of values rotated off it is flagged as readable by anyone who can read the file', async () => {
    await addManyProviderKeys(t, project, 3, DEFAULT_KEY_HEX);
    const result = await runCli(['rotate', '--from', 'laminar-default', '--to', 'env:AEAD_SECRET_KEY', '--yes', '--backup', 'b.jsonl'], {
      env: env(),
      cwd: dir,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/WARNING: this backup holds old values sealed under Laminar's PUBLIC default key.*rm b.jsonl/s);
  });
});

describe('very many failing values', () => {
  it('45,000 values that no key opens: doctor summarises (no crash), exit 1; --json and --all list them all', async () => {
    await addManyProviderKeys(t, project, 45_000, newKeyHex());
    const human = await runCli(['doctor'], { env: env(), cwd: dir });
    expect(human.stderr).not.toMatch(/internal error|Maximum call stack/);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/45000 values fail\. By cause:/);
    expect(human.stdout).toMatch(/and 44980 more: list them all with `lmnr-keys doctor --all`/);
    // Nearly everything failing: the key is the first suspect, and quarantine is not suggested.
    expect(human.stdout).toMatch(/First question: is AEAD_SECRET_KEY \(fingerprint \w{8}\) the key Laminar runs with\?/);
    expect(human.stdout).not.toMatch(/lmnr-keys quarantine/);
    expect(human.stdout.split('\n').length).toBeLessThan(400);
    const json = await runCli(['doctor', '--json'], { env: env(), cwd: dir });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).findings).toHaveLength(45_000);
    const all = await runCli(['doctor', '--all'], { env: env(), cwd: dir });
    expect(all.code).toBe(1);
    expect(all.stdout.split('\n').length).toBeGreaterThan(3 * 45_000);
    // quarantine will not take out most of a store without --expect.
    const quarantine = await runCli(['quarantine', '--yes', '--no-backup'], { env: env(), cwd: dir });
    expect(quarantine.code).toBe(2);
    expect(quarantine.stderr).toMatch(/refusing: this run would take out 45000 values \(more than 100\), which needs --expect 45000/);
    const plan = await runCli(['quarantine', '--dry-run'], { env: env(), cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stderr).toMatch(/warning: this run would take out 45000 values .*which needs --expect 45000/);
    // An --expect that is not the count refuses, and writes nothing.
    const wrong = await runCli(['quarantine', '--yes', '--no-backup', '--expect', '44999'], { env: env(), cwd: dir });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/refusing: --expect 44999 was given, but this run would take out 45000 values/);
    expect((await t.query('select count(*)::int as n from provider_api_keys')).rows[0].n).toBe(45_000);
  }, 120_000);
});

describe('the database and where writes go', () => {
  it("Laminar's tables in their own schema (POSTGRES_SCHEMA, Helm's global.postgresSchema): found on that search_path", async () => {
    const other = await createTestDatabase({ schema: false });
    const client = new pg.Client({ connectionString: other.url });
    await client.connect();
    try {
      const sealed = await seal(OLD, 'sk-in-a-schema-0123456', 'OPENAI_API_KEY');
      await client.query('create schema laminar; set search_path to laminar');
      await client.query(LAMINAR_SCHEMA_SQL);
      await client.query(`insert into workspaces (id, name) values ('${randomUUID()}', 'W') returning id`).then(async ({ rows }) => {
        const projectId = randomUUID();
        await client.query('insert into projects (id, name, workspace_id) values ($1, $2, $3)', [projectId, 'P', rows[0].id]);
        await client.query('insert into provider_api_keys (project_id, name, nonce_hex, value) values ($1, $2, $3, $4)', [
          projectId,
          'OPENAI_API_KEY',
          sealed.nonceHex,
          sealed.ciphertextHex,
        ]);
      });
      const without = await runCli(['doctor', '--json'], { env: env({ DATABASE_URL: other.url }), cwd: dir });
      expect(without.code).toBe(3);
      expect(JSON.parse(without.stdout).error.hint).toMatch(/POSTGRES_SCHEMA/);
      const found = await runCli(['doctor', '--json'], { env: env({ DATABASE_URL: other.url, POSTGRES_SCHEMA: 'laminar' }), cwd: dir });
      expect(found.code).toBe(0);
      expect(JSON.parse(found.stdout).summary).toEqual({ total: 1, ok: 1, failing: 0 });
    } finally {
      await client.end();
      await other.drop();
    }
  });

  it("a database that is not Laminar's exits 3, for reads and writes", async () => {
    const empty = await createTestDatabase({ schema: false });
    try {
      for (const args of [['doctor'], ['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes'], ['verify-provider']]) {
        const result = await runCli([...args, '--json'], { env: env({ DATABASE_URL: empty.url }), cwd: dir });
        expect(result.code, args[0]).toBe(3);
        expect(JSON.parse(result.stdout).error.message).toMatch(/this is not Laminar's database/);
      }
    } finally {
      await empty.drop();
    }
  });

  it('every write plan names its target and why there (the shell wins over --env-file, and says so)', async () => {
    await addManyProviderKeys(t, project, 3, OLD);
    fs.writeFileSync(path.join(dir, 'laminar.env'), `DATABASE_URL=${withDatabaseName(t.url, 'elsewhere')}\n`);
    const result = await runCli(
      ['rotate', '--env-file', 'laminar.env', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--dry-run'],
      { env: env(), cwd: dir },
    );
    expect(result.code).toBe(0);
    const url = new URL(t.url);
    expect(result.stderr).toContain(
      `Planning against Postgres at ${url.hostname}:${url.port}/${t.name} as postgres ` +
        `(DATABASE_URL from the environment, which wins over laminar.env)`,
    );
  });

  it('restore refuses a backup taken from another database unless --force', async () => {
    await addManyProviderKeys(t, project, 3, OLD);
    const rotated = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW_KEY', '--yes', '--backup', 'b.jsonl'], {
      env: env(),
      cwd: dir,
    });
    expect(rotated.code).toBe(0);
    const other = await createTestDatabase();
    try {
      const refused = await runCli(['restore', 'b.jsonl', '--yes'], { env: env({ DATABASE_URL: other.url }), cwd: dir });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/this backup was taken from another database/);
      const forced = await runCli(['restore', 'b.jsonl', '--yes', '--force', '--json'], {
        env: env({ DATABASE_URL: other.url }),
        cwd: dir,
      });
      expect(JSON.parse(forced.stdout)).toMatchObject({ restored: 0 });
    } finally {
      await other.drop();
    }
    const back = await runCli(['restore', 'b.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(back.stdout)).toMatchObject({ ok: true, restored: 3 });
  });
});

describe('a database password with raw URL characters', () => {
  it.each([
    ['@ and /', 'my@secretpart/otherpart'],
    ['#', 'abc#def@x'],
    ['? and @', 'pq7?Zr9@Xs4'],
    // psql splits at the first raw @, node-postgres at the last: they would disagree on the password.
    ['two @', 'WrOng@passpart'],
  ])('%s: exit 3, "percent-encode", and no part of the URL but its scheme is printed', async (_what, password) => {
    const url = new URL(t.url);
    const raw = `postgres://lmnr:${password}@${url.host}/${t.name}`;
    for (const json of [false, true]) {
      const result = await runCli(['doctor', ...(json ? ['--json'] : [])], { env: { DATABASE_URL: raw, AEAD_SECRET_KEY: OLD }, cwd: dir });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/percent-encode the password/);
      for (const part of password.split(/[@/#?]/).filter((p) => p.length >= 2)) expect(result.stdout + result.stderr).not.toContain(part);
      expect(result.stdout + result.stderr).not.toContain(url.host);
    }
  });
});

describe('text from outside is printed inert', () => {
  let server: http.Server;
  let base: string;
  const ESC = '\u001b';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.includes('huge')) {
          // 5 MB without a space, asterisks throughout: what made the old redaction never finish.
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'sk-abc***'.repeat(600_000), type: 'invalid_request_error' } }));
          return;
        }
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: `${ESC}[2J${ESC}]0;pwned${ESC}\\bad key${ESC}[31m red`,
              type: 'invalid_request_error',
              code: 'invalid_api_key',
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('escape sequences in a provider message and in a project name never reach the terminal raw', async () => {
    const named = await addProject(t, await addWorkspace(t, `W${ESC}[2J`), `P${ESC}]0;title${ESC}\\`);
    await addProviderKey(t, named, 'OPENAI_API_KEY', 'sk-escape-0123456789', OLD);
    const verify = await runCli(['verify-provider', '--base-url', `openai=${base}/openai`, '--max-retry-wait', '0'], {
      env: env(),
      cwd: dir,
    });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/invalid key/);
    expect(verify.stdout + verify.stderr).not.toContain(ESC);
    expect(verify.stdout).toContain('\\u{1b}[2J');
    await addProviderKey(t, named, 'GEMINI_API_KEY', 'AIza-lost-0123456789', newKeyHex());
    const doctor = await runCli(['doctor'], { env: env(), cwd: dir });
    expect(doctor.stdout + doctor.stderr).not.toContain(ESC);
  });

  it('a 5 MB hostile body is read up to a cap and classified within the timeout', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-huge-0123456789ab', OLD);
    const result = await runCli(['verify-provider', '--base-url', `openai=${base}/huge`, '--timeout', '10000', '--json'], {
      env: env(),
      cwd: dir,
      timeoutMs: 30_000,
    });
    expect(result.code).toBe(1);
    const [only] = JSON.parse(result.stdout).results;
    expect(only).toMatchObject({ status: 'provider_error', httpStatus: 400 });
    expect(only.detail.length).toBeLessThanOrEqual(400);
  });
});

describe('keys in files', () => {
  it('gen-secret --out creates the file 0600, prints only the fingerprint, never overwrites', async () => {
    const first = await runCli(['gen-secret', '--out', 'new.key', '--json'], { cwd: dir });
    expect(first.code).toBe(0);
    const key = fs.readFileSync(path.join(dir, 'new.key'), 'utf8').trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.statSync(path.join(dir, 'new.key')).mode & 0o777).toBe(0o600);
    expect(first.stdout + first.stderr).not.toContain(key);
    expect(JSON.parse(first.stdout).fingerprint).toMatch(/^[0-9a-f]{8}$/);
    const again = await runCli(['gen-secret', '--out', 'new.key'], { cwd: dir });
    expect(again.code).toBe(3);
    expect(fs.readFileSync(path.join(dir, 'new.key'), 'utf8').trim()).toBe(key);
  });

  it('only one reference may read stdin, across all flags', async () => {
    const result = await runCli(['rotate', '--from', '-', '--to', '-', '--dry-run'], { env: env(), cwd: dir, input: `${OLD}\n` });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/only one reference can read stdin \(-\), across all flags/);
  });
});
