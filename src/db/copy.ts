/**
 * Binary COPY through the pg client a Kysely instance already holds (so a COPY runs on the
 * connection that holds the writer lock, or inside doctor's snapshot transaction).
 *
 * Both directions are pg "submittables" (objects with `submit(connection)`, pg's documented way
 * to run a custom protocol flow on a client). Kysely's Postgres driver hands the compiled
 * query's `sql` to `client.query()` unchanged, so a submittable passed as `sql` reaches pg as
 * is; it is also a thenable, so Kysely's `await` lasts until Postgres reports the COPY done
 * and the connection is only released then. test/integration/copy.test.ts pins that contract.
 *
 * Why not pg-copy-streams (as the benchmark's floor does): it re-frames every row into a
 * Node stream, which cost about 1.8 µs per row of the one core we have for decrypting. Here pg
 * parses the protocol as for any query and each tuple is handed over in place.
 */
import { CompiledQuery } from 'kysely';
import type { LaminarDb } from './connect.js';

/**
 * One tuple of a binary COPY. Field i is `buffer[starts[i], starts[i] + lengths[i])`, or NULL
 * when `lengths[i]` is -1. Valid only during the callback: the buffer belongs to pg's parser.
 */
export interface CopyTuple {
  buffer: Buffer;
  fieldCount: number;
  starts: Int32Array;
  lengths: Int32Array;
  /** The whole tuple, as sent: `buffer[start, end)`. */
  start: number;
  end: number;
}

export function newTuple(maxFields: number): CopyTuple {
  return {
    buffer: Buffer.alloc(0),
    fieldCount: 0,
    starts: new Int32Array(maxFields),
    lengths: new Int32Array(maxFields),
    start: 0,
    end: 0,
  };
}

/**
 * Reads the binary COPY tuple at `buffer[position]` into `tuple`. Returns where the next one
 * starts, or -1 when the bytes up to `end` hold only part of it. The trailer (a field count of
 * -1) reads as a tuple of no fields.
 */
export function readTuple(buffer: Buffer, position: number, end: number, tuple: CopyTuple): number {
  if (end - position < 2) return -1;
  // Big-endian integers read by hand: readInt16BE/readInt32BE's checks showed in the profile.
  const fieldCount = (((buffer[position]! << 8) | buffer[position + 1]!) << 16) >> 16;
  const { starts, lengths } = tuple;
  if (fieldCount === -1) {
    tuple.fieldCount = 0;
    return position + 2;
  }
  if (fieldCount > starts.length || fieldCount < 0)
    throw new Error(`COPY tuple has ${fieldCount} fields, expected at most ${starts.length}`);
  let cursor = position + 2;
  for (let i = 0; i < fieldCount; i++) {
    if (cursor + 4 > end) return -1;
    const length = (buffer[cursor]! << 24) | (buffer[cursor + 1]! << 16) | (buffer[cursor + 2]! << 8) | buffer[cursor + 3]!;
    cursor += 4;
    starts[i] = cursor;
    lengths[i] = length;
    if (length > 0) cursor += length;
    if (cursor > end) return -1;
  }
  tuple.buffer = buffer;
  tuple.fieldCount = fieldCount;
  tuple.start = position;
  tuple.end = cursor;
  return cursor;
}

// "PGCOPY\n\377\r\n\0", then a 32-bit flags field and a 32-bit header-extension length.
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const HEADER_BYTES = SIGNATURE.length + 8;

/** The slice of pg's Connection a COPY needs. */
interface PgConnection {
  stream: {
    write(chunk: Buffer): boolean;
    once(event: 'drain', listener: () => void): unknown;
    listeners(event: 'data'): Function[];
    on(event: 'data', listener: (chunk: Buffer) => void): unknown;
    removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown;
  };
  query(text: string): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

const COPY_DATA = 0x64;
const COPY_IN_CHUNK_BYTES = 256 * 1024;

interface CopyResult {
  command: 'COPY';
  rowCount: number;
  rows: never[];
}

/** Shared plumbing: a promise settled by pg's callbacks, exposed as a thenable for Kysely. */
abstract class CopyQuery implements PromiseLike<CopyResult> {
  rowCount = 0;
  protected failure: unknown = null;
  private settle!: { resolve: (result: CopyResult) => void; reject: (error: unknown) => void };
  private readonly done = new Promise<CopyResult>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(protected readonly text: string) {}

  then<A = CopyResult, B = never>(
    onFulfilled?: ((value: CopyResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.done.then(onFulfilled, onRejected);
  }

  submit(connection: PgConnection): void {
    connection.query(this.text);
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)/.exec(message.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  /** pg calls this after an ErrorResponse (then skips handleReadyForQuery) or when the socket dies. */
  handleError(error: unknown): void {
    this.settle.reject(error);
  }

  handleReadyForQuery(): void {
    if (this.failure !== null) this.settle.reject(this.failure);
    else this.settle.resolve({ command: 'COPY', rowCount: this.rowCount, rows: [] });
  }

  // Not part of a COPY: only a wrong statement would get here.
  handleRowDescription(): void {
    this.failure ??= new Error('expected a COPY statement, got a query returning rows');
  }
  handleDataRow(): void {}
  handleEmptyQuery(): void {
    this.failure ??= new Error('expected a COPY statement, got an empty query');
  }
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail('lmnr-keys expected COPY TO, not COPY FROM');
  }
  handleCopyData(_message: { chunk: Buffer }): void {}
}

/** How copyOut reads: Postgres's messages straight from the socket (the default), or through pg's parser. */
export type CopyOutReader = 'socket' | 'pg';

const COPY_OUT_RESPONSE = 0x48;

/** A big-endian int32 read by hand (this runs for every field of every row). */
function int32At(buffer: Buffer, at: number): number {
  return (buffer[at]! << 24) | (buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!;
}

/** Exported for the tests that feed it a socket's bytes cut anywhere (test/unit/copy-socket.test.ts). */
export class BinaryCopyOut extends CopyQuery {
  private headerSeen = false;
  private carry: Buffer | null = null;
  private readonly tuple: CopyTuple;
  // Reading the socket ourselves: the start of a message whose end has not arrived yet.
  private pending = Buffer.allocUnsafe(4096);
  private pendingLength = 0;

  constructor(
    text: string,
    private readonly onTuple: (tuple: CopyTuple) => void,
    maxFields: number,
    private readonly reader: CopyOutReader,
  ) {
    super(text);
    this.tuple = newTuple(maxFields);
  }

  override submit(connection: PgConnection): void {
    if (this.reader === 'socket') this.readSocketUntilCopyEnds(connection);
    super.submit(connection);
  }

  /**
   * For the length of the COPY, the socket's bytes come here before pg's parser sees them: the
   * CopyOutResponse and the CopyData messages (one per row) are read in place, with none of the
   * objects, buffer slices and events pg makes per message (a tenth of doctor's time, measured).
   * At the first message of any other kind (CopyDone, an error, a notice...) pg's own reader is
   * put back and handed the bytes from that message on, so everything after the rows, and every
   * error, takes pg's path exactly as before. Only when the socket has the one reader this was
   * written against (pg-protocol's); otherwise pg parses as usual (handleCopyData below).
   */
  private readSocketUntilCopyEnds(connection: PgConnection): void {
    const { stream } = connection;
    const readers = typeof stream?.listeners === 'function' ? stream.listeners('data') : [];
    if (readers.length !== 1) return;
    const pgReader = readers[0] as (chunk: Buffer) => void;
    const ourReader = (chunk: Buffer): void => {
      const rest = this.readMessages(chunk);
      if (rest === null) return;
      stream.removeListener('data', ourReader);
      stream.on('data', pgReader);
      pgReader(rest);
    };
    stream.removeListener('data', pgReader);
    stream.on('data', ourReader);
  }

  /**
   * Reads whole CopyOutResponse and CopyData messages; returns the bytes from the first message
   * of another kind on, or null. A message cut across socket reads is completed in a reusable
   * buffer (copying the socket's chunks whole, or keeping them, showed as a growing heap).
   */
  private readMessages(chunk: Buffer): Buffer | null {
    let position = 0;
    if (this.pendingLength > 0) {
      const header = Math.min(5 - Math.min(5, this.pendingLength), chunk.length);
      this.keepPending(chunk, 0, header);
      position = header;
      if (this.pendingLength < 5) return null;
      const type = this.pending[0]!;
      if (type !== COPY_DATA && type !== COPY_OUT_RESPONSE) return this.handOverPending(chunk, position);
      const messageLength = 1 + int32At(this.pending, 1);
      // A length no message has: pg's parser says what is wrong with the stream.
      if (messageLength < 5) return this.handOverPending(chunk, position);
      const take = Math.min(messageLength - this.pendingLength, chunk.length - position);
      this.keepPending(chunk, position, position + take);
      position += take;
      if (this.pendingLength < messageLength) return null;
      if (type === COPY_DATA) this.readCopyData(this.pending, 5, messageLength);
      this.pendingLength = 0;
    }
    const end = chunk.length;
    while (end - position >= 5) {
      const type = chunk[position]!;
      if (type !== COPY_DATA && type !== COPY_OUT_RESPONSE) return chunk.subarray(position);
      const messageEnd = position + 1 + int32At(chunk, position + 1);
      if (messageEnd < position + 5) return chunk.subarray(position);
      if (messageEnd > end) break;
      if (type === COPY_DATA) this.readCopyData(chunk, position + 5, messageEnd);
      position = messageEnd;
    }
    // The start of the next message, kept by copy: the socket's chunk is not ours to keep.
    this.keepPending(chunk, position, end);
    return null;
  }

  private keepPending(chunk: Buffer, start: number, end: number): void {
    const bytes = end - start;
    if (bytes <= 0) return;
    if (this.pendingLength + bytes > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.pending.length * 2, this.pendingLength + bytes));
      this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    chunk.copy(this.pending, this.pendingLength, start, end);
    this.pendingLength += bytes;
  }

  /** The kept start of a message pg must read, then the rest of the chunk. */
  private handOverPending(chunk: Buffer, position: number): Buffer {
    const rest = Buffer.concat([this.pending.subarray(0, this.pendingLength), chunk.subarray(position)]);
    this.pendingLength = 0;
    return rest;
  }

  override handleCopyData(message: { chunk: Buffer }): void {
    this.readCopyData(message.chunk, 0, message.chunk.length);
  }

  private readCopyData(buffer: Buffer, start: number, end: number): void {
    // After a failure the rest of the stream is drained and ignored: Postgres cannot be stopped
    // mid-COPY without cancelling, and the caller gets the first error once it ends.
    if (this.failure !== null) return;
    try {
      this.parse(buffer, start, end);
    } catch (error) {
      this.failure = error;
    }
  }

  /**
   * Postgres sends one tuple per CopyData message (the header rides with the first), but the
   * protocol does not promise it: a tuple cut across messages is carried over, copied, since
   * the memory behind `buffer` is not ours to keep.
   */
  private parse(chunk: Buffer, start: number, chunkEnd: number): void {
    let buffer = chunk;
    let position = start;
    let end = chunkEnd;
    if (this.carry !== null) {
      buffer = Buffer.concat([this.carry, chunk.subarray(start, chunkEnd)]);
      this.carry = null;
      position = 0;
      end = buffer.length;
    }
    if (!this.headerSeen) {
      if (end - position < HEADER_BYTES) return void (this.carry = Buffer.from(buffer.subarray(position, end)));
      if (!buffer.subarray(position, position + SIGNATURE.length).equals(SIGNATURE)) throw new Error('COPY output is not in binary format');
      const extension = int32At(buffer, position + SIGNATURE.length + 4);
      if (end - position < HEADER_BYTES + extension) return void (this.carry = Buffer.from(buffer.subarray(position, end)));
      position += HEADER_BYTES + extension;
      this.headerSeen = true;
    }
    while (position < end) {
      const next = readTuple(buffer, position, end, this.tuple);
      if (next < 0) break;
      if (this.tuple.fieldCount > 0) this.onTuple(this.tuple);
      position = next;
    }
    if (position < end) this.carry = Buffer.from(buffer.subarray(position, end));
  }
}

class BinaryCopyIn extends CopyQuery {
  private stopped = false;

  constructor(
    text: string,
    private readonly payload: Buffer,
  ) {
    super(text);
  }

  /**
   * Sends the payload as CopyData messages of 256 KB written straight to the socket (no copy),
   * waiting for 'drain' whenever the socket's buffer is full, so the bytes queued in memory
   * stay small whatever the batch size. The payload must not change until the COPY completes.
   */
  override handleCopyInResponse(connection: PgConnection): void {
    const { stream } = connection;
    let offset = 0;
    const pump = (): void => {
      while (!this.stopped && offset < this.payload.length) {
        const chunk = this.payload.subarray(offset, offset + COPY_IN_CHUNK_BYTES);
        offset += chunk.length;
        const header = Buffer.allocUnsafe(5);
        header[0] = COPY_DATA;
        header.writeUInt32BE(chunk.length + 4, 1);
        stream.write(header);
        if (!stream.write(chunk)) return void stream.once('drain', pump);
      }
      if (!this.stopped) connection.endCopyFrom();
    };
    pump();
  }

  override handleError(error: unknown): void {
    this.stopped = true;
    super.handleError(error);
  }
}

function run(db: LaminarDb, query: CopyQuery): Promise<unknown> {
  return db.executeQuery({ ...CompiledQuery.raw(''), sql: query as unknown as string });
}

/**
 * Runs `COPY (...) TO STDOUT (FORMAT binary)` and calls `onTuple` for every tuple, in order, as
 * the bytes arrive (so memory stays flat and Postgres streams while we work). Resolves with the
 * number of tuples; rejects with Postgres's error, or with the first error `onTuple` threw.
 */
export async function copyOut(
  db: LaminarDb,
  text: string,
  maxFields: number,
  onTuple: (tuple: CopyTuple) => void,
  reader: CopyOutReader = 'socket',
): Promise<number> {
  const query = new BinaryCopyOut(text, onTuple, maxFields, reader);
  await run(db, query);
  return query.rowCount;
}

/** Runs `COPY ... FROM STDIN (FORMAT binary)` with a payload built by BinaryCopyWriter. */
export async function copyIn(db: LaminarDb, text: string, payload: Buffer): Promise<number> {
  const query = new BinaryCopyIn(text, payload);
  await run(db, query);
  return query.rowCount;
}

/**
 * Tuples kept as the bytes Postgres sent, to be gone through later: rotate reads the next
 * batch before writing the current one (the connection does one thing at a time), then plans
 * it while Postgres writes. One reusable buffer.
 */
export class TupleBuffer {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private length = 0;
  private readonly tuple: CopyTuple;
  count = 0;

  constructor(maxFields: number) {
    this.tuple = newTuple(maxFields);
  }

  reset(): void {
    this.length = 0;
    this.count = 0;
  }

  add(tuple: CopyTuple): void {
    const bytes = tuple.end - tuple.start;
    if (this.length + bytes > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += tuple.buffer.copy(this.buffer, this.length, tuple.start, tuple.end);
    this.count += 1;
  }

  /**
   * Hands the tuples to `onTuple` in order, letting the event loop run every few milliseconds
   * (so the write in flight on the same connection keeps moving).
   */
  async forEach(onTuple: (tuple: CopyTuple) => void, sliceMs = 2, shouldStop: () => boolean = () => false): Promise<void> {
    let position = 0;
    let deadline = performance.now() + sliceMs;
    let sinceCheck = 0;
    while (position < this.length) {
      position = readTuple(this.buffer, position, this.length, this.tuple);
      if (position < 0) throw new Error('a kept COPY tuple is incomplete');
      onTuple(this.tuple);
      if (++sinceCheck === 64) {
        sinceCheck = 0;
        if (performance.now() > deadline) {
          await new Promise((resolve) => setImmediate(resolve));
          if (shouldStop()) return;
          deadline = performance.now() + sliceMs;
        }
      }
    }
  }
}

/** Appends bytes to one reusable buffer that grows by doubling (COPY payloads, backup lines). */
export class ByteBuilder {
  protected buffer: Buffer;
  length = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  protected reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** `source[start, end)`, copied (Buffer.copy: no view allocated). */
  bytes(source: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    this.length += source.copy(this.buffer, this.length, start, end);
  }

  text(text: string): void {
    this.reserve(Buffer.byteLength(text));
    this.length += this.buffer.write(text, this.length);
  }

  /** What was appended (a view of the reusable buffer: use it before the next append). */
  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Builds a binary COPY payload in one reusable buffer: text fields are written as the raw
 * bytes they are (no escaping exists in binary COPY), copied straight from other buffers.
 */
export class BinaryCopyWriter extends ByteBuilder {
  rows = 0;

  constructor(initialBytes = 1 << 16) {
    super(initialBytes);
    this.reset();
  }

  /** Starts a new payload, keeping the memory. */
  reset(): void {
    this.length = 0;
    this.rows = 0;
    this.reserve(HEADER_BYTES);
    SIGNATURE.copy(this.buffer, 0);
    this.buffer.writeInt32BE(0, SIGNATURE.length);
    this.buffer.writeInt32BE(0, SIGNATURE.length + 4);
    this.length = HEADER_BYTES;
  }

  beginRow(fieldCount: number): void {
    this.reserve(2);
    this.length = this.buffer.writeInt16BE(fieldCount, this.length);
    this.rows += 1;
  }

  /** A field copied from `source[start, end)` (Buffer.copy: no view allocated per field). */
  field(source: Buffer, start: number, end: number): void {
    const bytes = end - start;
    this.reserve(4 + bytes);
    this.length = this.buffer.writeInt32BE(bytes, this.length);
    this.length += source.copy(this.buffer, this.length, start, end);
  }

  /**
   * Fields already in binary COPY form (a 4-byte length, then the bytes, each), copied as one
   * block: consecutive fields of a tuple read by COPY go straight into a payload.
   */
  fields(source: Buffer, start: number, end: number): void {
    this.bytes(source, start, end);
  }

  /** A text field from a JS string (rare paths: retries), written as UTF-8. */
  textField(text: string): void {
    const bytes = Buffer.byteLength(text);
    this.reserve(4 + bytes);
    this.length = this.buffer.writeInt32BE(bytes, this.length);
    this.length += this.buffer.write(text, this.length);
  }

  nullField(): void {
    this.reserve(4);
    this.length = this.buffer.writeInt32BE(-1, this.length);
  }

  /** The finished payload (a view of the reusable buffer: send it before the next reset). */
  finish(): Buffer {
    this.reserve(2);
    this.buffer.writeInt16BE(-1, this.length);
    return this.buffer.subarray(0, this.length + 2);
  }
}
