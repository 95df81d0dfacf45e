/**
 * quarantine: takes out the values no available key opens (wrong_secret with no key that opens
 * it, malformed, incomplete), after a backup. Values whose store key is missing are never
 * taken (setting the key may fix them), nor not_utf8 values (they open; the operator may want
 * the bytes).
 *
 * Built for the incident (a million values failing): the plan reads every store in keyset
 * batches and keeps counts per store, cause and place, the first values, and the rows that
 * reference them; the values themselves are streamed to the caller as they are found, never
 * held. Applying reads the stores again batch by batch and takes out, batch by batch, what
 * fails now: each batch is backed up (fsynced) before its transaction, written conditionally on
 * the exact value read, read back, and committed whole. It never takes out more values than
 * the plan counted (the count the operator confirmed, or gave as --expect).
 */
import type { SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { IntegrityError } from '../errors.js';
import { assertRowsVisible, checkStorePresence, lookUpNames, measureSealedValues, placeOfValue, readRows, type SealedRow, type ValuePlace } from '../stores/scan.js';
import { copyStore, sealedRowFromTuple, tupleId } from '../stores/copy-reader.js';
import type { CopyTuple } from '../db/copy.js';
import { sharedOpener } from '../crypto/opener.js';
import { LOAD_FAILED, NOT_OPENED_BY_HELD_KEY, OPENED_UTF8, openWithHeldKey, placeOfTuple, tryFallbacks } from './tuple-verdict.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { deleteSealedRows, readWholeRows, updateSealedValues } from '../stores/write.js';
import { describeDependents, findDependentRows, referencingKeys, type DependentRows } from '../stores/dependents.js';
import { estimateBackupBytes, type BackupRecord, type BackupSink, type WriteJournal } from './backup.js';
import { diagnoseValue, type KeyRing, type ValueStatus } from './diagnose.js';
import { keyRingFor, type LaminarSecrets } from './keyring.js';
import { FailureTally, type CauseCount, type PlaceCount } from './failure-tally.js';
import { UuidTable } from '../util/uuid-table.js';

export interface QuarantineTarget extends ValuePlace {
  status: Exclude<ValueStatus, 'ok' | 'not_utf8' | 'secret_missing'>;
  detail: string | null;
  /** How it is taken out: the row deleted (nothing references it) or the sealed pair emptied in place. */
  action: StoreDefinition['takeOut'];
}

/** Rows elsewhere that reference the targets' rows: kept (pair emptied in place) or blocking a delete. */
export interface QuarantineDependents extends DependentRows {
  store: StoreName;
  /** kept: the row stays, so they are untouched; blocks_delete: the delete is refused. */
  effect: 'kept' | 'blocks_delete';
}

export interface QuarantineStoreCount {
  store: StoreName;
  /** Values read (set, whatever their status). */
  total: number;
  /** Values that would be taken out. */
  taken: number;
}

/** A place holding targets, named. */
export interface NamedPlace extends PlaceCount {
  projectName: string | null;
  workspaceName: string | null;
}

export interface QuarantinePlan {
  /** How many values would be taken out, in every store read. */
  count: number;
  stores: QuarantineStoreCount[];
  /** Counts per cause and the largest places, and the first targets in (store, id) order. */
  causes: CauseCount[];
  places: NamedPlace[];
  placeCount: number;
  sample: QuarantineTarget[];
  dependents: QuarantineDependents[];
  /** With --id: what each requested id is, when it is not a target (unknown, or it opens). */
  requested: Array<{ id: string; why: string }>;
  /** About how many bytes the backup of these values takes. */
  backupEstimateBytes: number;
}

export interface QuarantineResult {
  removed: number;
  /** How many values were found changed between the batch's read and its write (the platform re-saved them): left alone. */
  changedCount: number;
  /** The first CHANGED_IDS_KEPT of them. */
  changed: string[];
  /** More values fail now than the plan counted: the rest were left for another run. */
  leftOver: number;
}

export interface QuarantineOptions {
  stores: readonly StoreDefinition[];
  ids: string[];
  secrets: LaminarSecrets;
  candidates: SecretKey[];
  batchSize: number;
}

/** Values taken out per transaction. */
const TAKE_OUT_BATCH = 500;
const SAMPLE_SIZE = 100;
const CHANGED_IDS_KEPT = 100;

const storeOrder = (name: StoreName) => STORES.findIndex((store) => store.name === name);

/** Only what no key opens: a malformed value that opens when read as Laminar's web app reads hex is never taken out. */
function isTarget(status: ValueStatus | 'unset', decryptsWith: string | null): status is QuarantineTarget['status'] {
  return ((status === 'malformed' || status === 'wrong_secret') && decryptsWith === null) || status === 'incomplete';
}

function toTarget(store: StoreDefinition, row: SealedRow, status: QuarantineTarget['status'], detail: string | null): QuarantineTarget {
  return { ...placeOfValue(store, row), status, detail, action: store.takeOut };
}

/** A row judged: a target (no key opens it), or why not (for --id), or not a value at all. */
type Judged =
  | {
      kind: 'target';
      row: SealedRow | null;
      make: () => QuarantineTarget;
      id: string;
      placeId: string | null;
      status: QuarantineTarget['status'];
    }
  | { kind: 'kept'; id: string; why: () => string }
  | { kind: 'unset' };

/**
 * Judges a store's rows, calling `onRow` for each, in id order: every row with one COPY (range:
 * all, or a keyset page), judged in place as doctor judges it (no string per row unless it is
 * a target); or only the --id rows, read as strings. `needRows`: targets come with their row
 * (the sealed pair as read: the condition of the write, and the backup).
 */
async function judgeRows(
  db: LaminarDb,
  store: StoreDefinition,
  ring: KeyRing,
  source: { ids: string[] } | { after: string | null; limit: number | null },
  needRows: boolean,
  onRow: (judged: Judged) => void,
): Promise<{ read: number; lastId: string | null }> {
  const placeIdOf = (row: { projectId: string | null; workspaceId: string | null }) =>
    store.projectIdColumn === null ? row.workspaceId : row.projectId;
  const judgeRow = (row: SealedRow) => {
    const diagnosis = diagnoseValue(store, row, ring);
    if (diagnosis.status === 'unset') return onRow({ kind: 'unset' });
    if (isTarget(diagnosis.status, diagnosis.decryptsWith)) {
      const target = toTarget(store, row, diagnosis.status, diagnosis.detail);
      return onRow({ kind: 'target', row, make: () => target, id: row.id, placeId: placeIdOf(row), status: diagnosis.status });
    }
    onRow({ kind: 'kept', id: row.id, why: () => describeUntaken(diagnosis.status, diagnosis.decryptsWith, ring) });
  };
  if ('ids' in source) {
    for (let i = 0; i < source.ids.length; i += 5000)
      for (const row of await readRows(db, store, source.ids.slice(i, i + 5000))) judgeRow(row);
    return { read: source.ids.length, lastId: null };
  }
  const opener = sharedOpener();
  const notOpened = NOT_OPENED_DETAIL(ring);
  let lastId: string | null = null;
  const onTuple = (tuple: CopyTuple) => {
    const id = tupleId(tuple);
    lastId = id;
    const verdict = ring.current === null ? LOAD_FAILED : openWithHeldKey(opener, tuple, 'hex');
    if (verdict === OPENED_UTF8) return onRow({ kind: 'kept', id, why: () => `opens under the current ${ring.secretVariable}` });
    if (verdict === NOT_OPENED_BY_HELD_KEY) {
      const opened = tryFallbacks(opener, ring);
      if (opened > 0) {
        const label = ring.fallbacks[opened - 1]!.label;
        return onRow({ kind: 'kept', id, why: () => `wrong_secret, opens with ${label}` });
      }
      const fields = placeOfTuple(store, tuple, 'hex');
      const row = needRows ? sealedRowFromTuple(store, tuple) : null;
      return onRow({
        kind: 'target',
        row,
        id: fields.id,
        placeId: placeIdOf(fields),
        status: 'wrong_secret',
        make: () => ({ store: store.name, ...fields, status: 'wrong_secret', detail: notOpened, action: store.takeOut }),
      });
    }
    judgeRow(sealedRowFromTuple(store, tuple));
  };
  if (ring.current !== null) opener.holdKey(ring.current.bytes);
  try {
    const read = await copyStore(
      db,
      store,
      source.limit === null ? { ordered: true } : { after: source.after, limit: source.limit },
      onTuple,
      'hex',
    );
    return { read, lastId };
  } finally {
    opener.releaseKey();
  }
}

const NOT_OPENED_DETAIL = (ring: KeyRing) =>
  `does not open under the current ${ring.secretVariable} nor any candidate ` +
  `key (sealed with a key that is not available, or with a different AAD)`;

/**
 * Reads what would be taken out, with plain SELECTs (a dry run works under a SELECT-only role).
 * `onTarget` receives every target as it is found, in (store, id) order.
 */
export async function planQuarantine(
  db: LaminarDb,
  options: QuarantineOptions,
  onTarget?: (target: QuarantineTarget) => void,
): Promise<QuarantinePlan> {
  const tally = new FailureTally<QuarantineTarget>(SAMPLE_SIZE, storeOrder, { project: new UuidTable(), workspace: new UuidTable() });
  const dependents = new Map<string, QuarantineDependents>();
  const counts: QuarantineStoreCount[] = [];
  const seen = new Map<string, string>();
  const wanted = options.ids.length > 0 ? new Set(options.ids) : null;
  /** With --id only (as many as were named): which of them are targets. */
  const takenIds = new Set<string>();
  let backupEstimateBytes = 0;
  for (const store of options.stores) {
    if (!(await checkStorePresence(db, store)).present) continue;
    await assertRowsVisible(db, [store.table]);
    const ring = keyRingFor(store, options.secrets, options.candidates);
    if (!ring.current) continue;
    const count: QuarantineStoreCount = { store: store.name, total: 0, taken: 0 };
    counts.push(count);
    // Rows that reference a target block its delete (or stay, beside an emptied pair): looked up
    // only where something references this table (in Laminar: Slack's channel mappings), by id.
    const referenced = (await referencingKeys(db, store)).length > 0;
    const targetIds: string[] = [];
    await judgeRows(db, store, ring, wanted ? { ids: options.ids } : { after: null, limit: null }, false, (judged) => {
      if (judged.kind === 'unset') return;
      count.total += 1;
      if (judged.kind === 'kept') {
        if (wanted) seen.set(judged.id, judged.why());
        return;
      }
      count.taken += 1;
      if (wanted) takenIds.add(judged.id);
      if (referenced) targetIds.push(judged.id);
      let made: QuarantineTarget | null = null;
      const make = () => (made ??= judged.make());
      tally.add(
        { store: store.name, status: judged.status, decryptsWith: null },
        store.projectIdColumn === null ? 'workspace' : 'project',
        judged.placeId,
        judged.id,
        make,
      );
      if (onTarget) onTarget(make());
    });
    for (let i = 0; i < targetIds.length; i += 5000) {
      for (const found of await findDependentRows(db, store, targetIds.slice(i, i + 5000))) {
        const key = `${store.name}\u0000${found.table}\u0000${found.column}`;
        const known = dependents.get(key);
        if (known) known.rows += found.rows;
        else dependents.set(key, { ...found, store: store.name, effect: store.takeOut === 'delete_row' ? 'blocks_delete' : 'kept' });
      }
    }
    if (count.taken > 0)
      backupEstimateBytes += estimateBackupBytes(
        store.takeOut === 'delete_row' ? 'delete' : 'update',
        count.taken,
        await measureSealedValues(db, store),
      );
  }
  const requested = wanted
    ? options.ids.filter((id) => !takenIds.has(id)).map((id) => ({ id, why: seen.get(id) ?? 'no such row in the stores read' }))
    : [];
  const places = tally.topPlaces(10);
  const names = await lookUpNames(
    db,
    places.flatMap((p) => (p.projectId ? [p.projectId] : [])),
    places.flatMap((p) => (p.workspaceId ? [p.workspaceId] : [])),
  );
  return {
    count: tally.total,
    stores: counts,
    causes: tally.causeCounts(),
    places: places.map((place) => {
      const project = place.projectId ? names.projects.get(place.projectId) : undefined;
      const workspaceId = place.workspaceId ?? project?.workspaceId ?? null;
      return {
        ...place,
        workspaceId,
        projectName: project?.name ?? null,
        workspaceName: workspaceId ? (names.workspaces.get(workspaceId) ?? null) : null,
      };
    }),
    placeCount: tally.placeCount,
    sample: tally.sample(),
    dependents: [...dependents.values()],
    requested,
    backupEstimateBytes,
  };
}

function describeUntaken(status: ValueStatus | 'unset', decryptsWith: string | null, ring: KeyRing): string {
  if (status === 'ok') return `opens under the current ${ring.secretVariable}`;
  if (status === 'unset') return 'holds no value';
  return `${status}${decryptsWith ? `, opens with ${decryptsWith}` : ''}`;
}

export interface QuarantineApplyContext {
  backup: BackupSink | null;
  journal: WriteJournal;
  /** Aborted by a stop request: stop after the batch in flight. */
  signal: AbortSignal;
  /** Every value taken out, once its batch committed, in (store, id) order. */
  onTaken?: (target: QuarantineTarget) => void;
}

/**
 * Reads the stores again and takes out, one transaction per batch, what no key opens now:
 * backup first (on disk before the commit), conditional on the exact value read, verified by
 * reading back. Stops at the plan's count, and after the batch in flight when asked to.
 */
export async function applyQuarantine(
  db: LaminarDb,
  plan: QuarantinePlan,
  options: QuarantineOptions,
  context: QuarantineApplyContext,
): Promise<QuarantineResult> {
  const result: QuarantineResult = { removed: 0, changedCount: 0, changed: [], leftOver: 0 };
  let batchNumber = 0;
  let allowed = plan.count;
  // --batch-size, up to TAKE_OUT_BATCH values per transaction.
  const takeOutBatch = Math.min(options.batchSize, TAKE_OUT_BATCH);
  for (const store of options.stores) {
    if (context.signal.aborted) break;
    const planned = plan.stores.find((count) => count.store === store.name);
    if (!planned || planned.taken === 0) continue;
    const ring = keyRingFor(store, options.secrets, options.candidates);
    if (!ring.current) continue;
    // Keyset pages of TAKE_OUT_BATCH rows (or the --id rows): each page judged again now, its targets taken out in one transaction.
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const batch: Array<{ target: QuarantineTarget; row: SealedRow }> = [];
      const source = options.ids.length > 0 ? { ids: options.ids } : { after, limit: takeOutBatch };
      if ('ids' in source && page > 0) break;
      const { read, lastId } = await judgeRows(db, store, ring, source, true, (judged) => {
        if (judged.kind === 'target') batch.push({ target: judged.make(), row: judged.row! });
      });
      after = lastId;
      if (batch.length > allowed) {
        result.leftOver += batch.length - allowed;
        batch.length = allowed;
      }
      if (batch.length > 0) {
        const number = ++batchNumber;
        const done = await db
          .transaction()
          .execute((trx) =>
            store.takeOut === 'clear_pair'
              ? clearPairs(trx, store, batch, context.backup, number)
              : deleteRows(trx, store, batch, context.backup, number),
          );
        // After the commit: restore tells this batch's records from those of a batch that never committed.
        context.journal.committed(number, done.size);
        result.removed += done.size;
        allowed -= done.size;
        for (const { target } of batch) {
          if (done.has(target.id)) context.onTaken?.(target);
          else {
            result.changedCount += 1;
            if (result.changed.length < CHANGED_IDS_KEPT) result.changed.push(target.id);
          }
        }
      }
      if (context.signal.aborted) return result;
      if (allowed === 0 || 'ids' in source || read < takeOutBatch) break;
    }
  }
  return result;
}

async function clearPairs(
  trx: LaminarDb,
  store: StoreDefinition,
  batch: Array<{ target: QuarantineTarget; row: SealedRow }>,
  backup: BackupSink | null,
  number: number,
): Promise<Set<string>> {
  // '' on both sides means "not set" to lmnr-keys and fits every version of Laminar's columns (NOT NULL ones too).
  backup?.append(
    batch.map(
      ({ row }) =>
        ({
          type: 'update',
          store: store.name,
          id: row.id,
          oldNonceHex: row.nonceHex,
          oldCiphertextHex: row.ciphertextHex,
          newNonceHex: '',
          newCiphertextHex: '',
          batch: number,
        }) satisfies BackupRecord,
    ),
  );
  const written = await updateSealedValues(
    trx,
    store,
    batch.map(({ row }) => ({
      id: row.id,
      oldCiphertextHex: row.ciphertextHex,
      oldNonceHex: row.nonceHex,
      newCiphertextHex: '',
      newNonceHex: '',
    })),
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
  batch: Array<{ target: QuarantineTarget; row: SealedRow }>,
  backup: BackupSink | null,
  number: number,
): Promise<Set<string>> {
  await backUpBeforeDelete(
    trx,
    store,
    batch.map(({ row }) => row.id),
    backup,
    number,
  );
  const deleted = await deleteSealedRows(
    trx,
    store,
    batch.map(({ row }) => ({ id: row.id, ciphertextHex: row.ciphertextHex, nonceHex: row.nonceHex })),
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
export async function backUpBeforeDelete(
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
