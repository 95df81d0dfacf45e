/**
 * rotate: re-seal every value that opens under a --from key under the --to key, batch by
 * batch, while Laminar keeps running.
 *
 * Invariants (each tested):
 * - a value is only ever written by a conditional UPDATE naming the exact ciphertext and nonce
 *   read, so a concurrent change by the platform is re-read and re-planned, never overwritten;
 * - each batch is one transaction; before it commits, every row it wrote is read back and must
 *   hold exactly the bytes sent, and those bytes were opened again under --to to the same
 *   plaintext before they were sent; any mismatch rolls the batch back and aborts;
 * - the backup records (old and new ciphertext, never plaintext) of a batch are on disk before
 *   the batch commits, and a commit mark follows once it has;
 * - so a crash at any moment leaves every value under its old key or under --to, and a re-run
 *   finishes the job, finding the rest alreadyCurrent.
 *
 * How it runs (see README, Performance): a batch is read with one binary COPY in key order
 * (keyset: ids after the last one read), classified and re-sealed tuple by tuple as the bytes
 * arrive, straight from pg's buffer into libsodium's heap and from there into the COPY payload
 * and the backup lines; then written with COPY into a temporary table and one UPDATE ... FROM.
 * Memory is bounded by the batch size, whatever the number of rows.
 */
import { encodeAad } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import { sharedOpener, type SealedValueOpener } from '../crypto/opener.js';
import type { LaminarDb } from '../db/connect.js';
import type { CopyTuple } from '../db/copy.js';
import { copyStore, FIELD, sealedRowFromTuple, tupleId } from '../stores/copy-reader.js';
import { applyResealBatch, ResealBatch } from '../stores/copy-writer.js';
import { assertRowsVisible, checkStorePresence, countRows, readRows, type SealedRow } from '../stores/scan.js';
import type { StoreDefinition, StoreName } from '../stores/stores.js';
import type { BackupSink } from './backup.js';
import { loadShape } from './diagnose.js';
import { IntegrityError } from '../errors.js';

export interface RotationStoreReport {
  store: StoreName;
  present: boolean;
  total: number;
  rotated: number;
  alreadyCurrent: number;
  stuck: number;
  retried: number;
  /**
   * Rows in the table when this store's pass started and when it ended (null when the store is
   * not present). Rows the platform inserted meanwhile may not have been read: when the end
   * count is higher, "every value read" is not "every value".
   */
  rowsAtStart: number | null;
  rowsAtEnd: number | null;
}

export interface StuckValue {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  projectId: string | null;
  name: string;
  status: 'wrong_secret' | 'malformed' | 'incomplete';
  detail: string | null;
}

export interface RotationResult {
  stores: RotationStoreReport[];
  stuck: StuckValue[];
}

export interface RotationProgress {
  store: StoreName;
  scanned: number;
  rotated: number;
  /**
   * Values re-sealed in committed batches so far, across all stores: what an interrupted run
   * has done (and what its backup's commit marks cover). Always 0 in a dry run.
   */
  committed: number;
}

export interface RotationDeps {
  /** The connection holding the writer lock (see withWriterLock). */
  db: LaminarDb;
  backup: BackupSink | null;
  onProgress?: (progress: RotationProgress) => void;
}

export interface RotationOptions {
  stores: StoreDefinition[];
  from: SecretKey[];
  to: SecretKey;
  batchSize: number;
  dryRun: boolean;
  /** How many times a value changed underneath us is re-read before it is reported stuck. */
  maxRetries?: number;
}

/** Raised when a read-back does not hold the bytes written: the batch was rolled back. */
export class ReadBackMismatchError extends IntegrityError {
  constructor(readonly store: StoreName, readonly id: string) {
    super(
      `read-back check failed for ${store} ${id}: the batch was rolled back and nothing in it was changed`,
      'something rewrote the value inside our transaction (a trigger?) or the database altered it; run doctor and report this',
    );
  }
}

/** Raised when a value re-sealed in memory does not open to its plaintext: nothing was written. */
export class ResealCheckError extends IntegrityError {
  constructor(readonly store: StoreName, readonly id: string) {
    super(
      `a value re-sealed for ${store} ${id} did not open again to the same bytes: nothing in its batch was written`,
      'this should never happen; run doctor and report it',
    );
  }
}

type Plan =
  | { kind: 'unset' }
  | { kind: 'alreadyCurrent' }
  | { kind: 'stuck'; status: StuckValue['status']; detail: string | null }
  | { kind: 'rotate'; plaintext: Uint8Array };

/** One value's plan, from strings (kept for callers outside the hot path). */
export function planValue(store: StoreDefinition, row: SealedRow, from: SecretKey[], to: SecretKey): Plan {
  const shape = loadShape(store, row);
  if (shape.kind === 'unset') return { kind: 'unset' };
  if (shape.kind === 'broken') return { kind: 'stuck', status: shape.status, detail: shape.detail };
  const { opener } = shape;
  opener.setAad(encodeAad(row.aad));
  const verdict = classifyLoaded(opener, from, to);
  if (verdict === 'rotate') return { kind: 'rotate', plaintext: opener.takePlaintext() };
  if (verdict === 'alreadyCurrent') return { kind: 'alreadyCurrent' };
  return WRONG_SECRET;
}

const WRONG_SECRET = { kind: 'stuck', status: 'wrong_secret', detail: 'opens under neither --to nor any --from key' } as const;

/**
 * The loaded value (AAD set) opens under --to, under a --from (its plaintext then stays in the
 * opener for `reseal`), or under none.
 */
function classifyLoaded(opener: SealedValueOpener, from: SecretKey[], to: SecretKey): 'alreadyCurrent' | 'rotate' | 'wrong_secret' {
  if (opener.tryKey(to.bytes)) {
    opener.clear();
    return 'alreadyCurrent';
  }
  for (const key of from) if (opener.tryKey(key.bytes)) return 'rotate';
  opener.clear();
  return 'wrong_secret';
}

function stuckValue(store: StoreDefinition, row: SealedRow, plan: Extract<Plan, { kind: 'stuck' }>): StuckValue {
  return { store: store.name, id: row.id, workspaceId: row.workspaceId, projectId: row.projectId, name: row.name, status: plan.status, detail: plan.detail };
}

/** What a batch pass needs besides the store: where counts go, and whether rows were counted before (a retry). */
interface Pass {
  deps: RotationDeps;
  options: RotationOptions;
  store: StoreDefinition;
  report: RotationStoreReport;
  stuck: StuckValue[];
  opener: SealedValueOpener;
  /** null in a dry run: rotatable values are only counted. */
  batch: ResealBatch | null;
  /** Rows re-read after a conflict were counted on their first read. */
  recount: boolean;
}

function countVerdict(pass: Pass, verdict: 'alreadyCurrent' | 'rotate' | 'stuck'): void {
  if (!pass.recount) pass.report.total += 1;
  if (verdict === 'alreadyCurrent') pass.report.alreadyCurrent += 1;
  else if (verdict === 'stuck') pass.report.stuck += 1;
  else if (pass.batch === null) pass.report.rotated += 1;
}

function resealInto(pass: Pass, add: (heap: Buffer, sealed: NonNullable<ReturnType<SealedValueOpener['reseal']>>) => void, id: () => string): void {
  if (pass.batch === null) {
    pass.opener.clear();
    return;
  }
  const sealed = pass.opener.reseal(pass.options.to.bytes);
  if (sealed === null) throw new ResealCheckError(pass.store.name, id());
  add(pass.opener.heapBytes(), sealed);
}

/** A tuple as COPY delivered it: decided from the buffer when its shape is sound, else from strings. */
function planTuple(pass: Pass, tuple: CopyTuple): void {
  const { opener, options, store } = pass;
  const { buffer, starts, lengths } = tuple;
  if (opener.loadHexFrom(buffer, starts[FIELD.ciphertext]!, lengths[FIELD.ciphertext]!, starts[FIELD.nonce]!, lengths[FIELD.nonce]!)) {
    opener.setAadFrom(buffer, starts[FIELD.aad]!, lengths[FIELD.aad]!);
    const verdict = classifyLoaded(opener, options.from, options.to);
    if (verdict === 'wrong_secret') {
      countVerdict(pass, 'stuck');
      pass.stuck.push(stuckValue(store, sealedRowFromTuple(store, tuple), WRONG_SECRET));
      return;
    }
    countVerdict(pass, verdict);
    if (verdict === 'rotate') resealInto(pass, (heap, sealed) => pass.batch!.addFromTuple(tuple, heap, sealed), () => tupleId(tuple));
    return;
  }
  planRow(pass, sealedRowFromTuple(store, tuple));
}

/** A row as strings (malformed, NULL or empty values; rows re-read after a conflict). */
function planRow(pass: Pass, row: SealedRow): void {
  const { opener, options, store } = pass;
  const shape = loadShape(store, row);
  if (shape.kind === 'unset') {
    // Cleared by another writer since the first read: no longer a value to count.
    if (pass.recount) pass.report.total -= 1;
    return;
  }
  if (shape.kind === 'broken') {
    countVerdict(pass, 'stuck');
    pass.stuck.push(stuckValue(store, row, { kind: 'stuck', status: shape.status, detail: shape.detail }));
    return;
  }
  opener.setAad(encodeAad(row.aad));
  const verdict = classifyLoaded(opener, options.from, options.to);
  if (verdict === 'wrong_secret') {
    countVerdict(pass, 'stuck');
    pass.stuck.push(stuckValue(store, row, WRONG_SECRET));
    return;
  }
  countVerdict(pass, verdict);
  if (verdict === 'rotate') resealInto(pass, (heap, sealed) => pass.batch!.addFromRow(row, heap, sealed), () => row.id);
}

export async function runRotation(deps: RotationDeps, options: RotationOptions): Promise<RotationResult> {
  const reports: RotationStoreReport[] = [];
  const stuck: StuckValue[] = [];
  const run = { committed: 0, batches: 0 };
  for (const store of options.stores) {
    const presence = await checkStorePresence(deps.db, store);
    if (presence.present) await assertRowsVisible(deps.db, [store.table]);
    const report: RotationStoreReport = {
      store: store.name, present: presence.present, total: 0, rotated: 0, alreadyCurrent: 0, stuck: 0, retried: 0, rowsAtStart: null, rowsAtEnd: null,
    };
    reports.push(report);
    if (!presence.present) continue;
    report.rowsAtStart = await countRows(deps.db, store);
    const pass: Pass = { deps, options, store, report, stuck, opener: sharedOpener(), batch: options.dryRun ? null : new ResealBatch(store, deps.backup, options.batchSize), recount: false };
    const progress = () => deps.onProgress?.({ store: store.name, scanned: report.total, rotated: report.rotated, committed: run.committed });
    if (options.dryRun) {
      // Nothing is written, so nothing needs an order: one sequential scan.
      let sinceProgress = 0;
      await copyStore(deps.db, store, {}, (tuple) => {
        planTuple(pass, tuple);
        if (++sinceProgress >= options.batchSize) {
          sinceProgress = 0;
          progress();
        }
      });
      progress();
    } else {
      await rotateStore(pass, run, progress);
    }
    report.rowsAtEnd = await countRows(deps.db, store);
  }
  return { stores: reports, stuck };
}

/** Reads the store in key order, one batch at a time, and writes each batch before reading on. */
async function rotateStore(pass: Pass, run: { committed: number; batches: number }, progress: () => void): Promise<void> {
  const { deps, options, store } = pass;
  const batch = pass.batch!;
  const lastId = Buffer.alloc(64);
  let lastIdLength = 0;
  let after: string | null = null;
  for (;;) {
    batch.reset(++run.batches);
    pass.recount = false;
    const read = await copyStore(deps.db, store, { after, limit: options.batchSize }, (tuple) => {
      // The keyset position: the last id read (copied, not turned into a string per row).
      lastIdLength = tuple.buffer.copy(lastId, 0, tuple.starts[FIELD.id]!, tuple.starts[FIELD.id]! + tuple.lengths[FIELD.id]!);
      planTuple(pass, tuple);
    });
    if (read > 0) {
      after = lastId.toString('latin1', 0, lastIdLength);
      await writeWithRetries(pass, run);
      progress();
    }
    if (read < options.batchSize) return;
  }
}

/** Writes the batch; rows changed underneath are re-read, re-planned and written again, a few times at most. */
async function writeWithRetries(pass: Pass, run: { committed: number; batches: number }): Promise<void> {
  const { deps, options, store, report } = pass;
  const batch = pass.batch!;
  const maxRetries = options.maxRetries ?? 5;
  for (let attempt = 0; batch.count > 0; attempt++) {
    batch.syncBackup();
    const changed = await deps.db.transaction().execute(async (trx) => {
      const applied = await applyResealBatch(trx, store, batch);
      if (applied.mismatch !== null) throw new ReadBackMismatchError(store.name, applied.mismatch);
      return applied.changed;
    });
    const written = batch.count - changed.length;
    deps.backup?.markCommitted(batch.number, written);
    report.rotated += written;
    run.committed += written;
    if (changed.length === 0) return;
    // The platform changed these rows between our read and our write: re-read and re-plan them.
    report.retried += changed.length;
    const reread = await readRows(deps.db, store, changed);
    // A row deleted meanwhile is gone, not stuck: it no longer counts.
    report.total -= changed.length - reread.length;
    if (attempt + 1 >= maxRetries) {
      for (const row of reread) {
        report.stuck += 1;
        pass.stuck.push({ ...stuckValue(store, row, { kind: 'stuck', status: 'wrong_secret', detail: null }), detail: `changed by another writer on each of ${maxRetries} attempts; run rotate again` });
      }
      return;
    }
    batch.reset(++run.batches);
    pass.recount = true;
    for (const row of reread) planRow(pass, row);
  }
}
