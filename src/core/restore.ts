/**
 * restore: puts back what a backup says was replaced or deleted, but only where the database
 * still holds exactly what lmnr-keys wrote. Anything changed since is left alone and listed.
 */
import type { LaminarDb } from '../db/connect.js';
import { assertRowsVisible, checkStorePresence, readRows } from '../stores/scan.js';
import { ConfigError } from '../errors.js';
import { findStore, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { updateSealedValues } from '../stores/write.js';
import { referencingKeys } from '../stores/dependents.js';
import { insertWholeRow, insertWholeRows } from '../stores/restore-rows.js';
import type { BackupRecord, DeleteRecord, UpdateRecord, WriteJournal } from './backup.js';

export interface LeftAlone {
  store: StoreName;
  id: string;
  reason: string;
}

/** A row put back whose dependents (deleted with it by a cascade) the backup does not hold. */
export interface Incomplete {
  store: StoreName;
  id: string;
  reason: string;
}

export interface RestoreResult {
  total: number;
  restored: number;
  alreadyRestored: number;
  /**
   * Records of a rotate batch that never committed (the run was killed or rolled back): those
   * values were never changed, so there is nothing to put back and nothing to worry about.
   */
  notApplied: number;
  /** How many records were left alone; `leftAlone` lists the first LISTED of them. */
  leftAloneCount: number;
  leftAlone: LeftAlone[];
  /** How many rows were put back not whole; `incomplete` lists the first LISTED of them. Never full success. */
  incompleteCount: number;
  incomplete: Incomplete[];
  /** Stopped by a signal between batches: the records not reached are for another run. */
  stopped: boolean;
}

/** Entries of `leftAlone` and `incomplete` kept (their counts are whole): a million-record backup must not become a million-entry list in memory. */
export const LISTED = 1000;

export interface RestoreOptions {
  dryRun: boolean;
  /** host:port/database, for the message when the backup's table is not there. */
  database?: string;
  batchSize: number;
  /** Where each committed batch is reported (absent in a dry run). */
  journal?: WriteJournal;
  /** Aborted by a stop request: stop after the batch in flight. */
  signal?: AbortSignal;
}

function leaveAlone(result: RestoreResult, entry: LeftAlone): void {
  result.leftAloneCount += 1;
  if (result.leftAlone.length < LISTED) result.leftAlone.push(entry);
}

/**
 * Newest record first, so that a value rotated twice (a retry) unwinds in order. Within one
 * batch an id appears at most once.
 */
export async function runRestore(
  db: LaminarDb,
  newestFirst: Iterable<BackupRecord>,
  tables: string[],
  options: RestoreOptions,
): Promise<RestoreResult> {
  const result: RestoreResult = {
    total: 0,
    restored: 0,
    alreadyRestored: 0,
    notApplied: 0,
    leftAloneCount: 0,
    leftAlone: [],
    incompleteCount: 0,
    incomplete: [],
    stopped: false,
  };
  await assertRowsVisible(db, tables);
  const records = newestFirst[Symbol.iterator]();
  // Each store's table checked once, before its first record is touched: a backup restored (with
  // --force) into a database without that table gets one line, not Postgres's raw 42P01.
  const present = new Map<StoreName, boolean>();
  const requirePresent = async (store: StoreDefinition) => {
    if (!present.has(store.name)) present.set(store.name, (await checkStorePresence(db, store)).present);
    if (!present.get(store.name))
      throw new ConfigError(
        `the backup holds ${store.name} values, but ${options.database ?? 'this database'} has no table ${store.table} (or lacks its columns)`,
        'restore into the database the backup came from (a Laminar database of the same version)',
      );
  };
  let next = records.next();
  let batchNumber = 0;
  while (!next.done) {
    if (options.signal?.aborted) {
      result.stopped = true;
      break;
    }
    const batch: BackupRecord[] = [];
    const seen = new Set<string>();
    while (!next.done && batch.length < options.batchSize) {
      const key = `${next.value.store}:${next.value.id}`;
      if (seen.has(key)) break;
      seen.add(key);
      batch.push(next.value);
      result.total += 1;
      next = records.next();
    }
    const before = result.restored;
    for (const store of new Set(batch.map((record) => record.store))) {
      const definition = findStore(store);
      if (!definition) {
        for (const record of batch.filter((r) => r.store === store))
          leaveAlone(result, { store, id: record.id, reason: 'unknown store in backup' });
        continue;
      }
      await requirePresent(definition);
      const updates = batch.filter((r): r is UpdateRecord => r.store === store && r.type === 'update');
      const deletes = batch.filter((r): r is DeleteRecord => r.store === store && r.type === 'delete');
      await restoreUpdates(db, definition, updates, options, result);
      await restoreDeletes(db, definition, deletes, options, result);
    }
    if (!options.dryRun && result.restored > before) options.journal?.committed(++batchNumber, result.restored - before, 0);
  }
  return result;
}

async function restoreUpdates(
  db: LaminarDb,
  store: StoreDefinition,
  records: UpdateRecord[],
  options: RestoreOptions,
  result: RestoreResult,
) {
  if (records.length === 0) return;
  const reverse = records.map((r) => ({
    id: r.id,
    oldCiphertextHex: r.newCiphertextHex,
    oldNonceHex: r.newNonceHex,
    newCiphertextHex: r.oldCiphertextHex,
    newNonceHex: r.oldNonceHex,
  }));
  const current = new Map(
    (
      await readRows(
        db,
        store,
        records.map((r) => r.id),
      )
    ).map((row) => [row.id, row]),
  );
  const eligible = reverse.filter((u) => {
    const row = current.get(u.id);
    return row && row.ciphertextHex === u.oldCiphertextHex && row.nonceHex === u.oldNonceHex;
  });
  const written = options.dryRun
    ? new Set(eligible.map((u) => u.id))
    : await db.transaction().execute((trx) => updateSealedValues(trx, store, eligible));
  for (const record of records) {
    if (written.has(record.id)) {
      result.restored += 1;
      continue;
    }
    const row = current.get(record.id);
    // A batch without its commit mark: a row still holding what that batch would have written
    // was eligible above (the process died between the commit and the mark); any other state
    // means the write never happened.
    if (record.committed === false) result.notApplied += 1;
    else if (!row) leaveAlone(result, { store: store.name, id: record.id, reason: 'the row no longer exists' });
    else if (row.ciphertextHex === record.oldCiphertextHex && row.nonceHex === record.oldNonceHex) result.alreadyRestored += 1;
    else
      leaveAlone(result, {
        store: store.name,
        id: record.id,
        reason: 'the value changed after the backup was written (not what lmnr-keys wrote)',
      });
  }
}

async function restoreDeletes(
  db: LaminarDb,
  store: StoreDefinition,
  records: DeleteRecord[],
  options: RestoreOptions,
  result: RestoreResult,
) {
  if (records.length === 0) return;
  // Older lmnr-keys deleted Slack integration rows; the cascade took their channel mappings, which no backup holds.
  const cascades = (await referencingKeys(db, store)).filter((key) => key.on_delete === 'c');
  const lostWithIt = cascades.length === 0 ? null : cascades.map((key) => `${key.table}${key.column ? `.${key.column}` : ''}`).join(', ');
  const markIncomplete = (record: DeleteRecord) => {
    if (lostWithIt === null) return;
    result.incompleteCount += 1;
    if (result.incomplete.length >= LISTED) return;
    result.incomplete.push({
      store: store.name,
      id: record.id,
      reason:
        `rows of ${lostWithIt} that referenced it were deleted with it (ON DELETE ` +
        `CASCADE) and are not in this backup${store.name === 'slack_integrations' ? ": re-map the Slack channels to projects in Laminar's workspace settings" : ''}`,
    });
  };
  // One read for the whole batch: which rows exist again, and what they hold.
  const existing = new Map(
    (
      await readRows(
        db,
        store,
        records.map((r) => r.id),
      )
    ).map((row) => [row.id, row]),
  );
  const missing: DeleteRecord[] = [];
  for (const record of records) {
    const row = existing.get(record.id);
    if (!row) {
      missing.push(record);
      continue;
    }
    if (row.ciphertextHex === record.row[store.ciphertextColumn] && row.nonceHex === record.row[store.nonceColumn]) {
      // Still there as it was: either restored already, or its batch never committed (no mark).
      if (record.committed === false) result.notApplied += 1;
      else result.alreadyRestored += 1;
    } else leaveAlone(result, { store: store.name, id: record.id, reason: 'a row with this id exists again' });
  }
  if (missing.length === 0) return;
  if (options.dryRun) {
    for (const record of missing) {
      result.restored += 1;
      markIncomplete(record);
    }
    return;
  }
  // The batch in one statement, in its own transaction; if any row is refused (its project is
  // gone, a conflicting row appeared) the statement rolls back and the rows go one by one, so
  // each refusal is told apart.
  const inserted = await db
    .transaction()
    .execute((trx) =>
      insertWholeRows(
        trx,
        store,
        missing.map((r) => r.row),
      ),
    )
    .then(
      (ids) => ids,
      () => null,
    );
  if (inserted !== null) {
    for (const record of missing) {
      if (inserted.has(record.id)) {
        result.restored += 1;
        markIncomplete(record);
      } else leaveAlone(result, { store: store.name, id: record.id, reason: 'a conflicting row exists' });
    }
    return;
  }
  for (const record of missing) {
    try {
      await insertWholeRow(db, store, record.row);
      result.restored += 1;
      markIncomplete(record);
    } catch (error) {
      const code = (error as { code?: string }).code;
      leaveAlone(result, {
        store: store.name,
        id: record.id,
        reason:
          code === '23503'
            ? 'its project or workspace no longer exists'
            : code === '23505'
              ? 'a conflicting row exists'
              : `insert failed (${code ?? 'error'})`,
      });
    }
  }
}
