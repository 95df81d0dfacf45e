/**
 * Repairs without the web UI: `set` (delete and re-add a key, duplicates removed) and
 * `quarantine` (take out values no key can open). Both back up what they remove, write
 * conditionally, read back before commit, and run under the writer lock.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { encodeAad, sealToText } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { IntegrityError, UsageError } from '../errors.js';
import { assertRowsVisible, checkStorePresence, readRows, scanStore, type SealedRow } from '../stores/scan.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { deleteSealedRows, readWholeRows, updateSealedValues } from '../stores/write.js';
import type { BackupRecord, BackupSink } from './backup.js';
import { describeDependents, findDependentRows, type DependentRows } from '../stores/dependents.js';
import { diagnoseValue, loadShape, type ValueStatus } from './diagnose.js';
import { keyRingFor, type LaminarSecrets } from './keyring.js';

const providerStore = STORES.find((s) => s.name === 'provider_api_keys')!;

export interface SetResult {
  projectId: string;
  name: string;
  newId: string;
  replaced: string[];
}

/** Seals `value` under the current key and replaces the project's rows for `name`, in one transaction. */
export async function setProviderKey(
  db: LaminarDb,
  options: { projectId: string; name: string; value: string; key: SecretKey; backup: BackupSink | null; dryRun?: boolean },
): Promise<SetResult> {
  const projectExists = await sql<{ ok: boolean }>`
    select (to_regclass('projects') is null) or exists(select 1 from projects where id = ${options.projectId}::uuid) as ok`.execute(db);
  await assertRowsVisible(db, ['provider_api_keys', 'projects']);
  if (!projectExists.rows[0]?.ok) throw new UsageError(`project ${options.projectId} does not exist`, 'doctor and verify-provider list project ids');
  return db.transaction().execute(async (trx) => {
    const existing = await sql<{ id: string; value: string; nonce_hex: string }>`
      select id::text as id, value, nonce_hex from provider_api_keys
      where project_id = ${options.projectId}::uuid and name = ${options.name} order by id for update`.execute(trx);
    const newId = randomUUID();
    const result = { projectId: options.projectId, name: options.name, newId, replaced: existing.rows.map((r) => r.id) };
    if (options.dryRun) return result;
    await refuseCascadingDelete(trx, providerStore, result.replaced);
    const whole = await readWholeRows(trx, providerStore, result.replaced);
    options.backup?.append(result.replaced.map((id) => ({ type: 'delete', store: 'provider_api_keys', id, row: whole.get(id)! }) satisfies BackupRecord));
    const plaintext = new TextEncoder().encode(options.value);
    const sealed = sealToText(options.key.bytes, plaintext, encodeAad(options.name));
    await sql`insert into provider_api_keys (id, project_id, name, nonce_hex, value)
      values (${newId}::uuid, ${options.projectId}::uuid, ${options.name}, ${sealed.nonceHex}, ${sealed.ciphertextHex})`.execute(trx);
    const deleted = await deleteSealedRows(trx, providerStore, existing.rows.map((r) => ({ id: r.id, ciphertextHex: r.value, nonceHex: r.nonce_hex })));
    if (deleted.size !== existing.rows.length) throw new IntegrityError('the key changed while it was being replaced; nothing was written', 'run set again');
    const [readBack] = await readRows(trx, providerStore, [newId]);
    const shape = readBack ? loadShape(providerStore, readBack) : null;
    const opened = shape?.kind === 'loaded' && shape.opener.open(options.key.bytes, encodeAad(options.name)) ? shape.opener.takePlaintext() : null;
    const same = opened !== null && Buffer.compare(opened, plaintext) === 0;
    opened?.fill(0);
    plaintext.fill(0);
    if (!same) throw new IntegrityError('read-back of the new value failed; rolled back, nothing was written');
    return result;
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
  const wantedIds = options.ids.length > 0 ? new Set(options.ids) : null;
  for (const store of options.stores) {
    if (!(await checkStorePresence(db, store)).present) continue;
    await assertRowsVisible(db, [store.table]);
    const ring = keyRingFor(store, options.secrets, options.candidates);
    if (!ring.current) continue;
    const mine: QuarantineTarget[] = [];
    for await (const batch of scanStore(db, store, options.batchSize)) {
      for (const row of batch) {
        if (wantedIds && !wantedIds.has(row.id)) continue;
        const diagnosis = diagnoseValue(store, row, ring);
        const status = diagnosis.status;
        if (status === 'malformed' || status === 'incomplete' || (status === 'wrong_secret' && diagnosis.decryptsWith === null)) {
          mine.push(toTarget(store, row, status, diagnosis.detail));
        }
      }
    }
    targets.push(...mine);
    const effect = store.takeOut === 'delete_row' ? 'blocks_delete' : 'kept';
    for (const found of await findDependentRows(db, store, mine.map((t) => t.id))) dependents.push({ ...found, store: store.name, effect });
  }
  return { targets, dependents };
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
  for (const store of STORES) {
    const mine = targets.filter((t) => t.store === store.name);
    for (let start = 0; start < mine.length; start += 500) {
      const batch = mine.slice(start, start + 500);
      const done = await db.transaction().execute((trx) => (store.takeOut === 'clear_pair' ? clearPairs(trx, store, batch, backup) : deleteRows(trx, store, batch, backup)));
      result.removed += done.size;
      result.changed.push(...batch.filter((t) => !done.has(t.id)).map((t) => t.id));
    }
  }
  return result;
}

async function clearPairs(trx: LaminarDb, store: StoreDefinition, batch: QuarantineTarget[], backup: BackupSink | null): Promise<Set<string>> {
  // '' on both sides means "not set" to lmnr-keys and fits every version of Laminar's columns (NOT NULL ones too).
  backup?.append(batch.map((t) => ({ type: 'update', store: store.name, id: t.id, oldNonceHex: t.nonceHex, oldCiphertextHex: t.ciphertextHex, newNonceHex: '', newCiphertextHex: '' }) satisfies BackupRecord));
  const written = await updateSealedValues(trx, store, batch.map((t) => ({ id: t.id, oldCiphertextHex: t.ciphertextHex, oldNonceHex: t.nonceHex, newCiphertextHex: '', newNonceHex: '' })));
  const readBack = await readRows(trx, store, [...written]);
  if (readBack.length !== written.size || readBack.some((r) => r.ciphertextHex !== '' || r.nonceHex !== '')) {
    throw new IntegrityError(`read-back after clearing ${store.name} failed; rolled back, nothing in this batch was changed`);
  }
  return written;
}

async function deleteRows(trx: LaminarDb, store: StoreDefinition, batch: QuarantineTarget[], backup: BackupSink | null): Promise<Set<string>> {
  await refuseCascadingDelete(trx, store, batch.map((t) => t.id));
  const whole = await readWholeRows(trx, store, batch.map((t) => t.id));
  backup?.append(batch.filter((t) => whole.has(t.id)).map((t) => ({ type: 'delete', store: store.name, id: t.id, row: whole.get(t.id)! }) satisfies BackupRecord));
  const deleted = await deleteSealedRows(trx, store, batch.map((t) => ({ id: t.id, ciphertextHex: t.ciphertextHex, nonceHex: t.nonceHex })));
  const readBack = await readRows(trx, store, [...deleted]);
  if (readBack.length > 0) throw new IntegrityError(`read-back after deleting from ${store.name} failed; rolled back, nothing in this batch was changed`);
  return deleted;
}

/** A delete that would cascade to (or be blocked by) rows no backup holds is never made. */
async function refuseCascadingDelete(trx: LaminarDb, store: StoreDefinition, ids: string[]): Promise<void> {
  const dependents = await findDependentRows(trx, store, ids);
  if (dependents.length === 0) return;
  throw new IntegrityError(
    `refusing to delete from ${store.table}: ${describeDependents(dependents)} reference these rows, and a backup of ${store.table} would not hold them; nothing in this batch was changed`,
    'this database references the table in a way Laminar does not; please report it with `lmnr-keys doctor --json` output',
  );
}
