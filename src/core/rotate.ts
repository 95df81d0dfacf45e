/**
 * rotate: re-seal every value that opens under a --from key under the --to key, batch by
 * batch, while Laminar keeps running.
 *
 * Invariants (each tested):
 * - a value is only ever written by a conditional UPDATE naming the exact ciphertext and nonce
 *   read, so a concurrent change by the platform is re-read and re-planned, never overwritten;
 * - each batch is one transaction whose new values are read back and opened under --to, to the
 *   same plaintext bytes, before it commits; any mismatch rolls the batch back and aborts;
 * - the backup records (old and new ciphertext, never plaintext) of a batch are on disk before
 *   the batch commits;
 * - so a crash at any moment leaves every value under its old key or under --to, and a re-run
 *   finishes the job, finding the rest alreadyCurrent.
 */
import { encodeAad, sealToText } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { assertRowsVisible, checkStorePresence, readRows, scanStore, type SealedRow } from '../stores/scan.js';
import type { StoreDefinition, StoreName } from '../stores/stores.js';
import { updateSealedValues, type ConditionalUpdate } from '../stores/write.js';
import type { BackupRecord, BackupSink } from './backup.js';
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
}

export interface RotationDeps {
  /** The connection holding the writer lock (see withWriterLock). */
  db: LaminarDb;
  backup: BackupSink | null;
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

/** Raised when a read-back does not open to the bytes written: the batch was rolled back. */
export class ReadBackMismatchError extends IntegrityError {
  constructor(readonly store: StoreName, readonly id: string) {
    super(
      `read-back check failed for ${store} ${id}: the batch was rolled back and nothing in it was changed`,
      'something rewrote the value inside our transaction (a trigger?) or the database altered it; run doctor and report this',
    );
  }
}

type Plan =
  | { kind: 'unset' }
  | { kind: 'alreadyCurrent' }
  | { kind: 'stuck'; status: StuckValue['status']; detail: string | null }
  | { kind: 'rotate'; plaintext: Uint8Array };

export function planValue(store: StoreDefinition, row: SealedRow, from: SecretKey[], to: SecretKey): Plan {
  const shape = loadShape(store, row);
  if (shape.kind === 'unset') return { kind: 'unset' };
  if (shape.kind === 'broken') return { kind: 'stuck', status: shape.status, detail: shape.detail };
  const { opener } = shape;
  const aad = encodeAad(row.aad);
  if (opener.open(to.bytes, aad)) {
    opener.clear();
    return { kind: 'alreadyCurrent' };
  }
  for (const key of from) {
    if (opener.open(key.bytes, aad)) return { kind: 'rotate', plaintext: opener.takePlaintext() };
  }
  return { kind: 'stuck', status: 'wrong_secret', detail: 'opens under neither --to nor any --from key' };
}

function stuckValue(store: StoreDefinition, row: SealedRow, plan: Extract<Plan, { kind: 'stuck' }>): StuckValue {
  return { store: store.name, id: row.id, workspaceId: row.workspaceId, projectId: row.projectId, name: row.name, status: plan.status, detail: plan.detail };
}

export async function runRotation(deps: RotationDeps, options: RotationOptions): Promise<RotationResult> {
  const reports: RotationStoreReport[] = [];
  const stuck: StuckValue[] = [];
  for (const store of options.stores) {
    if (deps.signal?.aborted) break;
    const presence = await checkStorePresence(deps.db, store);
    if (presence.present) await assertRowsVisible(deps.db, [store.table]);
    const report: RotationStoreReport = { store: store.name, present: presence.present, total: 0, rotated: 0, alreadyCurrent: 0, stuck: 0, retried: 0 };
    reports.push(report);
    if (!presence.present) continue;
    for await (const batch of scanStore(deps.db, store, options.batchSize)) {
      if (deps.signal?.aborted) break;
      await rotateBatch(deps, options, store, batch, report, stuck);
      deps.onProgress?.({ store: store.name, scanned: report.total, rotated: report.rotated });
    }
  }
  return { stores: reports, stuck };
}

async function rotateBatch(
  deps: RotationDeps,
  options: RotationOptions,
  store: StoreDefinition,
  firstRead: SealedRow[],
  report: RotationStoreReport,
  stuck: StuckValue[],
): Promise<void> {
  const maxRetries = options.maxRetries ?? 5;
  let rows = firstRead;
  let counted = false;
  for (let attempt = 0; rows.length > 0; attempt++) {
    const toWrite: Array<{ row: SealedRow; plaintext: Uint8Array }> = [];
    for (const row of rows) {
      const plan = planValue(store, row, options.from, options.to);
      if (plan.kind === 'unset') {
        // Cleared by another writer since the first read: no longer a value to count.
        if (counted) report.total -= 1;
        continue;
      }
      if (!counted) report.total += 1;
      if (plan.kind === 'alreadyCurrent') report.alreadyCurrent += 1;
      else if (plan.kind === 'stuck') {
        report.stuck += 1;
        stuck.push(stuckValue(store, row, plan));
      } else toWrite.push({ row, plaintext: plan.plaintext });
    }
    counted = true;
    if (options.dryRun) {
      report.rotated += toWrite.length;
      for (const item of toWrite) item.plaintext.fill(0);
      return;
    }
    const changed = await writeBatch(deps, options, store, toWrite);
    report.rotated += toWrite.length - changed.length;
    if (changed.length === 0) return;
    // The platform changed these rows between our read and our write: re-read and re-plan them.
    report.retried += changed.length;
    const reread = await readRows(deps.db, store, changed);
    // A row deleted meanwhile is gone, not stuck: it no longer counts.
    report.total -= changed.length - reread.length;
    if (attempt + 1 >= maxRetries) {
      for (const row of reread) {
        report.stuck += 1;
        stuck.push({ ...stuckValue(store, row, { kind: 'stuck', status: 'wrong_secret', detail: null }), detail: `changed by another writer on each of ${maxRetries} attempts; run rotate again` });
      }
      return;
    }
    rows = reread;
  }
}

/** Seals, backs up, writes conditionally, reads back, commits. Returns the ids that changed underneath. */
async function writeBatch(
  deps: RotationDeps,
  options: RotationOptions,
  store: StoreDefinition,
  toWrite: Array<{ row: SealedRow; plaintext: Uint8Array }>,
): Promise<string[]> {
  if (toWrite.length === 0) return [];
  try {
    const updates: ConditionalUpdate[] = toWrite.map(({ row, plaintext }) => {
      const sealed = sealToText(options.to.bytes, plaintext, encodeAad(row.aad));
      return { id: row.id, oldCiphertextHex: row.ciphertextHex, oldNonceHex: row.nonceHex, newCiphertextHex: sealed.ciphertextHex, newNonceHex: sealed.nonceHex };
    });
    const records: BackupRecord[] = updates.map((u) => ({
      type: 'update',
      store: store.name,
      id: u.id,
      oldNonceHex: u.oldNonceHex,
      oldCiphertextHex: u.oldCiphertextHex,
      newNonceHex: u.newNonceHex,
      newCiphertextHex: u.newCiphertextHex,
    }));
    deps.backup?.append(records);
    const plaintextById = new Map(toWrite.map(({ row, plaintext }) => [row.id, plaintext]));
    const written = await deps.db.transaction().execute(async (trx) => {
      const ids = await updateSealedValues(trx, store, updates);
      const readBack = await readRows(trx, store, [...ids]);
      if (readBack.length !== ids.size) throw new ReadBackMismatchError(store.name, [...ids].find((id) => !readBack.some((r) => r.id === id)) ?? '?');
      for (const row of readBack) {
        const shape = loadShape(store, row);
        const opened = shape.kind === 'loaded' && shape.opener.open(options.to.bytes, encodeAad(row.aad)) ? shape.opener.takePlaintext() : null;
        const expected = plaintextById.get(row.id)!;
        const same = opened !== null && Buffer.compare(opened, expected) === 0;
        opened?.fill(0);
        if (!same) throw new ReadBackMismatchError(store.name, row.id);
      }
      return ids;
    });
    return updates.filter((u) => !written.has(u.id)).map((u) => u.id);
  } finally {
    for (const { plaintext } of toWrite) plaintext.fill(0);
  }
}

