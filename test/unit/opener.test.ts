/** The fast opener must agree with libsodium-wrappers' public API on every input. */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeAad, loadCipher, openSealed, parseSealedText, sealToText } from '../../src/crypto/aead.js';
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
