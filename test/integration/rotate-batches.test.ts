/**
 * rotate's batch write path: the read-back catching a row altered inside the transaction, commit
 * marks telling restore which batches never committed, row counts at start and end, and the
 * committed count a Ctrl-C handler reports.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addProviderKey, addWorkspace } from '../support/seed.js';
import { runCli } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';
import { loadCipher } from '../../src/crypto/aead.js';
import { keyFromHex } from '../../src/crypto/keys.js';
import { runRotation, type RotationProgress } from '../../src/core/rotate.js';
import { findStore } from '../../src/stores/stores.js';

const OLD = newKeyHex();
const NEW = newKeyHex();
let t: TestDatabase;
let dir: string;
let project: string;
const env = () => ({ DATABASE_URL: t.url, AEAD_SECRET_KEY: OLD, OLD_KEY: OLD, NEW_KEY: NEW });
const rotateArgs = ['rotate', '--from', 'env:OLD_KEY', '--to', 'env:NEW_KEY', '--yes', '--json'];

beforeEach(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-batches-'));
  project = await addProject(t, await addWorkspace(t, 'W'), 'P');
});
afterEach(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const backupLines = (file: string) =>
  fs
    .readFileSync(path.join(dir, file), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

describe('read-back inside the batch transaction', () => {
  it('a row altered after our UPDATE (a trigger) rolls its batch back, exit 1; restore then calls that batch never applied', async () => {
    const expected = await addManyProviderKeys(t, project, 60, OLD);
    const before = await snapshotProviderKeys(t);
    const victim = [...expected.keys()].sort()[45]!;
    await t.query(`
      create function lk_test_alter() returns trigger language plpgsql as $$
      begin new.value := upper(new.value); return new; end $$;
      create trigger lk_test_alter before update on provider_api_keys for each row when (new.id = '${victim}') execute function lk_test_alter();`);
    const result = await runCli([...rotateArgs, '--batch-size', '20', '--backup', 'b.jsonl'], { env: env(), cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`read-back check failed for provider_api_keys ${victim}`);
    // Batches 1 and 2 (ids in order) committed; the third, holding the victim, did not.
    const after = await snapshotProviderKeys(t);
    const sorted = [...expected.keys()].sort();
    for (const id of sorted.slice(40)) expect(after.get(id)).toEqual(before.get(id));
    for (const id of sorted.slice(0, 40)) expect(after.get(id)!.nonce_hex).not.toBe(before.get(id)!.nonce_hex);
    const lines = backupLines('b.jsonl');
    expect(lines.filter((l) => l.type === 'commit').map((l) => [l.batch, l.count])).toEqual([
      [1, 20],
      [2, 20],
    ]);
    expect(lines.filter((l) => l.type === 'update' && l.batch === 3)).toHaveLength(20);

    await t.query('drop trigger lk_test_alter on provider_api_keys');
    const restored = await runCli(['restore', 'b.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ total: 60, restored: 40, alreadyRestored: 0, notApplied: 20, leftAlone: [] });
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });

  it('a batch that committed but lost its mark (killed between the two) is still restored', async () => {
    await addManyProviderKeys(t, project, 30, OLD);
    const before = await snapshotProviderKeys(t);
    expect((await runCli([...rotateArgs, '--batch-size', '10', '--backup', 'b.jsonl'], { env: env(), cwd: dir })).code).toBe(0);
    const file = path.join(dir, 'b.jsonl');
    const kept = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !line.includes('"type":"commit","batch":3'));
    fs.writeFileSync(file, kept.join('\n'));
    const restored = await runCli(['restore', 'b.jsonl', '--yes', '--json'], { env: env(), cwd: dir });
    expect(JSON.parse(restored.stdout)).toMatchObject({ total: 30, restored: 30, notApplied: 0, leftAlone: [] });
    expect(await snapshotProviderKeys(t)).toEqual(before);
  });
});

describe('what the result says', () => {
  it('counts rows at start and end, so rows inserted meanwhile are not claimed as read', async () => {
    await addManyProviderKeys(t, project, 3000, OLD);
    let stop = false;
    let inserted = 0;
    const writer = (async () => {
      while (!stop) {
        await addProviderKey(t, project, 'OPENAI_API_KEY', `sk-new-${inserted}`, OLD);
        inserted++;
      }
    })();
    const result = await runCli([...rotateArgs, '--batch-size', '20', '--no-backup'], { env: env(), cwd: dir });
    stop = true;
    await writer;
    expect(result.code).toBe(0);
    const store = JSON.parse(result.stdout).stores[0];
    expect(store.rowsAtStart).toBeGreaterThanOrEqual(3000);
    expect(store.rowsAtEnd).toBeGreaterThan(store.rowsAtStart);
    expect(store.rowsAtEnd).toBeLessThanOrEqual(3000 + inserted);
    // Every value read opens under the new key; the rows inserted meanwhile may not have been read.
    const opened = await openAll(t, [NEW, OLD]);
    expect([...opened.values()].filter((v) => v.keyIndex === 0).length).toBe(store.rotated);
  });

  it('reports committed counts as batches commit (what an interrupted run has done), and none in a dry run', async () => {
    await loadCipher();
    await addManyProviderKeys(t, project, 95, OLD);
    const options = {
      stores: [findStore('provider_api_keys')!],
      from: [keyFromHex('old', OLD)],
      to: keyFromHex('new', NEW),
      batchSize: 20,
    };
    const planned: RotationProgress[] = [];
    await runRotation({ db: t.db, backup: null, onProgress: (p) => planned.push(p) }, { ...options, dryRun: true });
    expect(planned.every((p) => p.committed === 0)).toBe(true);
    const progress: RotationProgress[] = [];
    const result = await t.db
      .connection()
      .execute((conn) => runRotation({ db: conn, backup: null, onProgress: (p) => progress.push(p) }, { ...options, dryRun: false }));
    expect(progress.map((p) => p.committed)).toEqual([20, 40, 60, 80, 95]);
    expect(result.stores[0]).toMatchObject({ total: 95, rotated: 95, rowsAtStart: 95, rowsAtEnd: 95 });
  });
});
