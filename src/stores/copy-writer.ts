/**
 * rotate's write path: a batch of re-sealed values goes to Postgres with one binary
 * `COPY ... FROM STDIN` into a temporary table, is applied by one conditional `UPDATE ... FROM`,
 * and is read back through the same join, all in the caller's transaction.
 *
 * The condition is the old nonce and ciphertext exactly as read: a value the platform changed
 * since (or deleted) is not overwritten and comes back as "changed" for the caller to re-read.
 * The read-back compares, in Postgres, what each row now holds with the bytes we sent; those
 * bytes were opened again under the new key before they were queued (SealedValueOpener.reseal),
 * so a row that matches opens under the new key to its original plaintext.
 */
import { sql } from 'kysely';
import { BinaryCopyWriter, ByteBuilder, copyIn, type CopyTuple } from '../db/copy.js';
import type { LaminarDb } from '../db/connect.js';
import type { ResealedHex } from '../crypto/opener.js';
import { FIELD } from './copy-reader.js';
import type { SealedRow } from './scan.js';
import type { StoreDefinition } from './stores.js';

/**
 * What a batch needs of the write's backup (core/backup.ts's BackupSink is one): declared here,
 * so storage names no module above it.
 */
export interface BackupLineSink {
  /**
   * Appends `count` records already formatted as JSON lines (rotate's hot path builds them
   * straight from the bytes it read and wrote; tests check they equal JSON.stringify of the
   * record), and, with `sync` (the default), forces the file to disk.
   */
  appendLines: (lines: Buffer, count: number, sync?: boolean) => void;
  /** Forces every record appended so far to disk (before the transaction they protect commits). */
  sync: () => void;
}

const BATCH_TABLE = 'lmnr_keys_batch';
// Backup lines go to the file (unsynced) each time this much has gathered, and are fsynced
// once before the batch's transaction: memory does not grow with the batch size.
const BACKUP_FLUSH_BYTES = 1 << 20;
// A payload row is about 850 bytes for a 160-character key; start big enough for most batches.
const PAYLOAD_BYTES_PER_ROW = 1024;

/**
 * One batch of re-sealed values: the COPY payload (id, old ciphertext, old nonce, new
 * ciphertext, new nonce, as text) and, when backing up, the backup's update records. Both are
 * built from the bytes as read and as sealed, without a string per value; the buffers are
 * reused from batch to batch.
 */
export class ResealBatch {
  private readonly payload: BinaryCopyWriter;
  private readonly backup = new ByteBuilder(BACKUP_FLUSH_BYTES + (1 << 16));
  /** Records gathered in `backup` and not yet handed to the sink. */
  private backupRecords = 0;
  private readonly withBackup: boolean;
  private readonly recordPrefix: string;
  private recordSuffix = '';
  number = 0;
  count = 0;

  constructor(
    store: StoreDefinition,
    private readonly sink: BackupLineSink | null,
    batchSize: number,
  ) {
    this.withBackup = sink !== null;
    this.payload = new BinaryCopyWriter(Math.min(Math.max(batchSize * PAYLOAD_BYTES_PER_ROW, 1 << 16), 32 << 20));
    // Store names are fixed identifiers and every other field is a uuid or hex: no JSON escaping
    // can be needed, so records are assembled as text (checked against JSON.stringify in tests).
    this.recordPrefix = `{"type":"update","store":${JSON.stringify(store.name)},"id":"`;
  }

  reset(batchNumber: number): void {
    this.payload.reset();
    this.backup.length = 0;
    this.backupRecords = 0;
    this.count = 0;
    this.number = batchNumber;
    this.recordSuffix = `","batch":${batchNumber}}\n`;
  }

  /** A value read by COPY: id and old value straight from the tuple, new value from libsodium's heap. */
  addFromTuple(tuple: CopyTuple, heap: Buffer, sealed: ResealedHex): void {
    const { buffer, starts, lengths } = tuple;
    const span = (field: number): [number, number] => [starts[field]!, starts[field]! + lengths[field]!];
    const [idStart, idEnd] = span(FIELD.id);
    const [ctStart, ctEnd] = span(FIELD.ciphertext);
    const [nonceStart, nonceEnd] = span(FIELD.nonce);
    const newCt: [number, number] = [sealed.ciphertextStart, sealed.ciphertextStart + sealed.ciphertextLength];
    const newNonce: [number, number] = [sealed.nonceStart, sealed.nonceStart + sealed.nonceLength];
    const p = this.payload;
    p.beginRow(5);
    // id, ciphertext and nonce are consecutive fields of the tuple, none NULL here (the value
    // loaded): one copy of their length-prefixed bytes, exactly the payload's first three.
    p.fields(buffer, idStart - 4, nonceEnd);
    p.field(heap, newCt[0], newCt[1]);
    p.field(heap, newNonce[0], newNonce[1]);
    if (this.withBackup) {
      const b = this.backup;
      b.text(this.recordPrefix);
      b.bytes(buffer, idStart, idEnd);
      b.text('","oldNonceHex":"');
      b.bytes(buffer, nonceStart, nonceEnd);
      b.text('","oldCiphertextHex":"');
      b.bytes(buffer, ctStart, ctEnd);
      b.text('","newNonceHex":"');
      b.bytes(heap, newNonce[0], newNonce[1]);
      b.text('","newCiphertextHex":"');
      b.bytes(heap, newCt[0], newCt[1]);
      b.text(this.recordSuffix);
      this.backupRecords += 1;
      this.flushBackup(false);
    }
    this.count += 1;
  }

  /** Writes gathered backup lines to the file; with `sync`, all of them, forced to disk. */
  private flushBackup(sync: boolean): void {
    if (this.sink === null || (!sync && this.backup.length < BACKUP_FLUSH_BYTES)) return;
    if (this.backup.length > 0) this.sink.appendLines(this.backup.view(), this.backupRecords, false);
    this.backup.length = 0;
    this.backupRecords = 0;
    if (sync) this.sink.sync();
  }

  /** Every backup record of this batch on disk (fsynced): call before its transaction commits. */
  syncBackup(): void {
    this.flushBackup(true);
  }

  /** A value re-read as strings (a retry): the same record from the row's text. */
  addFromRow(row: SealedRow, heap: Buffer, sealed: ResealedHex): void {
    const newCt = heap.toString('latin1', sealed.ciphertextStart, sealed.ciphertextStart + sealed.ciphertextLength);
    const newNonce = heap.toString('latin1', sealed.nonceStart, sealed.nonceStart + sealed.nonceLength);
    const p = this.payload;
    p.beginRow(5);
    p.textField(row.id);
    p.textField(row.ciphertextHex!);
    p.textField(row.nonceHex!);
    p.textField(newCt);
    p.textField(newNonce);
    if (this.withBackup) {
      this.backup.text(
        `${this.recordPrefix}${row.id}","oldNonceHex":"${row.nonceHex}","oldCiphertextHex":"${row.ciphertextHex}","newNonceHex":"${newNonce}","newCiphertextHex":"${newCt}${this.recordSuffix}`,
      );
      this.backupRecords += 1;
      this.flushBackup(false);
    }
    this.count += 1;
  }

  payloadBytes(): Buffer {
    return this.payload.finish();
  }
}

export interface AppliedBatch {
  /** Rows the UPDATE wrote (and the read-back confirmed). */
  written: number;
  /** Rows not written because they no longer held the value read (changed or deleted meanwhile). */
  changed: string[];
  /** A row the UPDATE wrote that does not hold what was sent: the caller must roll back. */
  mismatch: string | null;
}

/**
 * Applies a batch inside the caller's transaction (`trx`). The temporary table lives until the
 * commit. Nested loops are forced for this transaction's joins: with a few thousand rows on one
 * side and an index on the other, a hash join would read the whole table once per batch.
 */
export async function applyResealBatch(trx: LaminarDb, store: StoreDefinition, batch: ResealBatch): Promise<AppliedBatch> {
  const table = sql.table(store.table);
  const id = sql.ref(`t.${store.idColumn}`);
  const ct = sql.ref(`t.${store.ciphertextColumn}`);
  const nonce = sql.ref(`t.${store.nonceColumn}`);
  await sql`select set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`.execute(trx);
  await sql`create temporary table ${sql.raw(BATCH_TABLE)} (id text, old_ct text, old_nonce text, new_ct text, new_nonce text) on commit drop`.execute(
    trx,
  );
  await copyIn(
    trx,
    `copy pg_temp.${BATCH_TABLE} (id, old_ct, old_nonce, new_ct, new_nonce) from stdin (format binary)`,
    batch.payloadBytes(),
  );
  const updated = await sql`
    update ${table} as t
    set ${sql.ref(store.ciphertextColumn)} = s.new_ct, ${sql.ref(store.nonceColumn)} = s.new_nonce
    from pg_temp.${sql.raw(BATCH_TABLE)} s
    where ${id} = s.id::uuid and ${ct} = s.old_ct and ${nonce} = s.old_nonce`.execute(trx);
  const written = Number(updated.numAffectedRows ?? 0n);
  // Every row of the batch not holding exactly what we sent. Only the UPDATE can have put our
  // fresh nonces there, so when this leaves exactly `written` rows verified, the rest are the
  // rows it skipped; anything else means something altered a row we wrote.
  const unverified = await sql<{ id: string; ours: boolean }>`
    select s.id, t.xmin::text = (txid_current() % 4294967296)::text as ours
    from pg_temp.${sql.raw(BATCH_TABLE)} s left join ${table} as t on ${id} = s.id::uuid
    where ${ct} is distinct from s.new_ct or ${nonce} is distinct from s.new_nonce`.execute(trx);
  const verified = batch.count - unverified.rows.length;
  if (verified !== written) {
    const culprit = unverified.rows.find((row) => row.ours) ?? unverified.rows[0];
    return { written, changed: [], mismatch: culprit?.id ?? '?' };
  }
  return { written, changed: unverified.rows.map((row) => row.id), mismatch: null };
}
