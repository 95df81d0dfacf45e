import { describe, expect, it, beforeAll } from 'vitest';
import fc from 'fast-check';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { encodeAad, loadCipher, openSealed, parseSealedText, sealToText, type SealedBytes } from '../../src/crypto/aead.js';
import { decodeHexStrict } from '../../src/crypto/hex.js';

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const utf8 = (text: string) => new TextEncoder().encode(text);

// Published test vector of draft-irtf-cfrg-xchacha-03, section A.3.1 (AEAD_XChaCha20_Poly1305).
const DRAFT = {
  key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
  nonce: '404142434445464748494a4b4c4d4e4f5051525354555657',
  aad: '50515253c0c1c2c3c4c5c6c7',
  plaintext: "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  sealed:
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49',
};

// A Laminar-shaped value (AAD = key name, plaintext a fake key), computed once with
// @noble/ciphers, an independent implementation, and frozen here.
const LAMINAR_VECTOR = {
  key: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
  nonceHex: '000102030405060708090a0b0c0d0e0f1011121314151617',
  aad: 'OPENAI_API_KEY',
  plaintext: 'sk-test-vector-not-a-real-key',
  ciphertextHex: 'c0d5f08b0daedfc23b641b1e7ff1e8d0aa777157895b8d0868ae2022c9f8067a315afb463c5c353413372cf011',
};

function sealedOf(ciphertextHex: string, nonceHex: string): SealedBytes {
  const parsed = parseSealedText({ ciphertextHex, nonceHex });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.sealed;
}

beforeAll(loadCipher);

describe('cipher compatibility with Laminar', () => {
  it('opens the published XChaCha20-Poly1305 vector', () => {
    const plaintext = openSealed(hex(DRAFT.key), sealedOf(DRAFT.sealed, DRAFT.nonce), hex(DRAFT.aad));
    expect(plaintext && new TextDecoder().decode(plaintext)).toBe(DRAFT.plaintext);
  });

  it('agrees with an independent implementation on the published vector', () => {
    const noble = xchacha20poly1305(hex(DRAFT.key), hex(DRAFT.nonce), hex(DRAFT.aad)).encrypt(utf8(DRAFT.plaintext));
    expect(Buffer.from(noble).toString('hex')).toBe(DRAFT.sealed);
  });

  it('opens a Laminar-shaped value frozen from @noble/ciphers', () => {
    const plaintext = openSealed(
      hex(LAMINAR_VECTOR.key),
      sealedOf(LAMINAR_VECTOR.ciphertextHex, LAMINAR_VECTOR.nonceHex),
      encodeAad(LAMINAR_VECTOR.aad),
    );
    expect(plaintext && new TextDecoder().decode(plaintext)).toBe(LAMINAR_VECTOR.plaintext);
  });

  it('seals values that the independent implementation opens, with lowercase hex of the documented lengths', () => {
    const sealed = sealToText(hex(LAMINAR_VECTOR.key), utf8('sk-abc'), encodeAad('GEMINI_API_KEY'));
    expect(sealed.nonceHex).toMatch(/^[0-9a-f]{48}$/);
    expect(sealed.ciphertextHex).toMatch(/^[0-9a-f]+$/);
    expect(sealed.ciphertextHex.length).toBe(2 * (6 + 16));
    const opened = xchacha20poly1305(hex(LAMINAR_VECTOR.key), hex(sealed.nonceHex), utf8('GEMINI_API_KEY')).decrypt(
      hex(sealed.ciphertextHex),
    );
    expect(new TextDecoder().decode(opened)).toBe('sk-abc');
  });

  it('uses a fresh nonce for every seal', () => {
    const a = sealToText(hex(LAMINAR_VECTOR.key), utf8('same'), encodeAad('X'));
    const b = sealToText(hex(LAMINAR_VECTOR.key), utf8('same'), encodeAad('X'));
    expect(a.nonceHex).not.toBe(b.nonceHex);
  });
});

describe('opening failures', () => {
  const sealed = () => sealedOf(LAMINAR_VECTOR.ciphertextHex, LAMINAR_VECTOR.nonceHex);
  it('fails with the wrong key', () => {
    expect(openSealed(hex('ff'.repeat(32)), sealed(), encodeAad(LAMINAR_VECTOR.aad))).toBeNull();
  });
  it('fails with the wrong AAD exactly like a wrong key', () => {
    expect(openSealed(hex(LAMINAR_VECTOR.key), sealed(), encodeAad('GEMINI_API_KEY'))).toBeNull();
  });
  it('fails when any byte is tampered with', () => {
    for (const index of [0, 10, LAMINAR_VECTOR.ciphertextHex.length / 2 - 1]) {
      const bytes = hex(LAMINAR_VECTOR.ciphertextHex);
      bytes[index] = bytes[index]! ^ 0x01;
      const tampered = sealedOf(Buffer.from(bytes).toString('hex'), LAMINAR_VECTOR.nonceHex);
      expect(openSealed(hex(LAMINAR_VECTOR.key), tampered, encodeAad(LAMINAR_VECTOR.aad))).toBeNull();
    }
  });
  it('accepts upper-case hex, as Laminar does', () => {
    const upper = sealedOf(LAMINAR_VECTOR.ciphertextHex.toUpperCase(), LAMINAR_VECTOR.nonceHex.toUpperCase());
    expect(openSealed(hex(LAMINAR_VECTOR.key), upper, encodeAad(LAMINAR_VECTOR.aad))).not.toBeNull();
  });
});

describe('parseSealedText', () => {
  const nonce = LAMINAR_VECTOR.nonceHex;
  const cipher = LAMINAR_VECTOR.ciphertextHex;
  it.each([
    ['odd-length ciphertext', cipher.slice(1), nonce, /odd number/],
    ['non-hex ciphertext', `zz${cipher.slice(2)}`, nonce, /not hex/],
    ['odd-length nonce', cipher, nonce.slice(1), /odd number/],
    ['non-hex nonce', cipher, `g${nonce.slice(1)}`, /not hex/],
    ['short nonce (12 bytes)', cipher, nonce.slice(0, 24), /12 bytes, expected 24/],
    ['long nonce (32 bytes)', cipher, nonce + '00'.repeat(8), /32 bytes, expected 24/],
    ['ciphertext shorter than the tag', cipher.slice(0, 30), nonce, /shorter than the 16-byte tag/],
    ['empty ciphertext', '', nonce, /ciphertext is empty/],
    ['empty nonce', cipher, '', /nonce is empty/],
    ['hex with whitespace', ` ${cipher.slice(1)}`, nonce, /not hex|odd/],
  ])('rejects %s', (_name, ciphertextHex, nonceHex, reason) => {
    const parsed = parseSealedText({ ciphertextHex, nonceHex });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('accepts exactly 16 bytes (empty plaintext)', () => {
    expect(parseSealedText({ ciphertextHex: '00'.repeat(16), nonceHex: nonce }).ok).toBe(true);
  });
});

describe('decodeHexStrict (property)', () => {
  it('decodes exactly the strings a strict hex grammar accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFgxz \r\n-'.split('')), maxLength: 40 }), (text) => {
        const strict = /^(?:[0-9a-fA-F]{2})*$/.test(text);
        const decoded = decodeHexStrict(text);
        expect(decoded !== null).toBe(strict);
        if (decoded) expect(decoded.toString('hex')).toBe(text.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect([...decodeHexStrict(Buffer.from(bytes).toString('hex'))!]).toEqual([...bytes]);
      }),
    );
  });
});
