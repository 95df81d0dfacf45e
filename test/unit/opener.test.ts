/** The fast opener must agree with libsodium-wrappers' public API on every input. */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeAad, loadCipher, openSealed, parseSealedText, sealToText } from '../../src/crypto/aead.js';
import { isUtf8 } from 'node:buffer';
import { SealedValueOpener } from '../../src/crypto/opener.js';

beforeAll(loadCipher);

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const hexChars = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxz '.split('')), maxLength: 120 });

describe('SealedValueOpener', () => {
  it('agrees with parseSealedText + openSealed on sealed, tampered and random values', () => {
    const opener = new SealedValueOpener();
    fc.assert(
      fc.property(
        key,
        key,
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.constantFrom('sealed', 'tampered', 'upper', 'random', 'short-nonce', 'odd'),
        hexChars,
        hexChars,
        (k1, k2, plaintext, aadText, otherAad, mode, randomCt, randomNonce) => {
          const sealed = sealToText(k1, plaintext, encodeAad(aadText));
          let { ciphertextHex, nonceHex } = sealed;
          if (mode === 'tampered') ciphertextHex = (ciphertextHex[0] === 'a' ? 'b' : 'a') + ciphertextHex.slice(1);
          if (mode === 'upper') [ciphertextHex, nonceHex] = [ciphertextHex.toUpperCase(), nonceHex.toUpperCase()];
          if (mode === 'random') [ciphertextHex, nonceHex] = [randomCt, randomNonce];
          if (mode === 'short-nonce') nonceHex = nonceHex.slice(0, 40);
          if (mode === 'odd') ciphertextHex = ciphertextHex.slice(1);
          const slow = parseSealedText({ ciphertextHex, nonceHex });
          const fast = opener.load(ciphertextHex, nonceHex);
          expect(fast.ok).toBe(slow.ok);
          if (!slow.ok || !fast.ok) {
            if (!slow.ok && !fast.ok) expect(fast.reason).toBe(slow.reason);
            return;
          }
          for (const [k, aad] of [
            [k1, aadText],
            [k2, aadText],
            [k1, otherAad],
          ] as const) {
            const expected = openSealed(k, slow.sealed, encodeAad(aad));
            const opened = opener.open(k, encodeAad(aad));
            expect(opened).toBe(expected !== null);
            if (expected && opened) expect([...opener.takePlaintext()]).toEqual([...expected]);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('grows for a 1 MB value and keeps working for small ones after', () => {
    const opener = new SealedValueOpener();
    const k = new Uint8Array(32).fill(7);
    const big = new Uint8Array(1024 * 1024).fill(65);
    const sealedBig = sealToText(k, big, encodeAad('A'));
    expect(opener.load(sealedBig.ciphertextHex, sealedBig.nonceHex).ok).toBe(true);
    expect(opener.open(k, encodeAad('A'))).toBe(true);
    expect(opener.takePlaintext().length).toBe(big.length);
    const small = sealToText(k, new Uint8Array([1, 2, 3]), encodeAad('B'));
    expect(opener.load(small.ciphertextHex, small.nonceHex).ok).toBe(true);
    expect(opener.open(k, encodeAad('B'))).toBe(true);
    expect([...opener.takePlaintext()]).toEqual([1, 2, 3]);
  });
});

function occurrences(heap: Buffer, needle: Uint8Array): number[] {
  const found: number[] = [];
  for (let at = heap.indexOf(needle); at >= 0; at = heap.indexOf(needle, at + 1)) found.push(at);
  return found;
}

describe("the scan's held key and UTF-8 verdict", () => {
  it('opens as tryKey does, judges UTF-8 as isUtf8 does, and leaves neither plaintext nor key in the heap', () => {
    const opener = new SealedValueOpener();
    // Keys that look like keys (a run of zeros would be "found" in any heap).
    const distinctKey = key.filter((k) => new Set(k).size >= 16);
    fc.assert(
      fc.property(
        distinctKey,
        distinctKey,
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ maxLength: 300 }).map((t) => new TextEncoder().encode(t)),
          fc.tuple(fc.string({ minLength: 1, maxLength: 300 }), fc.nat(), fc.integer({ min: 128, max: 255 })).map(([t, at, byte]) => {
            const bytes = new TextEncoder().encode(t);
            bytes[at % bytes.length] = byte;
            return bytes;
          }),
        ),
        fc.string({ maxLength: 40 }),
        fc.boolean(),
        (held, other, generated, aad, underHeld) => {
          fc.pre(Buffer.compare(held, other) !== 0);
          // A marker in front (ASCII: it changes no verdict) so the plaintext can be found in the heap.
          const plaintext = Buffer.concat([Buffer.from('lmnr-keys test plaintext:'), generated]);
          const { ciphertextHex, nonceHex } = sealToText(underHeld ? held : other, plaintext, encodeAad(aad));
          expect(opener.load(ciphertextHex, nonceHex).ok).toBe(true);
          opener.setAad(encodeAad(aad));
          const expected = opener.tryKey(held);
          expect(expected).toBe(underHeld);
          opener.clear();
          // libsodium-wrappers' own seal (sealToText) leaves copies in the heap: only new ones count.
          const before = occurrences(opener.heapBytes(), plaintext);
          const keysBefore = occurrences(opener.heapBytes(), held);
          opener.holdKey(held);
          try {
            expect(opener.tryHeldKey()).toBe(expected);
            if (expected) {
              const opened = occurrences(opener.heapBytes(), plaintext).filter((at) => !before.includes(at));
              expect(opened).toHaveLength(1);
              expect(opener.plaintextIsValidUtf8ThenWipe()).toBe(isUtf8(plaintext));
              const at = opened[0]!;
              expect(
                opener
                  .heapBytes()
                  .subarray(at, at + plaintext.length)
                  .every((byte) => byte === 0),
              ).toBe(true);
            }
          } finally {
            opener.releaseKey();
          }
          // Wiped: no new copy of the plaintext or of the key is left in libsodium's heap.
          expect(occurrences(opener.heapBytes(), plaintext)).toEqual(before);
          expect(occurrences(opener.heapBytes(), held)).toEqual(keysBefore);
          expect(() => opener.takePlaintext()).toThrow(/no plaintext/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
