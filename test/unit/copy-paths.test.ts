/**
 * The COPY hot paths against the string paths they stand in for: every malformed shape the
 * bad-input suite has, property-tested. What the fast path decides must be exactly what the
 * string path (loadShape / diagnoseValue, parseSealedText) decides; everything else it must
 * leave to the string path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import sodium from 'libsodium-wrappers';
import { encodeAad, loadCipher, sealToText } from '../../src/crypto/aead.js';
import { SealedValueOpener } from '../../src/crypto/opener.js';
import { keyFromHex } from '../../src/crypto/keys.js';
import type { CopyTuple } from '../../src/db/copy.js';
import { copyOut, newTuple, readTuple, TupleBuffer } from '../../src/db/copy.js';
import type { LaminarDb } from '../../src/db/connect.js';
import { decodedExactly, FIELD, sealedRowFromTuple } from '../../src/stores/copy-reader.js';
import { ResealBatch } from '../../src/stores/copy-writer.js';
import { findStore, type StoreDefinition } from '../../src/stores/stores.js';
import { buildKeyRing, diagnoseValue } from '../../src/core/diagnose.js';
import { opensToUtf8 } from '../../src/core/tuple-verdict.js';
import { DuplicateCandidates } from '../../src/core/duplicates.js';
import type { BackupSink } from '../../src/core/backup.js';

beforeAll(loadCipher);

const PROVIDER = findStore('provider_api_keys')!;
const SLACK = findStore('slack_integrations')!;
const DEPLOYMENT = findStore('workspace_deployments.private_key')!;

/** A tuple as binary COPY delivers it (a field count, then each field's length and bytes), at an odd offset in a larger buffer. */
function tupleOf(fields: Array<string | Buffer | null>): CopyTuple {
  const parts: Buffer[] = [Buffer.from([0x7f])];
  const count = Buffer.alloc(2);
  count.writeInt16BE(fields.length);
  parts.push(count);
  for (const field of fields) {
    const bytes = field === null ? null : typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes === null ? -1 : bytes.length);
    parts.push(length);
    if (bytes) parts.push(bytes);
  }
  parts.push(Buffer.from([0x7f]));
  const buffer = Buffer.concat(parts);
  const tuple = newTuple(fields.length);
  expect(readTuple(buffer, 1, buffer.length - 1, tuple)).toBe(buffer.length - 1);
  return tuple;
}

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
/**
 * Plaintexts for the UTF-8 verdict: random bytes, unicode, ASCII (the word-at-a-time path), and
 * ASCII with one byte changed to anything (a lone high bit anywhere, at any length).
 */
const plaintexts = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((t) => new TextEncoder().encode(t)),
  fc.string({ maxLength: 200 }).map((t) => new TextEncoder().encode(t)),
  fc.tuple(fc.string({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([t, at, byte]) => {
    const bytes = new TextEncoder().encode(t);
    bytes[at % bytes.length] = byte;
    return bytes;
  }),
);
/** AAD texts with what COPY's text format would have had to escape, and unicode. */
const aadText = fc.oneof(
  fc.constantFrom(
    'OPENAI_API_KEY',
    'ÖPENAI_API_KEY_🔑',
    'tab\there',
    'new\nline',
    'back\\slash',
    '\\N',
    '',
    'T0ACME',
    `x'); drop table projects; --`,
  ),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ maxLength: 30 }),
);
/** Every shape bad-input.test.ts stores, and some more. */
const shape = fc.constantFrom(
  'sealed',
  'upper',
  'tampered',
  'odd',
  'short-nonce',
  'long-nonce',
  'empty-ct',
  'empty-nonce',
  'both-empty',
  'null-ct',
  'null-nonce',
  'both-null',
  'whitespace',
  'non-hex-ct',
  'non-hex-nonce',
  'non-ascii-ct',
  'shorter-than-tag',
  'random',
);

function shaped(
  mode: string,
  sealed: { ciphertextHex: string; nonceHex: string },
  random: [string, string],
): { ct: string | null; nonce: string | null } {
  const { ciphertextHex: ct, nonceHex: nonce } = sealed;
  switch (mode) {
    case 'upper':
      return { ct: ct.toUpperCase(), nonce: nonce.toUpperCase() };
    case 'tampered':
      return { ct: (ct[0] === 'a' ? 'b' : 'a') + ct.slice(1), nonce };
    case 'odd':
      return { ct: ct.slice(1), nonce };
    case 'short-nonce':
      return { ct, nonce: nonce.slice(0, 40) };
    case 'long-nonce':
      return { ct, nonce: nonce + 'abcd' };
    case 'empty-ct':
      return { ct: '', nonce };
    case 'empty-nonce':
      return { ct, nonce: '' };
    case 'both-empty':
      return { ct: '', nonce: '' };
    case 'null-ct':
      return { ct: null, nonce };
    case 'null-nonce':
      return { ct, nonce: null };
    case 'both-null':
      return { ct: null, nonce: null };
    case 'whitespace':
      return { ct: ` ${ct}\n`, nonce };
    case 'non-hex-ct':
      return { ct: 'xy' + ct.slice(2), nonce };
    case 'non-hex-nonce':
      return { ct, nonce: nonce.slice(0, 46) + 'zz' };
    case 'non-ascii-ct':
      return { ct: ct.slice(0, 10) + 'é' + ct.slice(12), nonce };
    case 'shorter-than-tag':
      return { ct: 'ab'.repeat(15), nonce };
    case 'random':
      return { ct: random[0], nonce: random[1] };
    default:
      return { ct, nonce };
  }
}

const hexish = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF xz\t'.split('')), maxLength: 120 });

describe('SealedValueOpener.loadHexFrom (hex straight from a COPY buffer)', () => {
  it('accepts exactly what load() accepts, and opens to the same plaintext', () => {
    const fast = new SealedValueOpener();
    const slow = new SealedValueOpener();
    fc.assert(
      fc.property(key, fc.uint8Array({ maxLength: 300 }), aadText, shape, hexish, hexish, (k, plaintext, aad, mode, r1, r2) => {
        const { ct, nonce } = shaped(mode, sealToText(k, plaintext, encodeAad(aad)), [r1, r2]);
        const tuple = tupleOf(['00000000-0000-0000-0000-000000000000', ct, nonce, aad, null, null, null]);
        const loaded = fast.loadHexFrom(
          tuple.buffer,
          tuple.starts[FIELD.ciphertext]!,
          tuple.lengths[FIELD.ciphertext]!,
          tuple.starts[FIELD.nonce]!,
          tuple.lengths[FIELD.nonce]!,
        );
        if (ct === null || nonce === null) {
          expect(loaded).toBe(false);
          return;
        }
        expect(loaded).toBe(slow.load(ct, nonce).ok);
        if (!loaded) return;
        fast.setAadFrom(tuple.buffer, tuple.starts[FIELD.aad]!, tuple.lengths[FIELD.aad]!);
        const opened = fast.tryKey(k);
        expect(opened).toBe(slow.open(k, encodeAad(aad)));
        if (opened) expect([...fast.takePlaintext()]).toEqual([...slow.takePlaintext()]);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles a 1 MB value, then small ones', () => {
    const opener = new SealedValueOpener();
    const k = new Uint8Array(32).fill(3);
    const big = sealToText(k, new Uint8Array(1024 * 1024).fill(66), encodeAad('A'));
    const t = tupleOf(['id', big.ciphertextHex, big.nonceHex, 'A', null, null, null]);
    expect(opener.loadHexFrom(t.buffer, t.starts[1]!, t.lengths[1]!, t.starts[2]!, t.lengths[2]!)).toBe(true);
    opener.setAadFrom(t.buffer, t.starts[3]!, t.lengths[3]!);
    expect(opener.tryKey(k)).toBe(true);
    expect(opener.takePlaintext().length).toBe(1024 * 1024);
  });
});

describe('the COPY tuple seen as a row', () => {
  it.each([
    [
      PROVIDER,
      ['id-1', 'ab', 'cd', 'tab\tnew\nline\\ÖPENAI 🔑', '11111111-1111-1111-1111-111111111111', null, null],
      {
        aad: 'tab\tnew\nline\\ÖPENAI 🔑',
        name: 'tab\tnew\nline\\ÖPENAI 🔑',
        projectId: '11111111-1111-1111-1111-111111111111',
        workspaceId: null,
      },
    ],
    [
      SLACK,
      ['id-2', 'ab', null, 'T0\\N\t✓', null, 'ws', null],
      { aad: 'T0\\N\t✓', name: 'slack_token', projectId: null, workspaceId: 'ws', nonceHex: null },
    ],
    [DEPLOYMENT, ['ws-3', null, '', 'ws-3', null, 'ws-3', null], { aad: 'ws-3', name: 'private_key', ciphertextHex: null, nonceHex: '' }],
  ] as const)('%# equals what the string path reads', (store, fields, expected) => {
    const row = sealedRowFromTuple(store as StoreDefinition, tupleOf([...fields]));
    expect(row).toMatchObject({ id: fields[0], ciphertextHex: fields[1], nonceHex: fields[2], ...expected });
  });
});

/** doctor's fast verdict under `key`, held for this one value as doctor holds it for a scan. */
function opensUnder(opener: SealedValueOpener, key: Uint8Array, tuple: CopyTuple, encoding: 'hex' | 'bytes'): boolean {
  opener.holdKey(key);
  try {
    return opensToUtf8(opener, tuple, encoding);
  } finally {
    opener.releaseKey();
  }
}

describe("doctor's fast verdict", () => {
  it('is "ok" exactly when diagnoseValue says ok, for every shape, store, key and plaintext', () => {
    const opener = new SealedValueOpener();
    const stores = [PROVIDER, SLACK, DEPLOYMENT];
    fc.assert(
      fc.property(
        key,
        key,
        plaintexts,
        aadText,
        aadText,
        shape,
        hexish,
        hexish,
        fc.constantFrom(0, 1, 2),
        fc.boolean(),
        (current, other, plaintext, aad, sealedAad, mode, r1, r2, storeIndex, underCurrent) => {
          const store = stores[storeIndex]!;
          const sealed = sealToText(underCurrent ? current : other, plaintext, encodeAad(sealedAad));
          const { ct, nonce } = shaped(mode, sealed, [r1, r2]);
          const tuple = tupleOf([
            '00000000-0000-0000-0000-00000000000a',
            ct,
            nonce,
            aad,
            store.projectIdColumn ? 'p' : null,
            store.workspaceIdColumn ? 'w' : null,
            null,
          ]);
          const ring = buildKeyRing(store.secretVariable, keyFromHex('current', Buffer.from(current).toString('hex')), [
            keyFromHex('other', Buffer.from(other).toString('hex')),
          ]);
          const slow = diagnoseValue(store, sealedRowFromTuple(store, tuple), ring);
          expect(opensUnder(opener, current, tuple, 'hex')).toBe(slow.status === 'ok');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** Postgres's decode(text, 'hex') (hex_decode_safe): whitespace skipped between pairs; null where it raises an error. */
function pgDecodeHex(text: string): Buffer | null {
  const bytes: number[] = [];
  const digit = (c: string) => (/^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1);
  for (let i = 0; i < text.length;) {
    if (' \n\t\r'.includes(text[i]!)) {
      i++;
      continue;
    }
    const high = digit(text[i]!);
    if (high < 0 || i + 1 >= text.length) return null;
    const low = digit(text[i + 1]!);
    if (low < 0) return null;
    bytes.push((high << 4) | low);
    i += 2;
  }
  return Buffer.from(bytes);
}

/** A uuid as binary COPY sends the uuid type: its 16 bytes. */
const uuidBytes = (text: string | null) => (text === null ? null : Buffer.from(text.replaceAll('-', ''), 'hex'));

/**
 * The tuple Postgres sends for a row when it decodes the hex ('bytes'): sealed values decoded,
 * ids as uuids' bytes; or null when decode() would raise. `rest`: AAD, project id, workspace id, name.
 */
function bytesTupleOf(id: string, ct: string | null, nonce: string | null, rest: Array<string | null>): CopyTuple | null {
  const decoded = [ct, nonce].map((text) => (text === null ? null : pgDecodeHex(text)));
  if ((ct !== null && decoded[0] === null) || (nonce !== null && decoded[1] === null)) return null;
  const length = (text: string | null) => {
    if (text === null) return null;
    const b = Buffer.alloc(4);
    b.writeInt32BE(Buffer.byteLength(text));
    return b;
  };
  const [aad, projectId, workspaceId, name] = rest;
  return tupleOf([
    uuidBytes(id),
    decoded[0]!,
    decoded[1]!,
    aad ?? null,
    uuidBytes(projectId ?? null),
    uuidBytes(workspaceId ?? null),
    name ?? null,
    length(ct),
    length(nonce),
  ]);
}

describe("doctor's read of values Postgres decoded ('bytes')", () => {
  it('gives the verdict the stored text gets, or sends the row back to be read as text', () => {
    const opener = new SealedValueOpener();
    const stores = [PROVIDER, SLACK, DEPLOYMENT];
    let exact = 0;
    let lenient = 0;
    fc.assert(
      fc.property(
        key,
        key,
        plaintexts,
        aadText,
        aadText,
        shape,
        hexish,
        hexish,
        fc.constantFrom(0, 1, 2),
        fc.boolean(),
        fc.boolean(),
        fc.tuple(fc.uuid(), fc.uuid(), fc.uuid()),
        (current, other, plaintext, aad, sealedAad, mode, r1, r2, storeIndex, underCurrent, spaced, [id, project, workspace]) => {
          const store = stores[storeIndex]!;
          let { ct, nonce } = shaped(mode, sealToText(underCurrent ? current : other, plaintext, encodeAad(sealedAad)), [r1, r2]);
          if (spaced && ct !== null && ct.length > 4) ct = `${ct.slice(0, 4)} ${ct.slice(4)}`;
          const rest = [aad, store.projectIdColumn ? project : null, store.workspaceIdColumn ? workspace : null, null];
          const tuple = bytesTupleOf(id, ct, nonce, rest);
          if (tuple === null) return; // decode() raises: the store is read as text instead
          const ring = buildKeyRing(store.secretVariable, keyFromHex('current', Buffer.from(current).toString('hex')), [
            keyFromHex('other', Buffer.from(other).toString('hex')),
          ]);
          const fromText = diagnoseValue(store, sealedRowFromTuple(store, tupleOf([id, ct, nonce, ...rest])), ring);
          expect(opensUnder(opener, current, tuple, 'bytes')).toBe(fromText.status === 'ok');
          if (!decodedExactly(tuple)) {
            lenient++;
            return;
          }
          exact++;
          const row = sealedRowFromTuple(store, tuple, 'bytes');
          expect(diagnoseValue(store, row, ring)).toEqual(fromText);
          // The ids read back as the text the 'hex' read gets (Postgres's own uuid text).
          const textRow = sealedRowFromTuple(store, tupleOf([id, ct, nonce, ...rest]));
          expect([row.id, row.projectId, row.workspaceId, row.name, row.aad]).toEqual([
            textRow.id,
            textRow.projectId,
            textRow.workspaceId,
            textRow.name,
            textRow.aad,
          ]);
          const { buffer, starts, lengths } = tuple;
          const loaded = opener.loadBytesFrom(
            buffer,
            starts[FIELD.ciphertext]!,
            lengths[FIELD.ciphertext]!,
            starts[FIELD.nonce]!,
            lengths[FIELD.nonce]!,
          );
          expect(loaded).toBe(ct !== null && nonce !== null && new SealedValueOpener().load(ct, nonce).ok);
        },
      ),
      { numRuns: 3000 },
    );
    // Both branches were exercised.
    expect(exact).toBeGreaterThan(500);
    expect(lenient).toBeGreaterThan(50);
  });
});

describe('SealedValueOpener.reseal', () => {
  it('seals exactly as libsodium-wrappers does: its public decrypt opens the result to the same bytes under the new key and AAD', () => {
    const opener = new SealedValueOpener();
    const nonces = new Set<string>();
    fc.assert(
      fc.property(key, key, fc.uint8Array({ maxLength: 400 }), aadText, (from, to, plaintext, aad) => {
        const old = sealToText(from, plaintext, encodeAad(aad));
        expect(opener.load(old.ciphertextHex, old.nonceHex).ok).toBe(true);
        expect(opener.open(from, encodeAad(aad))).toBe(true);
        const sealed = opener.reseal(to)!;
        expect(sealed).not.toBeNull();
        const heap = opener.heapBytes();
        const ciphertextHex = heap.toString('latin1', sealed.ciphertextStart, sealed.ciphertextStart + sealed.ciphertextLength);
        const nonceHex = heap.toString('latin1', sealed.nonceStart, sealed.nonceStart + sealed.nonceLength);
        expect(ciphertextHex).toMatch(/^[0-9a-f]*$/);
        expect(ciphertextHex).toHaveLength(2 * (plaintext.length + 16));
        expect(nonceHex).toMatch(/^[0-9a-f]{48}$/);
        expect(nonces.has(nonceHex)).toBe(false);
        nonces.add(nonceHex);
        const opened = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
          null,
          sodium.from_hex(ciphertextHex),
          encodeAad(aad),
          sodium.from_hex(nonceHex),
          to,
        );
        expect([...opened]).toEqual([...plaintext]);
        // The plaintext is gone from the opener once re-sealed.
        expect(() => opener.takePlaintext()).toThrow(/no plaintext/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('ResealBatch', () => {
  it('writes backup records that are exactly JSON.stringify of the record, and a payload of the same values', () => {
    const opener = new SealedValueOpener();
    const written: Buffer[] = [];
    const sink: BackupSink = {
      path: 'x',
      append: () => {},
      appendLines: (lines) => void written.push(Buffer.from(lines)),
      sync: () => {},
      markCommitted: () => {},
      written: () => true,
      durableRecords: () => 0,
      close: () => {},
    };
    fc.assert(
      fc.property(
        key,
        key,
        fc.uint8Array({ maxLength: 200 }),
        fc.uuid(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 1e6 }),
        (from, to, plaintext, id, upper, fromTuple, number) => {
          written.length = 0;
          const batch = new ResealBatch(PROVIDER, sink, 10);
          batch.reset(number);
          let old = sealToText(from, plaintext, encodeAad('OPENAI_API_KEY'));
          if (upper) old = { ciphertextHex: old.ciphertextHex.toUpperCase(), nonceHex: old.nonceHex.toUpperCase() };
          opener.load(old.ciphertextHex, old.nonceHex);
          opener.open(from, encodeAad('OPENAI_API_KEY'));
          const sealed = opener.reseal(to)!;
          const heap = opener.heapBytes();
          const newCiphertextHex = heap.toString('latin1', sealed.ciphertextStart, sealed.ciphertextStart + sealed.ciphertextLength);
          const newNonceHex = heap.toString('latin1', sealed.nonceStart, sealed.nonceStart + sealed.nonceLength);
          if (fromTuple)
            batch.addFromTuple(tupleOf([id, old.ciphertextHex, old.nonceHex, 'OPENAI_API_KEY', null, null, null]), heap, sealed);
          else
            batch.addFromRow(
              {
                id,
                ciphertextHex: old.ciphertextHex,
                nonceHex: old.nonceHex,
                aad: 'OPENAI_API_KEY',
                projectId: null,
                workspaceId: null,
                name: 'OPENAI_API_KEY',
              },
              heap,
              sealed,
            );
          batch.syncBackup();
          const record = {
            type: 'update',
            store: 'provider_api_keys',
            id,
            oldNonceHex: old.nonceHex,
            oldCiphertextHex: old.ciphertextHex,
            newNonceHex,
            newCiphertextHex,
            batch: number,
          };
          expect(Buffer.concat(written).toString('utf8')).toBe(JSON.stringify(record) + '\n');
          expect(decodePayload(batch.payloadBytes())).toEqual([[id, old.ciphertextHex, old.nonceHex, newCiphertextHex, newNonceHex]]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A binary COPY payload back to its text fields (the format Postgres reads). */
function decodePayload(payload: Buffer): Array<Array<string | null>> {
  expect(payload.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  let position = 19;
  const rows: Array<Array<string | null>> = [];
  for (;;) {
    const count = payload.readInt16BE(position);
    position += 2;
    if (count === -1) break;
    const row: Array<string | null> = [];
    for (let i = 0; i < count; i++) {
      const length = payload.readInt32BE(position);
      position += 4;
      row.push(length < 0 ? null : payload.toString('utf8', position, position + length));
      if (length > 0) position += length;
    }
    rows.push(row);
  }
  expect(position).toBe(payload.length);
  return rows;
}

/** Binary COPY output for `rows`, as Postgres frames it (header, tuples, trailer). */
function binaryCopy(rows: Array<Array<Buffer | null>>): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const field of row) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(field === null ? -1 : field.length);
      parts.push(length);
      if (field) parts.push(field);
    }
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

/**
 * Runs copyOut against a stand-in for Kysely + pg that delivers `stream` cut into `pieces`,
 * through pg's parser (the CopyData messages' payloads); test/unit/copy-socket.test.ts cuts the
 * socket's bytes instead.
 */
function copyOutOver(stream: Buffer, cuts: number[], onTuple: (tuple: CopyTuple) => void): Promise<number> {
  const db = {
    async executeQuery(compiled: { sql: unknown }) {
      const query = compiled.sql as {
        submit(connection: unknown): void;
        handleCopyData(message: { chunk: Buffer }): void;
        handleCommandComplete(message: { text: string }): void;
        handleReadyForQuery(): void;
      } & PromiseLike<unknown>;
      query.submit({ query: () => {} });
      const points = [...new Set([0, ...cuts.map((c) => Math.floor(c * stream.length)), stream.length])].sort((a, b) => a - b);
      for (let i = 1; i < points.length; i++) {
        // pg reuses the memory behind each chunk: hand over a copy that is then scribbled over.
        const chunk = Buffer.from(stream.subarray(points[i - 1], points[i]));
        query.handleCopyData({ chunk });
        chunk.fill(0xee);
      }
      query.handleCommandComplete({ text: 'COPY 0' });
      query.handleReadyForQuery();
      return query;
    },
  } as unknown as LaminarDb;
  return copyOut(db, 'copy (select 1) to stdout (format binary)', 7, onTuple, 'pg');
}

describe('copyOut (binary COPY parsing)', () => {
  const field = fc.option(
    fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
    { nil: null },
  );
  it('yields every tuple, field for field, however the stream is cut into messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 7, maxLength: 7 }), { maxLength: 40 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        async (rows, cuts) => {
          const seen: Array<Array<Buffer | null>> = [];
          await copyOutOver(binaryCopy(rows), cuts, (tuple) => {
            const row: Array<Buffer | null> = [];
            for (let i = 0; i < tuple.fieldCount; i++)
              row.push(
                tuple.lengths[i]! < 0 ? null : Buffer.from(tuple.buffer.subarray(tuple.starts[i]!, tuple.starts[i]! + tuple.lengths[i]!)),
              );
            seen.push(row);
          });
          expect(seen).toEqual(rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps tuples as sent (TupleBuffer) and gives them back the same, in order, across event-loop turns', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 7, maxLength: 7 }), { maxLength: 200 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        async (rows, cuts) => {
          const kept = new TupleBuffer(9);
          await copyOutOver(binaryCopy(rows), cuts, (tuple) => kept.add(tuple));
          expect(kept.count).toBe(rows.length);
          const seen: Array<Array<Buffer | null>> = [];
          await kept.forEach((tuple) => {
            const row: Array<Buffer | null> = [];
            for (let i = 0; i < tuple.fieldCount; i++)
              row.push(
                tuple.lengths[i]! < 0 ? null : Buffer.from(tuple.buffer.subarray(tuple.starts[i]!, tuple.starts[i]! + tuple.lengths[i]!)),
              );
            seen.push(row);
          }, 0);
          expect(seen).toEqual(rows);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects with the error a tuple callback threw, after draining the stream', async () => {
    const stream = binaryCopy([
      [Buffer.from('a'), null, null, null, null, null, null],
      [Buffer.from('b'), null, null, null, null, null, null],
    ]);
    let calls = 0;
    await expect(
      copyOutOver(stream, [0.5], () => {
        calls += 1;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});

describe('DuplicateCandidates', () => {
  it('never misses a (project, name) seen twice', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            project: fc.option(fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6'), { nil: null }),
            name: fc.constantFrom('OPENAI_API_KEY', 'GROQ_API_KEY', 'a\tb', 'É'),
          }),
          { maxLength: 60 },
        ),
        (rows) => {
          const candidates = new DuplicateCandidates();
          const seen = new Map<string, number>();
          for (const row of rows) {
            candidates.add(tupleOf(['id', 'ab', 'cd', row.name, row.project, null, null]));
            const k = `${row.project}\u0000${row.name}`;
            seen.set(k, (seen.get(k) ?? 0) + 1);
          }
          for (const row of rows) {
            if (seen.get(`${row.project}\u0000${row.name}`)! < 2) continue;
            if (row.project === null) expect(candidates.nullProject).toBe(true);
            else expect(candidates.projects.has(row.project)).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
    // Each run fills an 8 MB filter: on a loaded 2-core machine the default 5 s was too tight.
  }, 60_000);

  it('flags no project among 200,000 distinct keys whose ids differ only in a few digits', () => {
    const candidates = new DuplicateCandidates();
    const names = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GROQ_API_KEY', 'MISTRAL_API_KEY'];
    const tuples = names.map((name) => tupleOf(['id', 'ab', 'cd', name, 'project-000000000000', null, null]));
    for (let i = 0; i < 200_000; i++) {
      const tuple = tuples[i % 5]!;
      // The project id, rewritten in place: a new project every five rows.
      tuple.buffer.write(String(Math.floor(i / 5)).padStart(12, '0'), tuple.starts[FIELD.projectId]! + 8, 'latin1');
      candidates.add(tuple);
    }
    expect(candidates.overflow).toBe(false);
    // None: a false candidate costs doctor a scan of the whole table (bench/false-candidates.mjs measures it with random ids).
    expect(candidates.projects.size).toBe(0);
  });
});
