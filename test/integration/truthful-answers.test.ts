/**
 * Truthful answers where an operator acts on them: which database was read and why there, an
 * empty database said plainly, a backup's missing table in one line, what `set` stores, a key
 * piped from a TTY, the writer lock and its holder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addProject, addProviderKey, addWorkspace } from '../support/seed.js';
import { runCli, startCli } from '../support/cli.js';
import { snapshotProviderKeys } from '../support/verify.js';
import { LOCK_CLASS_ID, LOCK_OBJECT_ID } from '../../src/db/lock.js';

const AEAD = newKeyHex();
let t: TestDatabase;
let dir: string;
let project: string;

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-truth-'));
  project = await addProject(t, await addWorkspace(t, 'Acme'), 'Chatbot');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('which database, which key', () => {
  it('names the database on stderr; a DATABASE_URL in the shell that beats what --env-file gives is said, whatever form the file gives it in; JSON carries target', async () => {
    const url = new URL(t.url);
    // The env file names another database with Laminar's compose variables (POSTGRES_*), not DATABASE_URL.
    fs.writeFileSync(
      path.join(dir, '.env'),
      `POSTGRES_USER=postgres\nPOSTGRES_PASSWORD=elsewhere\nPOSTGRES_DB=laminar_prod\nPOSTGRES_PORT=5433\nAEAD_SECRET_KEY=${AEAD}\n`,
    );
    const result = await runCli(['doctor', '--env-file', '.env', '--json'], { env: { DATABASE_URL: t.url }, cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(`^Reading Postgres at ${url.hostname}:${url.port}/${t.name} as \\S+ \\(DATABASE_URL from the environment\\)`, 'm'),
    );
    expect(result.stderr).toMatch(
      /note: the environment wins: \S+ as \S+ \(DATABASE_URL from the environment\), not localhost:5433\/laminar_prod as postgres \(POSTGRES_.*\); unset it in this shell if the env file is right/,
    );
    expect(JSON.parse(result.stdout).target).toEqual({
      host: url.hostname,
      port: Number(url.port),
      database: t.name,
      user: decodeURIComponent(url.username),
      source: 'DATABASE_URL from the environment',
    });
    expect(result.stderr + result.stdout).not.toContain('elsewhere');
  });

  it('a Laminar database that holds no secret says "no stored secrets yet" (exit 0), not "healthy: all 0"', async () => {
    const human = await runCli(['doctor'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Verdict: no stored secrets yet/);
    expect(human.stdout).not.toMatch(/all 0 stored secrets/);
    const json = JSON.parse((await runCli(['doctor', '--json'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } })).stdout);
    expect(json.summary.total).toBe(0);
    expect(json.verdict).toMatchObject({ ok: true, noSecretsYet: true });
  });

  it("restore --force into a database without the backup's table: one line naming the table and the database, exit 3", async () => {
    const value = 'sk-restore-0123456789';
    await addProviderKey(t, project, 'OPENAI_API_KEY', value, AEAD);
    const backup = path.join(dir, 'set.jsonl');
    process.env.V_IN_TEST = value;
    const set = await runCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:V', '--yes', '--backup', backup], {
      env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, V: 'sk-new-0123456789' },
    });
    expect(set.code).toBe(0);
    // A Laminar database (its other tables are there) that lacks the backup's table.
    const bare = await createTestDatabase();
    try {
      await bare.query('drop table provider_api_keys');
      const restore = await runCli(['restore', backup, '--yes', '--force'], { env: { DATABASE_URL: bare.url, AEAD_SECRET_KEY: AEAD } });
      expect(restore.code).toBe(3);
      expect(restore.stderr).toMatch(/error: the backup holds provider_api_keys values, but \S+\/lk_\w+ has no table provider_api_keys/);
      expect(restore.stderr).not.toMatch(/42P01/);
    } finally {
      await bare.drop();
    }
  });
});

describe('what set writes', () => {
  const base = () => ['set', '--project', project, '--name', 'OPENAI_API_KEY', '--yes', '--no-backup', '--json'];
  const stored = async () => {
    const { openAll } = await import('../support/verify.js');
    return [...(await openAll(t, [AEAD])).values()].map((v) => v.plaintext);
  };

  it('cleans a pasted value and says so (JSON cleaned); --raw stores exactly what the reference yields', async () => {
    const cleaned = await runCli([...base(), '--value', 'env:V'], {
      env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, V: ' "sk-pasted-0123456789"\n' },
    });
    expect(cleaned.code).toBe(0);
    expect(JSON.parse(cleaned.stdout).cleaned).toEqual(['whitespace', 'quotes']);
    expect(cleaned.stderr).toMatch(/note: --value was cleaned before use \(whitespace, quotes removed\).*--raw stores the value as it is/);
    expect(await stored()).toEqual(['sk-pasted-0123456789']);
    const raw = await runCli([...base(), '--value', '-', '--raw'], {
      env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD },
      input: 'sk-raw 0123456789\n',
    });
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout).cleaned).toEqual([]);
    expect(await stored()).toEqual(['sk-raw 0123456789\n']);
  });

  it('--raw --keep is a usage error; an empty stdin is "stdin was empty", exit 2', async () => {
    const both = await runCli([...base(), '--raw', '--keep', project], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--raw and --keep exclude each other/);
    const before = await snapshotProviderKeys(t);
    const empty = await runCli([...base(), '--value', '-'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD }, input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/error: stdin was empty: there is no value to use/);
    expect(empty.stderr).not.toMatch(/value-1/);
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });
});

describe('fingerprint and a TTY', () => {
  it('a key piped with CR LF (docker compose exec without -T) is fingerprinted without the CR, with a note; from a file the CR stays a finding', async () => {
    const piped = await runCli(['fingerprint'], { input: `${AEAD}\r\n` });
    const clean = await runCli(['fingerprint'], { input: `${AEAD}\n` });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe(clean.stdout);
    expect(piped.stderr).toMatch(/note: stdin ended in a trailing carriage return, probably from a TTY/);
    expect(JSON.parse((await runCli(['fingerprint', '--json'], { input: `${AEAD}\r\n` })).stdout)).toMatchObject({
      ttyLineEnding: true,
      status: 'ok',
    });
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, `${AEAD}\r\n`);
    const fromFile = await runCli(['fingerprint', `file:${file}`]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toMatch(/carriage return|CR/);
  });
});

describe('the writer lock', () => {
  it('held by a session that is not lmnr-keys: the write exits 4 naming its backend pid and application_name, writing nothing', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-lock-0123456789', AEAD);
    const holder = new pg.Client({ connectionString: t.url, application_name: 'nightly-script' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS_ID, LOCK_OBJECT_ID]);
      const pid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid;
      const before = await snapshotProviderKeys(t);
      const rotate = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW', '--yes', '--no-backup'], {
        env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, NEW: newKeyHex() },
      });
      expect(rotate.code).toBe(4);
      expect(rotate.stderr).toContain(
        `the lmnr-keys writer lock is held by backend pid ${pid} (application_name "nightly-script"), which is not lmnr-keys`,
      );
      expect(await snapshotProviderKeys(t)).toEqual(before);
    } finally {
      await holder.end();
    }
  });

  it('SIGTERM while `set --wait` queues for the lock: it leaves at once (exit 143), nothing written', async () => {
    await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-before-the-wait-0123456789', AEAD);
    const holder = new pg.Client({ connectionString: t.url, application_name: 'nightly-script' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS_ID, LOCK_OBJECT_ID]);
      const before = await snapshotProviderKeys(t);
      const run = startCli(['set', '--project', project, '--name', 'OPENAI_API_KEY', '--value', 'env:NEW_VALUE', '--wait', '--yes'], {
        DATABASE_URL: t.url,
        AEAD_SECRET_KEY: AEAD,
        NEW_VALUE: 'sk-after-the-wait-0123456789',
      });
      // Queued: its session waits on the advisory lock (seen from Postgres, not guessed from time).
      for (let tries = 0; ; tries++) {
        const waiting = await holder.query(
          "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and classid = $1 and objid = $2",
          [LOCK_CLASS_ID, LOCK_OBJECT_ID],
        );
        if (waiting.rows[0].n > 0) break;
        if (tries > 300) throw new Error(`set never queued for the lock: ${run.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(143);
      expect(run.stderr()).toMatch(/stopped by SIGTERM/);
      expect(await snapshotProviderKeys(t)).toEqual(before);
    } finally {
      await holder.end();
    }
  });

  it('held by another lmnr-keys writer: exit 4 naming it, deterministically (no race between two processes)', async () => {
    const holder = new pg.Client({ connectionString: t.url, application_name: 'lmnr-keys rotate to 1a2b3c4d' });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS_ID, LOCK_OBJECT_ID]);
      const pid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid;
      const quarantine = await runCli(['quarantine', '--yes'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } });
      expect(quarantine.code).toBe(4);
      expect(quarantine.stderr).toContain(
        `another lmnr-keys rotation or repair is running against this database (backend pid ${pid}, lmnr-keys rotate to 1a2b3c4d)`,
      );
    } finally {
      await holder.end();
    }
  });
});
