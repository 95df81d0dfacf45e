/**
 * `set`: the repair "delete and re-add the key" without the web UI (duplicates removed), or
 * --keep one existing row. Backs up what it removes, writes conditionally, reads back before
 * commit, and runs under the writer lock. (quarantine lives in quarantine.ts.)
 */
import { randomUUID } from 'node:crypto';
import { encodeAad, sealToText } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { IntegrityError, UsageError } from '../errors.js';
import { assertRowsVisible, readRows } from '../stores/scan.js';
import { STORES } from '../stores/stores.js';
import { deleteSealedRows } from '../stores/write.js';
import type { BackupSink, WriteJournal } from './backup.js';
import { backUpBeforeDelete } from './quarantine.js';
import { insertProviderKey, projectExists, readProjectKeys, type ProjectKeyRow } from '../stores/provider-keys.js';
import { loadShape } from './diagnose.js';

const providerStore = STORES.find((s) => s.name === 'provider_api_keys')!;

/** What `set` found: the project's rows for the name, and whether each opens under the current key. */
export interface SetPlan {
  projectId: string;
  name: string;
  rows: Array<ProjectKeyRow & { opensUnderCurrentKey: boolean }>;
  /** --keep: the row that stays; every other row of the name is removed. */
  keepId: string | null;
}

export interface SetResult {
  /** The row sealed by this run, or null with --keep. */
  newId: string | null;
  keptId: string | null;
  replaced: string[];
}

/**
 * Reads what `set` would replace, with plain SELECTs (a dry run works under a SELECT-only
 * role). With --keep, the kept row must be one of the name's rows and open under the current
 * key: keeping a row Laminar cannot decode would only hide the problem.
 */
export async function planSet(
  db: LaminarDb,
  options: { projectId: string; name: string; key: SecretKey; keepId: string | null },
): Promise<SetPlan> {
  await assertRowsVisible(db, ['provider_api_keys', 'projects']);
  if (!(await projectExists(db, options.projectId)))
    throw new UsageError(`project ${options.projectId} does not exist`, 'doctor and verify-provider list project ids');
  const rows = (await readProjectKeys(db, options.projectId, options.name, { forUpdate: false })).map((row) => ({
    ...row,
    opensUnderCurrentKey: opensUnder(row, options.name, options.key),
  }));
  if (options.keepId !== null) {
    const kept = rows.find((row) => row.id === options.keepId);
    if (!kept)
      throw new UsageError(
        `--keep ${options.keepId} is not one of the ${options.name} rows of project ${options.projectId}`,
        `its rows: ${rows.map((r) => r.id).join(', ') || 'none'}`,
      );
    if (!kept.opensUnderCurrentKey)
      throw new UsageError(
        `--keep ${options.keepId} does not open under the current AEAD_SECRET_KEY: Laminar could not use it`,
        'keep a row doctor marks "(opens)", or set a new value with --value',
      );
  }
  return { projectId: options.projectId, name: options.name, rows, keepId: options.keepId };
}

function opensUnder(row: ProjectKeyRow, name: string, key: SecretKey): boolean {
  const shape = loadShape(providerStore, {
    id: row.id,
    ciphertextHex: row.ciphertextHex,
    nonceHex: row.nonceHex,
    aad: name,
    projectId: null,
    workspaceId: null,
    name,
  });
  if (shape.kind !== 'loaded') return false;
  const opens = shape.opener.open(key.bytes, encodeAad(name));
  shape.opener.clear();
  return opens;
}

/**
 * In one transaction: re-reads the rows FOR UPDATE and refuses if they changed since the plan,
 * backs up what it removes, inserts the new value (unless --keep), deletes the others
 * conditionally, and reads the new value back before commit.
 */
export async function applySet(
  db: LaminarDb,
  plan: SetPlan,
  options: { value: string | null; key: SecretKey; backup: BackupSink | null; journal: WriteJournal },
): Promise<SetResult> {
  const result = await replaceInOneTransaction(db, plan, options);
  // The rows replaced are in the backup; a new row is not (it did not exist before).
  options.journal.committed(1, result.replaced.length + (result.newId ? 1 : 0), result.replaced.length);
  return result;
}

async function replaceInOneTransaction(
  db: LaminarDb,
  plan: SetPlan,
  options: { value: string | null; key: SecretKey; backup: BackupSink | null },
): Promise<SetResult> {
  return db.transaction().execute(async (trx) => {
    const current = await readProjectKeys(trx, plan.projectId, plan.name, { forUpdate: true });
    const same =
      current.length === plan.rows.length &&
      current.every(
        (row, i) =>
          row.id === plan.rows[i]!.id && row.ciphertextHex === plan.rows[i]!.ciphertextHex && row.nonceHex === plan.rows[i]!.nonceHex,
      );
    if (!same)
      throw new IntegrityError(
        `the ${plan.name} rows of project ${plan.projectId} changed since the plan; nothing was written`,
        'run set again to see the new plan',
      );
    const removed = current.filter((row) => row.id !== plan.keepId);
    await backUpBeforeDelete(
      trx,
      providerStore,
      removed.map((r) => r.id),
      options.backup,
      1,
    );
    let newId: string | null = null;
    let plaintext: Uint8Array | null = null;
    if (plan.keepId === null) {
      if (options.value === null) throw new UsageError('set needs a value or --keep');
      newId = randomUUID();
      plaintext = new TextEncoder().encode(options.value);
      await insertProviderKey(trx, {
        id: newId,
        projectId: plan.projectId,
        name: plan.name,
        sealed: sealToText(options.key.bytes, plaintext, encodeAad(plan.name)),
      });
    }
    const deleted = await deleteSealedRows(
      trx,
      providerStore,
      removed.map((r) => ({ id: r.id, ciphertextHex: r.ciphertextHex, nonceHex: r.nonceHex })),
    );
    if (deleted.size !== removed.length)
      throw new IntegrityError('the key changed while it was being replaced; nothing was written', 'run set again');
    const checkId = newId ?? plan.keepId!;
    const [readBack] = await readRows(trx, providerStore, [checkId]);
    const shape = readBack ? loadShape(providerStore, readBack) : null;
    const opened =
      shape?.kind === 'loaded' && shape.opener.open(options.key.bytes, encodeAad(plan.name)) ? shape.opener.takePlaintext() : null;
    const ok = opened !== null && (plaintext === null || Buffer.compare(opened, plaintext) === 0);
    opened?.fill(0);
    plaintext?.fill(0);
    if (!ok) throw new IntegrityError('read-back of the value that stays failed; rolled back, nothing was written');
    return { newId, keptId: plan.keepId, replaced: removed.map((r) => r.id) };
  });
}
