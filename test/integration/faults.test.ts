/** Faults during rotate: kills at random points, a restarting server. Nothing may be lost. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startEmbeddedPostgres } from '../support/embedded.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addWorkspace } from '../support/seed.js';
import { runCli, startCli, quiet } from '../support/cli.js';
import { openAll } from '../support/verify.js';
import { LAMINAR_SCHEMA_SQL } from '../../src/demo/laminar-schema.js';

const OLD = newKeyHex();
const NEW = newKeyHex();
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-faults-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

// Default backups (under the test HOME): every re-run below follows the failed one at once, as a script would.
const rotateArgs = ['rotate', '--from', 'env:OLD_KEY', '--to', 'env:NEW_KEY', '--yes'];

function startRotation(databaseUrl: string, batchSize: number, extra: string[] = []) {
  return startCli([...rotateArgs, '--batch-size', String(batchSize), ...extra], {
    DATABASE_URL: databaseUrl,
    AEAD_SECRET_KEY: OLD,
    OLD_KEY: OLD,
    NEW_KEY: NEW,
  });
}

/** Sends `signal` once `progress()` reaches `target` (or the run has ended by then); resolves with the exit code. */
async function signalAt(
  run: ReturnType<typeof startCli>,
  progress: () => Promise<number>,
  target: number,
  signal: NodeJS.Signals,
): Promise<number | null> {
  let exited = false;
  void run.exit.then(() => (exited = true));
  while (!exited && (await progress()) < target) await new Promise((resolve) => setTimeout(resolve, 10));
  run.child.kill(signal);
  return run.exit;
}

async function rotatedCount(t: TestDatabase, total: number): Promise<number> {
  const opened = await openAll(t, [OLD, NEW]);
  expect(opened.size).toBe(total);
  expect([...opened.values()].every((v) => v.keyIndex >= 0)).toBe(true);
  return [...opened.values()].filter((v) => v.keyIndex === 1).length;
}

/** Waits until no backend of this database has an application_name starting with `prefix`. */
async function untilNoSessionOf(prefix: string, t: TestDatabase): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await t.query(
      'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name like $1 and pid <> pg_backend_pid()',
      [`${prefix}%`],
    );
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error(`a ${prefix} session is still open after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('kill -9 at random points', () => {
  it('over 30,000 values, killed three times: every value ends under the new key with its original bytes', async () => {
    const t = await createTestDatabase();
    try {
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      const expected = await addManyProviderKeys(t, project, 30_000, OLD);
      let previous = 0;
      // Progress is read cheaply from the database: rows whose nonce changed have been re-sealed.
      await t.query('create table original_nonces as select id, nonce_hex from provider_api_keys');
      const resealed = async () =>
        Number(
          (
            await t.query(
              'select count(*)::int as n from provider_api_keys p join original_nonces o using (id) where p.nonce_hex <> o.nonce_hex',
            )
          ).rows[0].n,
        );
      for (const fraction of [0.2, 0.45, 0.7]) {
        // A random point around 20 %, 45 % and 70 % of the way.
        const target = Math.floor(30_000 * (fraction + (Math.random() - 0.5) * 0.1));
        await signalAt(startRotation(t.url, 100), resealed, target, 'SIGKILL');
        // A COMMIT sent just before the kill may still be running in the dead process's backend:
        // count only once that backend is gone, as the re-run will see it.
        await untilNoSessionOf('lmnr-keys', t);
        const now = await rotatedCount(t, 30_000);
        expect(now).toBeGreaterThanOrEqual(previous);
        previous = now;
      }
      expect(previous).toBeLessThan(30_000);
      const rerun = await runCli([...rotateArgs, '--json'], {
        env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD, OLD_KEY: OLD, NEW_KEY: NEW },
        cwd: dir,
      });
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout).summary).toMatchObject({
        total: 30_000,
        alreadyCurrent: previous,
        rotated: 30_000 - previous,
        stuck: 0,
      });
      const opened = await openAll(t, [NEW]);
      expect(opened.size).toBe(30_000);
      for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
    } finally {
      await t.drop();
    }
  });
});

describe('Ctrl-C', () => {
  it('doctor (reading, nothing to undo) leaves at once: one line, exit 130, and still one JSON document', async () => {
    const t = await createTestDatabase();
    const holder = new pg.Client({ connectionString: t.url });
    try {
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      await addManyProviderKeys(t, project, 10, OLD);
      // doctor then waits on this lock inside its read: Ctrl-C arrives mid-run, whatever the machine's speed.
      await holder.connect();
      await holder.query('begin');
      await holder.query('lock table provider_api_keys in access exclusive mode');
      const doctor = startCli(['doctor', '--json'], { DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await t.query(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name like 'lmnr-keys%' and wait_event_type = 'Lock'",
        );
        if (rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error(`doctor never waited on the lock: ${doctor.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      doctor.child.kill('SIGINT');
      expect(await doctor.exit).toBe(130);
      expect(JSON.parse(doctor.stdout())).toMatchObject({
        command: 'doctor',
        ok: false,
        error: { exitCode: 130, message: 'interrupted (Ctrl-C)' },
      });
      expect(quiet(doctor.stderr()).trim().split('\n')).toEqual([
        'interrupted (Ctrl-C) before anything was written; run the same command again',
      ]);
    } finally {
      await holder.end().catch(() => {});
      await t.drop();
    }
  });

  it('stops after the batch in flight, says how far it got and where the backup is; the same command finishes', async () => {
    const t = await createTestDatabase();
    try {
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      const expected = await addManyProviderKeys(t, project, 10_000, OLD);
      await t.query('create table original_nonces as select id, nonce_hex from provider_api_keys');
      const resealed = async () =>
        Number(
          (
            await t.query(
              'select count(*)::int as n from provider_api_keys p join original_nonces o using (id) where p.nonce_hex <> o.nonce_hex',
            )
          ).rows[0].n,
        );
      const run = startRotation(t.url, 50);
      expect(await signalAt(run, resealed, 1000, 'SIGINT')).toBe(130);
      const done = await resealed();
      expect(done).toBeLessThan(10_000);
      expect(run.stdout()).toMatch(
        new RegExp(
          `Interrupted: ${done} values re-sealed so far \\(each batch committed whole\\), ` +
            `backup at \\S+\\.jsonl; run the same command again to finish\\.`,
        ),
      );
      // Interrupted again, with --json: its summary adds up (a batch planned but not written is not counted).
      const second = startRotation(t.url, 50, ['--json']);
      expect(await signalAt(second, resealed, done + 1000, 'SIGINT')).toBe(130);
      const interrupted = JSON.parse(second.stdout()).summary;
      expect(interrupted.rotated + interrupted.alreadyCurrent + interrupted.stuck).toBe(interrupted.total);
      expect(interrupted.alreadyCurrent + interrupted.rotated).toBe(await resealed());
      const doneAfter = await resealed();
      const rerun = await runCli([...rotateArgs, '--json'], {
        env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD, OLD_KEY: OLD, NEW_KEY: NEW },
        cwd: dir,
      });
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout).summary).toMatchObject({ alreadyCurrent: doneAfter, rotated: 10_000 - doneAfter });
      const opened = await openAll(t, [NEW]);
      for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
    } finally {
      await t.drop();
    }
  });
});

describe('Postgres restarted mid-run', () => {
  it('exits 4 with a clear message; a re-run completes with nothing lost', async () => {
    const server = await startEmbeddedPostgres({ persistent: true });
    try {
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query('create database laminar');
      await admin.end();
      const url = server.url.replace(/\/postgres$/, '/laminar');
      const pool = new pg.Pool({ connectionString: url });
      pool.on('error', () => {});
      await pool.query(LAMINAR_SCHEMA_SQL);
      const t = { query: (text: string, values?: unknown[]) => pool.query(text, values) } as unknown as TestDatabase;
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      const expected = await addManyProviderKeys(t, project, 20_000, OLD);
      await pool.query('create table original_nonces as select id, nonce_hex from provider_api_keys');

      const run = startRotation(url, 100);
      // Restart once a few batches have committed, well before the end.
      for (let i = 0; i < 1000; i++) {
        const done = Number(
          (
            await pool.query(
              'select count(*)::int as n from provider_api_keys p join original_nonces o using (id) where p.nonce_hex <> o.nonce_hex',
            )
          ).rows[0].n,
        );
        if (done >= 2000) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await pool.end();
      await server.stopServer();
      const code = await run.exit;
      await server.start();
      expect(code).toBe(4);
      expect(run.stderr()).toMatch(/error: (lost the connection to Postgres|cannot reach Postgres)/);
      expect(run.stderr()).not.toContain(server.password);

      const rerun = await runCli(rotateArgs, { env: { DATABASE_URL: url, AEAD_SECRET_KEY: OLD, OLD_KEY: OLD, NEW_KEY: NEW }, cwd: dir });
      expect(rerun.code).toBe(0);
      const check = new pg.Pool({ connectionString: url });
      const opened = await openAll({ query: (text: string) => check.query(text) } as unknown as TestDatabase, [NEW]);
      await check.end();
      expect(opened.size).toBe(20_000);
      for (const [id, plaintext] of expected) expect(opened.get(id)).toEqual({ plaintext, keyIndex: 0 });
    } finally {
      await server.stop();
    }
  });
});
