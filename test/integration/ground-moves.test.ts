/**
 * Nothing lost when the ground moves: the backup's disk filling up, turning read-only or
 * refusing a bigger file mid-run, and SIGTERM, SIGHUP and Ctrl-C in every write. After each:
 * every value is either unchanged in the database or byte for byte in the backup, the run says
 * exactly what it committed (never blaming Postgres for a local disk), and a re-run finishes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addWorkspace } from '../support/seed.js';
import { BIN, runCli, startCli, TEST_HOME } from '../support/cli.js';
import { openBackupFile, type BackupRecord } from '../../src/core/backup.js';
import { createBackupFile, WriteJournal } from '../../src/core/backup.js';
import { applyQuarantine, planQuarantine } from '../../src/core/quarantine.js';
import { loadCipher } from '../../src/crypto/aead.js';
import { checkSecret } from '../../src/crypto/keys.js';
import { STORES } from '../../src/stores/stores.js';
import { LocalFileError } from '../../src/errors.js';
import { faultyFileSystem } from '../support/faulty-fs.js';

const LOST = newKeyHex();
const CURRENT = newKeyHex();
const isRoot = process.getuid?.() === 0;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-ground-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

type Row = { id: string; nonce_hex: string; value: string };
const rowsOf = async (t: TestDatabase): Promise<Map<string, Row>> =>
  new Map((await t.query('select id::text, nonce_hex, value from provider_api_keys')).rows.map((r: Row) => [r.id, r]));

/**
 * The promise itself: every value seeded is in the database as it was, or (when taken out)
 * byte for byte in one of the backups, as a record of a batch that committed.
 */
async function expectNothingLost(t: TestDatabase, before: Map<string, Row>, backups: string[]): Promise<number> {
  const now = await rowsOf(t);
  const saved = new Map<string, BackupRecord>();
  for (const file of backups.filter((f) => fs.existsSync(f)))
    for (const record of openBackupFile(file, () => true).newestFirst()) saved.set(record.id, record);
  let gone = 0;
  for (const [id, row] of before) {
    const current = now.get(id);
    if (current) {
      expect(current).toEqual(row);
      continue;
    }
    gone += 1;
    const record = saved.get(id);
    expect(record, `value ${id} is in neither the database nor a backup`).toBeDefined();
    expect(record!.type).toBe('delete');
    if (record!.type === 'delete')
      expect({ nonce: record!.row.nonce_hex, value: record!.row.value }).toEqual({ nonce: row.nonce_hex, value: row.value });
  }
  return gone;
}

async function until(condition: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function seedLost(t: TestDatabase, count: number): Promise<void> {
  const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
  await addManyProviderKeys(t, project, count, LOST);
}

const env = (t: TestDatabase, extra: Record<string, string> = {}) => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: CURRENT, ...extra });
const backupIn = (folder: string) =>
  fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => path.join(folder, f));

describe('no commit after a failed backup write (the core, a real Postgres, a file layer that fails)', () => {
  it('quarantine: the disk full at several points; every value unchanged or in the backup, the journal exact', async () => {
    await loadCipher();
    for (const fullAt of [200, 30_000, 120_000, 260_000]) {
      const t = await createTestDatabase();
      try {
        await seedLost(t, 1200);
        const before = await rowsOf(t);
        const secrets = { aead: checkSecret('AEAD_SECRET_KEY', CURRENT), slack: checkSecret('SLACK_ENCRYPTION_KEY', undefined) };
        const options = { stores: STORES, ids: [], secrets, candidates: [], batchSize: 500 };
        const plan = await planQuarantine(t.db, options);
        expect(plan.count).toBe(1200);
        const file = path.join(dir, `q-${fullAt}.jsonl`);
        const backup = createBackupFile(
          file,
          () => ({
            type: 'header',
            version: 1,
            tool: 'lmnr-keys',
            operation: 'quarantine',
            createdAt: '',
            database: '',
            toFingerprint: null,
          }),
          faultyFileSystem({ fullAt }),
        );
        const journal = new WriteJournal(backup);
        const failed = await applyQuarantine(t.db, plan, options, { backup, journal, signal: new AbortController().signal }).then(
          () => null,
          (error: unknown) => error,
        );
        backup.close();
        expect(failed).toBeInstanceOf(LocalFileError);
        const gone = await expectNothingLost(t, before, [file]);
        // What the journal says was committed is exactly what left the database, and the backup holds all of it.
        expect(journal.committedValues).toBe(gone);
        expect(journal.backupComplete()).toBe(true);
      } finally {
        await t.drop();
      }
    }
  });
});

describe('the backup disk fails mid-run (the bin)', () => {
  it('EFBIG (ulimit -f, no root needed): rotate stops before its next commit, says what committed, exit 3; a re-run finishes', async () => {
    const t = await createTestDatabase();
    try {
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      await addManyProviderKeys(t, project, 1000, LOST);
      const backups = path.join(dir, 'b');
      fs.mkdirSync(backups);
      // 600 blocks of 512 bytes: about three batches of 100 records fit.
      const run = startCli(
        ['rotate', '--from', 'env:OLD', '--to', 'env:NEW', '--yes', '--batch-size', '100', '--json'],
        { DATABASE_URL: t.url, AEAD_SECRET_KEY: LOST, OLD: LOST, NEW: CURRENT, LMNR_KEYS_BACKUP_DIR: backups },
        'ulimit -f 600',
      );
      expect(await run.exit).toBe(3);
      const document = JSON.parse(run.stdout());
      expect(document).toMatchObject({
        ok: false,
        error: {
          exitCode: 3,
          backupComplete: true,
          exitCodes: { '3': expect.stringMatching(/local environment/), '143': expect.any(String) },
        },
      });
      expect(document.error.message).toMatch(/cannot write the backup file .*\(EFBIG\)/);
      expect(run.stderr()).not.toMatch(/Postgres at .* failed/);
      const committed: number = document.error.committed;
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(1000);
      expect(run.stderr()).toMatch(new RegExp(`${committed} values were changed before the failure`));
      expect(run.stderr()).toMatch(/holds every one of them/);
      const moved = (await t.query('select count(*)::int as n from provider_api_keys')).rows[0].n;
      expect(moved).toBe(1000);
      const rerun = await runCli(['rotate', '--from', 'env:OLD', '--to', 'env:NEW', '--yes', '--json'], {
        env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: LOST, OLD: LOST, NEW: CURRENT, LMNR_KEYS_BACKUP_DIR: backups },
      });
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout).summary).toMatchObject({ rotated: 1000 - committed, alreadyCurrent: committed });
    } finally {
      await t.drop();
    }
  });

  it('a backup that cannot fit is refused before anything is written (exit 3, "needs about")', async (context) => {
    const t = await createTestDatabase();
    try {
      await seedLost(t, 300);
      const before = await rowsOf(t);
      if (!isRoot) {
        console.warn('*** SKIPPED: not root; the room check on a real small disk did not run ***');
        return context.skip();
      }
      const small = path.join(dir, 'small');
      fs.mkdirSync(small);
      if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]).status !== 0) {
        console.warn('*** SKIPPED: mounting a tmpfs was refused; the room check on a real small disk did not run ***');
        return context.skip();
      }
      try {
        const refused = await runCli(['quarantine', '--yes', '--expect', '300', '--json'], {
          env: env(t, { LMNR_KEYS_BACKUP_DIR: small }),
        });
        expect(refused.code).toBe(3);
        expect(refused.stderr).toMatch(/the backup needs about [\d.]+ MB, and only [\d.]+ MB are free at .*small; nothing was written/);
        expect(await rowsOf(t)).toEqual(before);
        expect(fs.readdirSync(small)).toEqual([]);
        const dry = await runCli(['quarantine', '--dry-run', '--json'], { env: env(t) });
        expect(JSON.parse(dry.stdout).backupEstimateBytes).toBeGreaterThan(64 * 1024);
      } finally {
        spawnSync('umount', [small]);
      }
    } finally {
      await t.drop();
    }
  });

  it('EROFS: a read-only backup volume (root: a tmpfs remounted read-only) is refused before anything is written; no Postgres blamed', async (context) => {
    if (!isRoot) {
      console.warn('*** SKIPPED: not root; the EROFS test on a real tmpfs did not run ***');
      return context.skip();
    }
    const t = await createTestDatabase();
    const disk = path.join(dir, 'ro');
    fs.mkdirSync(disk);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]).status !== 0) {
      console.warn('*** SKIPPED: mounting a tmpfs was refused; the EROFS test did not run ***');
      await t.drop();
      return context.skip();
    }
    try {
      // Linux refuses to remount read-only while a file is open for writing: the volume turns read-only before the run.
      expect(spawnSync('mount', ['-o', 'remount,ro', disk]).status).toBe(0);
      await seedLost(t, 600);
      const before = await rowsOf(t);
      const run = await runCli(['quarantine', '--yes', '--expect', '600', '--json'], { env: env(t, { LMNR_KEYS_BACKUP_DIR: disk }) });
      expect(run.code).toBe(3);
      expect(JSON.parse(run.stdout).error).toMatchObject({ exitCode: 3 });
      expect(run.stderr).toMatch(/cannot write a backup in .*ro \(EROFS\)/);
      expect(run.stderr).not.toMatch(/Postgres at .* failed/);
      expect(await rowsOf(t)).toEqual(before);
    } finally {
      spawnSync('umount', ['-l', disk]);
      await t.drop();
    }
  });

  for (const fault of ['ENOSPC'] as const) {
    it(`${fault} on a real file system, mid-quarantine (root: a tmpfs filled between batches)`, async (context) => {
      if (!isRoot) {
        console.warn(`*** SKIPPED: not root; the ${fault} test on a real tmpfs did not run ***`);
        return context.skip();
      }
      const t = await createTestDatabase();
      const disk = path.join(dir, 'disk');
      fs.mkdirSync(disk);
      if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]).status !== 0) {
        console.warn(`*** SKIPPED: mounting a tmpfs was refused; the ${fault} test did not run ***`);
        await t.drop();
        return context.skip();
      }
      try {
        await seedLost(t, 6000);
        const before = await rowsOf(t);
        const run = startCli(['quarantine', '--yes', '--expect', '6000', '--json'], env(t, { LMNR_KEYS_BACKUP_DIR: disk }));
        // Frozen as soon as its first batch's backup is on disk; the disk then fails under it.
        await until(() => backupIn(disk).some((file) => fs.statSync(file).size > 100_000), 'the first backup batch');
        run.child.kill('SIGSTOP');
        spawnSync('sh', ['-c', `dd if=/dev/zero of=${disk}/filler bs=64k 2>/dev/null; true`]);
        run.child.kill('SIGCONT');
        expect(await run.exit).toBe(3);
        const document = JSON.parse(run.stdout());
        expect(document.error.message).toMatch(new RegExp(`\\(${fault}\\)`));
        expect(run.stderr()).not.toMatch(/Postgres at .* failed/);
        const gone = await expectNothingLost(t, before, backupIn(disk));
        expect(document.error.committed).toBe(gone);
        expect(gone).toBeGreaterThan(0);
        expect(gone).toBeLessThan(6000);
        expect(document.error.backupComplete).toBe(true);
        // Room again: a re-run with another folder finishes, and nothing is lost across both backups.
        const elsewhere = path.join(dir, 'elsewhere');
        const rerun = await runCli(['quarantine', '--yes', '--expect', String(6000 - gone), '--json'], {
          env: env(t, { LMNR_KEYS_BACKUP_DIR: elsewhere }),
        });
        expect(rerun.code).toBe(0);
        expect(JSON.parse(rerun.stdout).removed).toBe(6000 - gone);
        expect(await expectNothingLost(t, before, [...backupIn(disk), ...backupIn(elsewhere)])).toBe(6000);
      } finally {
        spawnSync('umount', ['-l', disk]);
        await t.drop();
      }
    });
  }
});

describe('stdout that cannot be written', () => {
  it("a full disk under `> file` (/dev/full): one line on stderr, exit 3; a closed pipe (`| head`) is the reader's choice, not an error", async () => {
    const t = await createTestDatabase();
    try {
      await seedLost(t, 50);
      const full = spawnSync('sh', ['-c', `"${process.execPath}" -- "${BIN}" doctor --json > /dev/full`], {
        env: { PATH: process.env.PATH ?? '', HOME: TEST_HOME, CI: 'true', ...env(t) },
        encoding: 'utf8',
      });
      expect(full.status).toBe(3);
      expect(full.stderr).toMatch(/^error: cannot write to standard output \(ENOSPC\): the output is incomplete$/m);
      const head = spawnSync('sh', ['-c', `"${process.execPath}" -- "${BIN}" doctor --all | head -c 10 > /dev/null; exit 0`], {
        env: { PATH: process.env.PATH ?? '', HOME: TEST_HOME, CI: 'true', ...env(t) },
        encoding: 'utf8',
      });
      expect(head.stderr).not.toMatch(/EPIPE|cannot write to standard output/);
    } finally {
      await t.drop();
    }
  });
});

describe('every stop request is honoured by every write', () => {
  const removed = async (t: TestDatabase, total: number) =>
    total - Number((await t.query('select count(*)::int as n from provider_api_keys')).rows[0].n);

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} mid-quarantine and mid-restore: stop after the batch in flight, say what committed, exit ${code}; the rest is untouched`, async () => {
      const t = await createTestDatabase();
      try {
        await seedLost(t, 12_000);
        const before = await rowsOf(t);
        const backups = path.join(dir, 'b');
        const quarantine = startCli(['quarantine', '--yes', '--expect', '12000'], env(t, { LMNR_KEYS_BACKUP_DIR: backups }));
        await until(async () => (await removed(t, 12_000)) >= 5000, 'a few batches taken out');
        quarantine.child.kill(signal);
        expect(await quarantine.exit).toBe(code);
        const gone = await expectNothingLost(t, before, fs.existsSync(backups) ? backupIn(backups) : []);
        expect(gone).toBeLessThan(12_000);
        expect(quarantine.stderr()).toMatch(new RegExp(`stopping after the batch in flight`));
        expect(quarantine.stderr()).toMatch(
          new RegExp(`stopped after the batch in flight; ${gone} values changed in committed batches, backup at `),
        );
        // Restore what was taken out, stopped the same way half-way.
        const [file] = backupIn(backups);
        const restore = startCli(['restore', file!, '--yes'], env(t));
        await until(async () => (await removed(t, 12_000)) <= gone - 1000 || restore.child.exitCode !== null, 'a few batches restored');
        restore.child.kill(signal);
        expect(await restore.exit).toBe(code);
        const back = gone - (await removed(t, 12_000));
        expect(back).toBeGreaterThan(0);
        expect(back).toBeLessThan(gone);
        expect(restore.stderr()).toMatch(new RegExp(`stopped after the batch in flight; ${back} values changed in committed batches`));
        await expectNothingLost(t, before, [file!]);
        // The same restore again finishes.
        const again = await runCli(['restore', file!, '--yes', '--json'], { env: env(t) });
        expect(again.code).toBe(0);
        expect(await rowsOf(t)).toEqual(before);
      } finally {
        await t.drop();
      }
    });
  }

  it('SIGTERM mid-rotate: one line, exit 143, nothing lost; the same command finishes', async () => {
    const t = await createTestDatabase();
    try {
      const project = await addProject(t, await addWorkspace(t, 'W'), 'P');
      await addManyProviderKeys(t, project, 20_000, LOST);
      const keys = { DATABASE_URL: t.url, AEAD_SECRET_KEY: LOST, OLD: LOST, NEW: CURRENT };
      await t.query('create table original as select id, nonce_hex from provider_api_keys');
      const changed = async () =>
        Number(
          (await t.query('select count(*)::int as n from provider_api_keys p join original o using (id) where p.nonce_hex <> o.nonce_hex'))
            .rows[0].n,
        );
      const run = startCli(['rotate', '--from', 'env:OLD', '--to', 'env:NEW', '--yes', '--batch-size', '500'], keys);
      await until(async () => (await changed()) >= 1000, 'a few batches re-sealed');
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(143);
      expect(run.stderr()).toMatch(/stopped by SIGTERM: stopping after the batch in flight/);
      expect(run.stderr()).toMatch(
        /stopped by SIGTERM: stopped after the batch in flight; \d+ values changed in committed batches, backup at /,
      );
      const rerun = await runCli(['rotate', '--from', 'env:OLD', '--to', 'env:NEW', '--yes', '--json'], { env: keys });
      expect(rerun.code).toBe(0);
      expect(JSON.parse(rerun.stdout).summary.total).toBe(20_000);
    } finally {
      await t.drop();
    }
  });
});

describe('how to finish a stopped quarantine', () => {
  it('names the --expect the rest needs (the same command would be refused), and that command finishes', async () => {
    const t = await createTestDatabase();
    try {
      await seedLost(t, 12_000);
      const before = await rowsOf(t);
      const backups = path.join(dir, 'b');
      const run = startCli(['quarantine', '--yes', '--expect', '12000', '--batch-size', '100'], env(t, { LMNR_KEYS_BACKUP_DIR: backups }));
      await until(
        async () => 12_000 - Number((await t.query('select count(*)::int as n from provider_api_keys')).rows[0].n) >= 2000,
        'a few batches taken out',
      );
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(143);
      const gone = await expectNothingLost(t, before, backupIn(backups));
      const rest = 12_000 - gone;
      const printed = new RegExp(`run \`(lmnr-keys quarantine --expect ${rest} --yes)\` to take out the rest`);
      expect(run.stderr()).toMatch(printed);
      const again = await runCli(printed.exec(run.stderr())![1]!.split(' ').slice(1), { env: env(t, { LMNR_KEYS_BACKUP_DIR: backups }) });
      expect(again.code).toBe(0);
      expect(await expectNothingLost(t, before, backupIn(backups))).toBe(12_000);
    } finally {
      await t.drop();
    }
  });
});
