/**
 * Repairs without the web UI: `set` (delete and re-add a key, duplicates removed) and
 * `quarantine` (take out values no key can open). Both back up what they remove, write
 * conditionally, read back before commit, and run under the writer lock.
 */
import { randomUUID } from 'node:crypto';
import { encodeAad, sealToText } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { IntegrityError, UsageError } from '../errors.js';
import { assertRowsVisible, checkStorePresence, readRows, scanStore, type SealedRow } from '../stores/scan.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { deleteSealedRows, readWholeRows, updateSealedValues } from '../stores/write.js';
import type { BackupRecord, BackupSink } from './backup.js';
import { describeDependents, findDependentRows, type DependentRows } from '../stores/dependents.js';
import { insertProviderKey, projectExists, readProjectKeys, type ProjectKeyRow } from '../stores/provider-keys.js';
import { diagnoseValue, loadShape, type ValueStatus } from './diagnose.js';
import { keyRingFor, type LaminarSecrets } from './keyring.js';

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
  options: { value: string | null; key: SecretKey; backup: BackupSink | null },
): Promise<SetResult> {
  const result = await replaceInOneTransaction(db, plan, options);
  options.backup?.markCommitted(1, result.replaced.length);
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

export interface QuarantineTarget {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  projectId: string | null;
  name: string;
  status: Exclude<ValueStatus, 'ok' | 'not_utf8' | 'secret_missing'>;
  detail: string | null;
  /** How it is taken out: the row deleted (nothing references it) or the sealed pair emptied in place. */
  action: StoreDefinition['takeOut'];
  /** The sealed pair as read, the condition for taking it out. */
  ciphertextHex: string | null;
  nonceHex: string | null;
}

/** Rows elsewhere that reference the targets' rows: kept (pair emptied in place) or blocking a delete. */
export interface QuarantineDependents extends DependentRows {
  store: StoreName;
  /** kept: the row stays, so they are untouched; blocks_delete: the delete is refused. */
  effect: 'kept' | 'blocks_delete';
}

export interface QuarantinePlan {
  targets: QuarantineTarget[];
  dependents: QuarantineDependents[];
  /** Per store: values read and values that would be taken out (a wrong key makes nearly all look lost). */
  stores: Array<{ store: StoreName; total: number; taken: number }>;
  /** With --id: what each requested id is, when it is not a target (unknown, or it opens). */
  requested: Array<{ id: string; why: string }>;
}

export interface QuarantineResult {
  removed: number;
  /** Changed since the plan (the platform re-saved them, perhaps fixed): left alone. */
  changed: string[];
}

/**
 * Values no key opens: wrong_secret with no key that decrypts it, malformed, incomplete.
 * Values whose store key is missing are never quarantined (setting the key may fix them), nor
 * not_utf8 values (they open; the operator may want the bytes).
 */
export async function planQuarantine(
  db: LaminarDb,
  options: { stores: StoreDefinition[]; ids: string[]; secrets: LaminarSecrets; candidates: SecretKey[]; batchSize: number },
): Promise<QuarantinePlan> {
  const targets: QuarantineTarget[] = [];
  const dependents: QuarantineDependents[] = [];
  const counts: QuarantinePlan['stores'] = [];
  const wantedIds = options.ids.length > 0 ? new Set(options.ids) : null;
  const seen = new Map<string, string>();
  for (const store of options.stores) {
    if (!(await checkStorePresence(db, store)).present) continue;
    await assertRowsVisible(db, [store.table]);
    const ring = keyRingFor(store, options.secrets, options.candidates);
    if (!ring.current) continue;
    const mine: QuarantineTarget[] = [];
    let total = 0;
    for await (const batch of scanStore(db, store, options.batchSize)) {
      for (const row of batch) {
        if (wantedIds && !wantedIds.has(row.id)) continue;
        const diagnosis = diagnoseValue(store, row, ring);
        const status = diagnosis.status;
        if (status !== 'unset') total += 1;
        // Only what no key opens: a malformed value that opens when read as Laminar's web app reads hex is never taken out.
        if (((status === 'malformed' || status === 'wrong_secret') && diagnosis.decryptsWith === null) || status === 'incomplete') {
          mine.push(toTarget(store, row, status, diagnosis.detail));
        } else if (wantedIds) {
          seen.set(
            row.id,
            status === 'ok'
              ? `opens under the current ${ring.secretVariable}`
              : status === 'unset'
                ? 'holds no value'
                : `${status}${diagnosis.decryptsWith ? `, opens with ${diagnosis.decryptsWith}` : ''}`,
          );
        }
      }
    }
    targets.push(...mine);
    counts.push({ store: store.name, total, taken: mine.length });
    const effect = store.takeOut === 'delete_row' ? 'blocks_delete' : 'kept';
    for (const found of await findDependentRows(
      db,
      store,
      mine.map((t) => t.id),
    ))
      dependents.push({ ...found, store: store.name, effect });
  }
  const planned = new Set(targets.map((t) => t.id));
  const requested = options.ids
    .filter((id) => !planned.has(id))
    .map((id) => ({ id, why: seen.get(id) ?? 'no such row in the stores read' }));
  return { targets, dependents, stores: counts, requested };
}

function toTarget(store: StoreDefinition, row: SealedRow, status: QuarantineTarget['status'], detail: string | null): QuarantineTarget {
  return {
    store: store.name,
    id: row.id,
    workspaceId: row.workspaceId,
    projectId: row.projectId,
    name: row.name,
    status,
    detail,
    action: store.takeOut,
    ciphertextHex: row.ciphertextHex,
    nonceHex: row.nonceHex,
  };
}

/**
 * Empties sealed pairs in place or deletes rows nothing references; backup first, conditional
 * on the exact value planned, verified by reading back, one transaction per batch.
 */
export async function runQuarantine(db: LaminarDb, targets: QuarantineTarget[], backup: BackupSink | null): Promise<QuarantineResult> {
  const result: QuarantineResult = { removed: 0, changed: [] };
  let batchNumber = 0;
  for (const store of STORES) {
    const mine = targets.filter((t) => t.store === store.name);
    for (let start = 0; start < mine.length; start += 500) {
      const batch = mine.slice(start, start + 500);
      const number = ++batchNumber;
      const done = await db
        .transaction()
        .execute((trx) =>
          store.takeOut === 'clear_pair' ? clearPairs(trx, store, batch, backup, number) : deleteRows(trx, store, batch, backup, number),
        );
      // After the commit: restore tells this batch's records from those of a batch that never committed.
      backup?.markCommitted(number, done.size);
      result.removed += done.size;
      result.changed.push(...batch.filter((t) => !done.has(t.id)).map((t) => t.id));
    }
  }
  return result;
}

async function clearPairs(
  trx: LaminarDb,
  store: StoreDefinition,
  batch: QuarantineTarget[],
  backup: BackupSink | null,
  number: number,
): Promise<Set<string>> {
  // '' on both sides means "not set" to lmnr-keys and fits every version of Laminar's columns (NOT NULL ones too).
  backup?.append(
    batch.map(
      (t) =>
        ({
          type: 'update',
          store: store.name,
          id: t.id,
          oldNonceHex: t.nonceHex,
          oldCiphertextHex: t.ciphertextHex,
          newNonceHex: '',
          newCiphertextHex: '',
          batch: number,
        }) satisfies BackupRecord,
    ),
  );
  const written = await updateSealedValues(
    trx,
    store,
    batch.map((t) => ({ id: t.id, oldCiphertextHex: t.ciphertextHex, oldNonceHex: t.nonceHex, newCiphertextHex: '', newNonceHex: '' })),
  );
  const readBack = await readRows(trx, store, [...written]);
  if (readBack.length !== written.size || readBack.some((r) => r.ciphertextHex !== '' || r.nonceHex !== '')) {
    throw new IntegrityError(`read-back after clearing ${store.name} failed; rolled back, nothing in this batch was changed`);
  }
  return written;
}

async function deleteRows(
  trx: LaminarDb,
  store: StoreDefinition,
  batch: QuarantineTarget[],
  backup: BackupSink | null,
  number: number,
): Promise<Set<string>> {
  await backUpBeforeDelete(
    trx,
    store,
    batch.map((t) => t.id),
    backup,
    number,
  );
  const deleted = await deleteSealedRows(
    trx,
    store,
    batch.map((t) => ({ id: t.id, ciphertextHex: t.ciphertextHex, nonceHex: t.nonceHex })),
  );
  const readBack = await readRows(trx, store, [...deleted]);
  if (readBack.length > 0)
    throw new IntegrityError(`read-back after deleting from ${store.name} failed; rolled back, nothing in this batch was changed`);
  return deleted;
}

/**
 * What every delete does first, in the deleting transaction: refuse one that would cascade to
 * (or be blocked by) rows no backup holds, then back up each whole row, every column, so restore
 * can insert it again as it was.
 */
async function backUpBeforeDelete(
  trx: LaminarDb,
  store: StoreDefinition,
  ids: string[],
  backup: BackupSink | null,
  batch: number,
): Promise<void> {
  await refuseCascadingDelete(trx, store, ids);
  const whole = await readWholeRows(trx, store, ids);
  backup?.append(
    ids
      .filter((id) => whole.has(id))
      .map((id) => ({ type: 'delete', store: store.name, id, row: whole.get(id)!, batch }) satisfies BackupRecord),
  );
}

/** A delete that would cascade to (or be blocked by) rows no backup holds is never made. */
async function refuseCascadingDelete(trx: LaminarDb, store: StoreDefinition, ids: string[]): Promise<void> {
  const dependents = await findDependentRows(trx, store, ids);
  if (dependents.length === 0) return;
  throw new IntegrityError(
    `refusing to delete from ${store.table}: ${describeDependents(dependents)} ` +
      `reference these rows, and a backup of ${store.table} would not hold them; ` +
      `nothing in this batch was changed`,
    'this database references the table in a way Laminar does not; please report it with `lmnr-keys doctor --json` output',
  );
}
