/**
 * copyOut reading Postgres's messages from the socket itself: whatever the cuts between socket
 * reads, it hands over exactly the tuples pg's own parser would, and gives pg's reader back,
 * with every byte from the first message that is not a row, at the end or at an error or notice.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryCopyOut, type CopyTuple } from '../../src/db/copy.js';

const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function tupleBytes(fields: Array<Buffer | null>): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)];
  parts[0]!.writeInt16BE(fields.length);
  for (const field of fields) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(field === null ? -1 : field.length);
    parts.push(length);
    if (field) parts.push(field);
  }
  return Buffer.concat(parts);
}

const fields = fc.array(
  fc.option(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    { nil: null },
  ),
  {
    minLength: 1,
    maxLength: 4,
  },
);

describe('copyOut reading the socket', () => {
  it('reads the rows of any cut of the stream, and hands pg every byte from the first other message on', () => {
    fc.assert(
      fc.property(
        fc.array(fields, { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        fc.option(fc.nat(), { nil: null }),
        (rows, cuts, noticeAt) => {
          // CopyOutResponse, the header in the first CopyData, one CopyData per row (a notice
          // somewhere, maybe), then CopyDone, CommandComplete and ReadyForQuery for pg.
          const header = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
          const data = rows.map((row, i) => message('d', Buffer.concat([i === 0 ? header : Buffer.alloc(0), tupleBytes(row)])));
          if (rows.length === 0) data.push(message('d', header));
          const notice = message('N', Buffer.from('Snotice\0\0'));
          const at = noticeAt === null ? data.length : noticeAt % (data.length + 1);
          const ours = Buffer.concat([message('H', Buffer.from([1, 0, 0])), ...data.slice(0, at)]);
          const pgs = Buffer.concat([
            ...(noticeAt === null ? [] : [notice]),
            ...data.slice(at),
            message('c', Buffer.alloc(0)),
            message('C', Buffer.from('COPY 1\0')),
            message('Z', Buffer.from('T')),
          ]);
          const stream = Object.assign(new EventEmitter(), { write: () => true });
          const toPg: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => toPg.push(Buffer.from(chunk)));
          const seen: Buffer[][] = [];
          const query = new BinaryCopyOut(
            'copy',
            (tuple: CopyTuple) => {
              seen.push(
                Array.from({ length: tuple.fieldCount }, (_, i) =>
                  tuple.lengths[i]! < 0 ? null : Buffer.from(tuple.buffer.subarray(tuple.starts[i]!, tuple.starts[i]! + tuple.lengths[i]!)),
                ) as Buffer[],
              );
            },
            4,
            'socket',
          );
          query.submit({ stream, query: () => {}, endCopyFrom: () => {}, sendCopyFail: () => {} } as never);
          const all = Buffer.concat([ours, pgs]);
          for (let offset = 0, i = 0; offset < all.length; i++) {
            const size = cuts[i % cuts.length]!;
            stream.emit('data', all.subarray(offset, offset + size));
            offset += size;
          }
          expect(seen).toEqual(rows.slice(0, at));
          expect(Buffer.concat(toPg).equals(pgs)).toBe(true);
          expect(stream.listeners('data')).toHaveLength(1);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('after a tuple callback throws, drains the rest, still gives pg its bytes, and rejects with that error', async () => {
    const header = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
    const rows = [0, 1, 2, 3].map((i) => message('d', Buffer.concat([i === 0 ? header : Buffer.alloc(0), tupleBytes([Buffer.from([i])])])));
    const end = Buffer.concat([message('c', Buffer.alloc(0)), message('C', Buffer.from('COPY 4\0')), message('Z', Buffer.from('I'))]);
    const stream = Object.assign(new EventEmitter(), { write: () => true });
    const toPg: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => toPg.push(Buffer.from(chunk)));
    let calls = 0;
    const query = new BinaryCopyOut(
      'copy',
      () => {
        calls += 1;
        if (calls === 2) throw new Error('the second row');
      },
      1,
      'socket',
    );
    query.submit({ stream, query: () => {}, endCopyFrom: () => {}, sendCopyFail: () => {} } as never);
    stream.emit('data', Buffer.concat([message('H', Buffer.from([1, 0, 0])), ...rows, end]));
    expect(calls).toBe(2);
    expect(Buffer.concat(toPg).equals(end)).toBe(true);
    // What pg does with those bytes: CommandComplete, then ReadyForQuery.
    query.handleCommandComplete({ text: 'COPY 4' });
    query.handleReadyForQuery();
    await expect(Promise.resolve(query)).rejects.toThrow('the second row');
  });

  it('gives a message with an impossible length to pg (whose parser reports it) instead of looping on it', () => {
    const broken = Buffer.from([0x64, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3]);
    // Cut inside its header (completed from kept bytes), and whole in one read.
    for (const cut of [3, broken.length]) {
      const stream = Object.assign(new EventEmitter(), { write: () => true });
      const toPg: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => toPg.push(Buffer.from(chunk)));
      const query = new BinaryCopyOut('copy', () => {}, 1, 'socket');
      query.submit({ stream, query: () => {}, endCopyFrom: () => {}, sendCopyFail: () => {} } as never);
      stream.emit('data', Buffer.concat([message('H', Buffer.from([1, 0, 0])), broken.subarray(0, cut)]));
      if (cut < broken.length) stream.emit('data', broken.subarray(cut));
      expect(Buffer.concat(toPg).equals(broken)).toBe(true);
    }
  });
});
