/**
 * Reads a store's sealed values with one binary `COPY (SELECT ...) TO STDOUT` and hands each
 * tuple over in place: the hot paths (doctor, rotate) read hex and AAD straight from pg's
 * buffer into libsodium's heap and build JS strings only for values that need reporting.
 *
 * Binary rather than text COPY: Postgres produces it about four times cheaper (no per-character
 * escaping of the output), fields come length-prefixed (no scanning for tabs), and no escaping
 * exists to undo: a name or team_id holding a tab, a newline or a backslash arrives as its
 * exact bytes. Text columns arrive as their UTF-8 bytes (pg sets client_encoding UTF8), the
 * same bytes `encodeAad` produces from the string pg would have decoded.
 */
import { copyOut, type CopyTuple } from '../db/copy.js';
import type { LaminarDb } from '../db/connect.js';
import type { SealedRow } from './scan.js';
import type { StoreDefinition } from './stores.js';

/**
 * Field positions in every store's COPY tuple. The last two are only sent when Postgres decodes
 * the hex ('bytes' below): the stored texts' lengths, to tell a value decode() read leniently.
 */
export const FIELD = {
  id: 0,
  ciphertext: 1,
  nonce: 2,
  aad: 3,
  projectId: 4,
  workspaceId: 5,
  name: 6,
  ciphertextTextLength: 7,
  nonceTextLength: 8,
} as const;
export const FIELD_COUNT = 9;

/**
 * How the sealed columns travel. 'hex': as stored (text), decoded here. 'bytes': decoded by
 * Postgres (`decode(x, 'hex')`), which halves the bytes sent and moves the decoding to the
 * core Postgres leaves idle during a read-only scan. decode() raises an error on a value that
 * is not hex (the caller then reads the store again as 'hex') and skips whitespace between
 * digit pairs (so the text lengths come along, and a value whose length does not match is
 * re-read as text). In 'bytes' the ids (id, project, workspace) come as a uuid's 16 bytes too
 * (Laminar's id columns are uuids; every look-up here reads them as uuids): formatting a uuid
 * as text was a fifth of Postgres's work for the scan; text is made here only for the rows a
 * report names.
 */
export type SealedEncoding = 'hex' | 'bytes';

/** Postgres's SQLSTATE for decode()'s "invalid hexadecimal digit" and "odd number of digits". */
export const INVALID_HEX_SQLSTATE = '22023';

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** COPY takes no bind parameters: identifiers come from the store list, quoted anyway. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A uuid as a SQL literal, for COPY and keyset bounds; refuses anything that is not one. */
export function uuidLiteral(text: string): string {
  if (!UUID_TEXT.test(text)) throw new Error('expected a uuid');
  return `'${text}'::uuid`;
}

export interface StoreCopyRange {
  /** Only ids greater than this one (keyset order). */
  after?: string | null;
  /** Ordered by id and limited to this many rows; unordered (a plain sequential scan) when absent. */
  limit?: number | null;
  /** Ordered by id without a limit (findings streamed in id order). */
  ordered?: boolean;
}

/**
 * The tuple: id, ciphertext, nonce, AAD, project id, workspace id, name. A name that is the
 * AAD column (provider_api_keys) is not sent twice; absent columns are NULL.
 */
export function storeCopySql(store: StoreDefinition, range: StoreCopyRange = {}, encoding: SealedEncoding = 'hex'): string {
  const column = (name: string | null) => (name === null ? 'null::text' : `t.${quoteIdent(name)}::text`);
  const uuid = (name: string | null) => (encoding === 'hex' ? column(name) : name === null ? 'null::uuid' : `t.${quoteIdent(name)}::uuid`);
  const name =
    store.fixedName !== null || store.nameColumn === store.aadColumn ? 'null::text' : `coalesce(${column(store.nameColumn)}, '')`;
  const id = `t.${quoteIdent(store.idColumn)}`;
  const sealed = (name: string) => (encoding === 'bytes' ? `decode(${column(name)}, 'hex')` : column(name));
  const fields = [
    uuid(store.idColumn),
    sealed(store.ciphertextColumn),
    sealed(store.nonceColumn),
    `coalesce(${column(store.aadColumn)}, '')`,
    uuid(store.projectIdColumn),
    uuid(store.workspaceIdColumn),
    name,
  ];
  if (encoding === 'bytes') fields.push(`octet_length(${column(store.ciphertextColumn)})`, `octet_length(${column(store.nonceColumn)})`);
  const select = fields.join(', ');
  const where = range.after ? ` where ${id} > ${uuidLiteral(range.after)}` : '';
  // Ordered by the uuid column itself (an index range scan), not by its text.
  const order = range.limit ? ` order by ${id} limit ${Math.trunc(range.limit)}` : range.ordered ? ` order by ${id}` : '';
  return `copy (select ${select} from ${quoteIdent(store.table)} as t${where}${order}) to stdout (format binary)`;
}

/** Streams a store's tuples (see storeCopySql); returns how many were read. */
export function copyStore(
  db: LaminarDb,
  store: StoreDefinition,
  range: StoreCopyRange,
  onTuple: (tuple: CopyTuple) => void,
  encoding: SealedEncoding = 'hex',
): Promise<number> {
  return copyOut(db, storeCopySql(store, range, encoding), FIELD_COUNT, onTuple);
}

/**
 * In a 'bytes' tuple: whether each decoded value is exactly its stored text (NULL, or twice as
 * many hex digits as bytes, so decode() skipped nothing). Only then does the canonical hex of
 * the bytes stand in for the stored text.
 */
export function decodedExactly(tuple: CopyTuple): boolean {
  return exactly(tuple, FIELD.ciphertext, FIELD.ciphertextTextLength) && exactly(tuple, FIELD.nonce, FIELD.nonceTextLength);
}

function exactly(tuple: CopyTuple, field: number, textLengthField: number): boolean {
  const { buffer, starts, lengths } = tuple;
  const length = lengths[field]!;
  if (length < 0) return true;
  if (lengths[textLengthField] !== 4) return false;
  const at = starts[textLengthField]!;
  // A binary int4, big-endian (read by hand: this runs for every row).
  const textLength = (buffer[at]! << 24) | (buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!;
  return textLength === 2 * length;
}

export function fieldText(tuple: CopyTuple, field: number): string | null {
  const length = tuple.lengths[field]!;
  if (length < 0) return null;
  const start = tuple.starts[field]!;
  return tuple.buffer.toString('utf8', start, start + length);
}

/** The id as text (ids are uuids: ASCII). */
export function tupleId(tuple: CopyTuple, encoding: SealedEncoding = 'hex'): string {
  if (encoding === 'bytes') return fieldUuid(tuple, FIELD.id)!;
  const start = tuple.starts[FIELD.id]!;
  return tuple.buffer.toString('latin1', start, start + tuple.lengths[FIELD.id]!);
}

/** A uuid sent as its 16 bytes ('bytes'), as Postgres writes it as text (lower case, dashed). */
export function fieldUuid(tuple: CopyTuple, field: number): string | null {
  const length = tuple.lengths[field]!;
  if (length < 0) return null;
  if (length !== 16) throw new Error(`COPY field ${field} is ${length} bytes, not a uuid's 16`);
  return uuidText(tuple.buffer, tuple.starts[field]!);
}

/** The 16 bytes of a uuid at `buffer[start]` as text, as Postgres writes it. */
export function uuidText(buffer: Buffer, start: number): string {
  const hex = buffer.toString('hex', start, start + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function fieldHex(tuple: CopyTuple, field: number): string | null {
  const length = tuple.lengths[field]!;
  if (length < 0) return null;
  const start = tuple.starts[field]!;
  return tuple.buffer.toString('hex', start, start + length);
}

/**
 * The row as the string-based paths see it, exactly as scanStore would have returned it. For a
 * 'bytes' tuple (decodedExactly only) the sealed values come back as lowercase hex of the same
 * bytes: every check and reason depends on the bytes and their number alone, so the verdict is
 * the one the stored text (possibly upper case) gets.
 */
export function sealedRowFromTuple(store: StoreDefinition, tuple: CopyTuple, encoding: SealedEncoding = 'hex'): SealedRow {
  const aad = fieldText(tuple, FIELD.aad) ?? '';
  const sealed = encoding === 'bytes' ? fieldHex : fieldText;
  const uuid = encoding === 'bytes' ? fieldUuid : fieldText;
  return {
    id: tupleId(tuple, encoding),
    ciphertextHex: sealed(tuple, FIELD.ciphertext),
    nonceHex: sealed(tuple, FIELD.nonce),
    aad,
    projectId: uuid(tuple, FIELD.projectId),
    workspaceId: uuid(tuple, FIELD.workspaceId),
    name: store.fixedName ?? (store.nameColumn === store.aadColumn ? aad : (fieldText(tuple, FIELD.name) ?? '')),
  };
}
