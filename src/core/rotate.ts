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
 * How it runs (see docs/performance.md): a batch is read with one binary COPY in key order
 * (keyset: ids after the last one read), classified and re-sealed tuple by tuple as the bytes
 * arrive, straight from pg's buffer into libsodium's heap and from there into the COPY payload
 * and the backup lines; then written with COPY into a temporary table and one UPDATE ... FROM.
 * Memory is bounded by the batch size, whatever the number of rows.
 */
import { encodeAad } from '../crypto/aead.js';
import { isPublicDefault, type SecretKey } from '../crypto/keys.js';
import { sharedOpener, type ResealedHex, type SealedValueOpener } from '../crypto/opener.js';
import type { LaminarDb } from '../db/connect.js';
import { TupleBuffer, type CopyTuple } from '../db/copy.js';
import { copyStore, FIELD, FIELD_COUNT, sealedRowFromTuple, tupleId } from '../stores/copy-reader.js';
import { applyResealBatch, ResealBatch } from '../stores/copy-writer.js';
import {
  assertRowsVisible,
  checkStorePresence,
  countRows,
  placeOfValue,
  readRows,
  type SealedRow,
  type ValuePlace,
} from '../stores/scan.js';
import type { StoreDefinition, StoreName } from '../stores/stores.js';
import type { BackupSink, WriteJournal } from './backup.js';
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
  /**
   * Values re-sealed (or to be, in a dry run) that opened under Laminar's public default key:
   * their backup records are readable by anyone.
   */
  fromPublicDefault: number;
}

export interface StuckValue extends ValuePlace {
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
  /** Where each batch's commit is reported (and its backup commit mark written); absent in a dry run. */
  journal?: WriteJournal | null;
  onProgress?: (progress: RotationProgress) => void;
  /** Aborted (Ctrl-C): stop after the batch in flight; what was committed stays. */
  signal?: AbortSignal | undefined;
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
  constructor(
    readonly store: StoreName,
    readonly id: string,
  ) {
    super(
      `read-back check failed for ${store} ${id}: the batch was rolled back and nothing in it was changed`,
      'something rewrote the value inside our transaction (a trigger?) or the database altered it; run doctor and report this',
    );
  }
}

/** Raised when a value re-sealed in memory does not open to its plaintext: nothing was written. */
export class ResealCheckError extends IntegrityError {
  constructor(
    readonly store: StoreName,
    readonly id: string,
  ) {
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
  let verdict = classifyLoaded(opener, from, to);
  if (verdict === 'alreadyCurrent' && shape.lenient !== null && opener.tryKey(to.bytes)) verdict = 'rotate';
  if (verdict === 'rotate') return { kind: 'rotate', plaintext: opener.takePlaintext() };
  if (verdict === 'alreadyCurrent') return { kind: 'alreadyCurrent' };
  return shape.lenient !== null ? { kind: 'stuck', status: 'malformed', detail: shape.lenient } : WRONG_SECRET;
}

const WRONG_SECRET = { kind: 'stuck', status: 'wrong_secret', detail: 'opens under neither --to nor any --from key' } as const;

/**
 * The loaded value (AAD set) opens under --to, under a --from (its plaintext then stays in the
 * opener for `reseal`), or under none.
 */
/** Asked once per key object, not once per row (the check builds a hex string). */
const publicDefaultKeys = new WeakMap<SecretKey, boolean>();
function isPublicDefaultKey(key: SecretKey): boolean {
  let known = publicDefaultKeys.get(key);
  if (known === undefined) publicDefaultKeys.set(key, (known = isPublicDefault(key)));
  return known;
}

function classifyLoaded(
  opener: SealedValueOpener,
  from: SecretKey[],
  to: SecretKey,
  report?: RotationStoreReport,
): 'alreadyCurrent' | 'rotate' | 'wrong_secret' {
  if (opener.tryKey(to.bytes)) {
    opener.clear();
    return 'alreadyCurrent';
  }
  for (const key of from) {
    if (!opener.tryKey(key.bytes)) continue;
    if (report && isPublicDefaultKey(key)) report.fromPublicDefault += 1;
    return 'rotate';
  }
  opener.clear();
  return 'wrong_secret';
}

/** Stuck values listed (every one is counted in its store's `stuck`): a rotation with the wrong --from must not hold a million. */
export const STUCK_LISTED = 1000;

function noteStuck(pass: { stuck: StuckValue[] }, value: StuckValue): void {
  if (pass.stuck.length < STUCK_LISTED) pass.stuck.push(value);
}

function stuckValue(store: StoreDefinition, row: SealedRow, plan: Extract<Plan, { kind: 'stuck' }>): StuckValue {
  return { ...placeOfValue(store, row), status: plan.status, detail: plan.detail };
}

/** What planning a store needs: where counts go, and the opener. */
interface Pass {
  deps: RotationDeps;
  options: RotationOptions;
  store: StoreDefinition;
  report: RotationStoreReport;
  stuck: StuckValue[];
  opener: SealedValueOpener;
}

/**
 * Where planned values go: a batch to write (null in a dry run: rotatable values are only
 * counted), and whether the rows were counted on an earlier read (re-read after a conflict).
 * Passed with each row, never kept on the pass: two batches are planned at once (see rotateStore).
 */
interface Target {
  batch: ResealBatch | null;
  recount: boolean;
}

function countVerdict(pass: Pass, target: Target, verdict: 'alreadyCurrent' | 'rotate' | 'stuck'): void {
  if (!target.recount) pass.report.total += 1;
  if (verdict === 'alreadyCurrent') pass.report.alreadyCurrent += 1;
  else if (verdict === 'stuck') pass.report.stuck += 1;
  else if (target.batch === null) pass.report.rotated += 1;
}

function resealInto(
  pass: Pass,
  target: Target,
  add: (batch: ResealBatch, heap: Buffer, sealed: ResealedHex) => void,
  id: () => string,
): void {
  if (target.batch === null) {
    pass.opener.clear();
    return;
  }
  const sealed = pass.opener.reseal(pass.options.to.bytes);
  if (sealed === null) throw new ResealCheckError(pass.store.name, id());
  add(target.batch, pass.opener.heapBytes(), sealed);
}

/** A tuple as COPY delivered it: decided from the buffer when its shape is sound, else from strings. */
function planTuple(pass: Pass, target: Target, tuple: CopyTuple): void {
  const { opener, options, store } = pass;
  const { buffer, starts, lengths } = tuple;
  if (opener.loadHexFrom(buffer, starts[FIELD.ciphertext]!, lengths[FIELD.ciphertext]!, starts[FIELD.nonce]!, lengths[FIELD.nonce]!)) {
    opener.setAadFrom(buffer, starts[FIELD.aad]!, lengths[FIELD.aad]!);
    const verdict = classifyLoaded(opener, options.from, options.to, pass.report);
    if (verdict === 'wrong_secret') {
      countVerdict(pass, target, 'stuck');
      noteStuck(pass, stuckValue(store, sealedRowFromTuple(store, tuple), WRONG_SECRET));
      return;
    }
    countVerdict(pass, target, verdict);
    if (verdict === 'rotate')
      resealInto(
        pass,
        target,
        (batch, heap, sealed) => batch.addFromTuple(tuple, heap, sealed),
        () => tupleId(tuple),
      );
    return;
  }
  planRow(pass, target, sealedRowFromTuple(store, tuple));
}

/** A row as strings (malformed, NULL or empty values; rows re-read after a conflict). */
function planRow(pass: Pass, target: Target, row: SealedRow): void {
  const { opener, options, store } = pass;
  const shape = loadShape(store, row);
  if (shape.kind === 'unset') {
    // Cleared by another writer since the first read: no longer a value to count.
    if (target.recount) pass.report.total -= 1;
    return;
  }
  if (shape.kind === 'broken') {
    countVerdict(pass, target, 'stuck');
    noteStuck(pass, stuckValue(store, row, { kind: 'stuck', status: shape.status, detail: shape.detail }));
    return;
  }
  opener.setAad(encodeAad(row.aad));
  let verdict = classifyLoaded(opener, options.from, options.to, pass.report);
  // Stray characters after the hex (Laminar's web app reads it anyway): already under --to, but
  // re-sealed all the same, so what is stored becomes clean hex every reader accepts.
  if (verdict === 'alreadyCurrent' && shape.lenient !== null && opener.tryKey(options.to.bytes)) verdict = 'rotate';
  if (verdict === 'wrong_secret') {
    countVerdict(pass, target, 'stuck');
    // Read leniently and opened by no key: what doctor calls malformed (an odd-length or stray-character value), not a wrong key.
    noteStuck(
      pass,
      stuckValue(store, row, shape.lenient !== null ? { kind: 'stuck', status: 'malformed', detail: shape.lenient } : WRONG_SECRET),
    );
    return;
  }
  countVerdict(pass, target, verdict);
  if (verdict === 'rotate')
    resealInto(
      pass,
      target,
      (batch, heap, sealed) => batch.addFromRow(row, heap, sealed),
      () => row.id,
    );
}

interface Run {
  committed: number;
  batches: number;
}

export async function runRotation(deps: RotationDeps, options: RotationOptions): Promise<RotationResult> {
  const reports: RotationStoreReport[] = [];
  const stuck: StuckValue[] = [];
  const run: Run = { committed: 0, batches: 0 };
  for (const store of options.stores) {
    if (deps.signal?.aborted) break;
    const presence = await checkStorePresence(deps.db, store);
    if (presence.present) await assertRowsVisible(deps.db, [store.table]);
    const report: RotationStoreReport = {
      store: store.name,
      present: presence.present,
      total: 0,
      rotated: 0,
      alreadyCurrent: 0,
      stuck: 0,
      retried: 0,
      rowsAtStart: null,
      rowsAtEnd: null,
      fromPublicDefault: 0,
    };
    reports.push(report);
    if (!presence.present) continue;
    report.rowsAtStart = await countRows(deps.db, store);
    const pass: Pass = { deps, options, store, report, stuck, opener: sharedOpener() };
    const progress = () =>
      deps.onProgress?.({ store: store.name, scanned: report.total, rotated: report.rotated, committed: run.committed });
    if (options.dryRun) {
      // Nothing is written, so nothing needs an order: one sequential scan.
      const target: Target = { batch: null, recount: false };
      let sinceProgress = 0;
      await copyStore(deps.db, store, {}, (tuple) => {
        planTuple(pass, target, tuple);
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

/**
 * Reads the store in key order, one batch at a time, and writes each batch in its own
 * transaction. The connection does one thing at a time, so batch i+1 is read (kept as the bytes
 * Postgres sent) before batch i is written, and planned and re-sealed while Postgres writes
 * batch i: our CPU and Postgres's run side by side. Two batches are in memory at most.
 */
async function rotateStore(pass: Pass, run: Run, progress: () => void): Promise<void> {
  const { deps, options, store } = pass;
  const batches = [new ResealBatch(store, deps.backup, options.batchSize), new ResealBatch(store, deps.backup, options.batchSize)] as const;
  const rows = new TupleBuffer(FIELD_COUNT);
  // The keyset position: the last id read, copied rather than made a string per row.
  const lastId = Buffer.alloc(64);
  let lastIdLength = 0;
  const noteId = (tuple: CopyTuple) => {
    lastIdLength = tuple.buffer.copy(lastId, 0, tuple.starts[FIELD.id]!, tuple.starts[FIELD.id]! + tuple.lengths[FIELD.id]!);
  };
  const after = () => (lastIdLength === 0 ? null : lastId.toString('latin1', 0, lastIdLength));

  // The first batch has nothing to overlap with: planned as it arrives.
  let current: ResealBatch = batches[0];
  current.reset(++run.batches);
  const first: Target = { batch: current, recount: false };
  let read = await copyStore(deps.db, store, { after: null, limit: options.batchSize }, (tuple) => {
    noteId(tuple);
    planTuple(pass, first, tuple);
  });
  for (let turn = 0; read > 0; turn++) {
    // The next batch's rows, before this batch takes the connection for its transaction.
    rows.reset();
    const nextRead =
      read === options.batchSize
        ? await copyStore(deps.db, store, { after: after(), limit: options.batchSize }, (tuple) => {
            noteId(tuple);
            rows.add(tuple);
          })
        : 0;
    // The write never rejects here: a failure is kept and thrown once planning has stopped.
    let writeFailure: { error: unknown } | null = null;
    const writing = writeWithRetries(pass, run, current).then(
      () => {},
      (error: unknown) => void (writeFailure = { error }),
    );
    const next: ResealBatch = turn % 2 === 0 ? batches[1] : batches[0];
    next.reset(++run.batches);
    const target: Target = { batch: next, recount: false };
    try {
      // Planned while Postgres writes `current`, yielding every few milliseconds so that the
      // transaction's next statement goes out as soon as the previous one is done.
      if (nextRead > 0)
        await rows.forEach(
          (tuple) => planTuple(pass, target, tuple),
          2,
          () => writeFailure !== null,
        );
    } finally {
      await writing;
    }
    if (writeFailure !== null) throw (writeFailure as { error: unknown }).error;
    progress();
    // Ctrl-C: stop between batches. The batch planned meanwhile was never written; its backup
    // lines have no commit mark, so restore counts them as never applied, and its values are
    // not counted as read (the next run reads them): the summary adds up.
    if (deps.signal?.aborted) {
      pass.report.total -= next.count;
      return;
    }
    current = next;
    read = nextRead;
  }
}

/** Writes the batch; rows changed underneath are re-read, re-planned and written again, a few times at most. */
async function writeWithRetries(pass: Pass, run: Run, batch: ResealBatch): Promise<void> {
  const { deps, options, store, report } = pass;
  const maxRetries = options.maxRetries ?? 5;
  for (let attempt = 0; batch.count > 0; attempt++) {
    batch.syncBackup();
    const changed = await deps.db.transaction().execute(async (trx) => {
      const applied = await applyResealBatch(trx, store, batch);
      if (applied.mismatch !== null) throw new ReadBackMismatchError(store.name, applied.mismatch);
      return applied.changed;
    });
    const written = batch.count - changed.length;
    report.rotated += written;
    run.committed += written;
    deps.journal?.committed(batch.number, written);
    if (changed.length === 0) return;
    // The platform changed these rows between our read and our write: re-read and re-plan them.
    report.retried += changed.length;
    const reread = await readRows(deps.db, store, changed);
    // A row deleted meanwhile is gone, not stuck: it no longer counts.
    report.total -= changed.length - reread.length;
    if (attempt + 1 >= maxRetries) {
      for (const row of reread) {
        report.stuck += 1;
        noteStuck(pass, {
          ...stuckValue(store, row, { kind: 'stuck', status: 'wrong_secret', detail: null }),
          detail: `changed by another writer on each of ${maxRetries} attempts; run rotate again`,
        });
      }
      return;
    }
    batch.reset(++run.batches);
    for (const row of reread) planRow(pass, { batch, recount: true }, row);
  }
}
