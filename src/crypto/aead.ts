/**
 * Laminar's sealing scheme, over the same library Laminar's web app uses (libsodium-wrappers):
 * XChaCha20-Poly1305 (IETF), combined mode, 24-byte random nonce, AAD = UTF-8 of a per-table
 * string. Pure: no IO besides the OS random source for nonces.
 */
import sodium from 'libsodium-wrappers';
import { decodeHexStrict, encodeHex } from './hex.js';

import { NONCE_BYTES, TAG_BYTES } from './constants.js';

export { KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './constants.js';

/** A sealed value as stored: two hex text columns. */
export interface SealedText {
  ciphertextHex: string;
  nonceHex: string;
}

/** A sealed value whose hex has been checked and decoded. */
export interface SealedBytes {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
}

export type ParseResult = { ok: true; sealed: SealedBytes } | { ok: false; reason: string };

/**
 * Checks the shape of a stored value before any key is tried. Reasons are phrased for the
 * operator and never include the value itself.
 */
export function parseSealedText({ ciphertextHex, nonceHex }: SealedText): ParseResult {
  if (ciphertextHex.length === 0 && nonceHex.length === 0) return { ok: false, reason: 'ciphertext and nonce are empty' };
  if (ciphertextHex.length === 0) return { ok: false, reason: 'ciphertext is empty' };
  if (nonceHex.length === 0) return { ok: false, reason: 'nonce is empty' };
  const nonce = decodeHexStrict(nonceHex);
  if (nonce === null) {
    return { ok: false, reason: nonceHex.length % 2 ? `nonce has an odd number of hex characters (${nonceHex.length})` : 'nonce is not hex' };
  }
  if (nonce.length !== NONCE_BYTES) return { ok: false, reason: `nonce is ${nonce.length} bytes, expected ${NONCE_BYTES}` };
  const ciphertext = decodeHexStrict(ciphertextHex);
  if (ciphertext === null) {
    return {
      ok: false,
      reason: ciphertextHex.length % 2 ? `ciphertext has an odd number of hex characters (${ciphertextHex.length})` : 'ciphertext is not hex',
    };
  }
  if (ciphertext.length < TAG_BYTES) {
    return { ok: false, reason: `ciphertext is ${ciphertext.length} bytes, shorter than the ${TAG_BYTES}-byte tag` };
  }
  return { ok: true, sealed: { ciphertext, nonce } };
}

const utf8 = new TextEncoder();

/** AAD strings are encoded once per distinct value by callers that care; this is the rule. */
export function encodeAad(aad: string): Uint8Array {
  return utf8.encode(aad);
}

let ready: Promise<void> | null = null;

/** libsodium compiles its WebAssembly asynchronously; every entry point awaits this once. */
export function loadCipher(): Promise<void> {
  ready ??= sodium.ready;
  return ready;
}

/**
 * Opens a sealed value. Returns null when authentication fails: wrong key and wrong AAD are
 * indistinguishable by design.
 */
export function openSealed(key: Uint8Array, sealed: SealedBytes, aad: Uint8Array): Uint8Array | null {
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.ciphertext, aad, sealed.nonce, key);
  } catch {
    return null;
  }
}

/** Seals with a fresh random nonce, exactly as Laminar does. */
export function sealPlaintext(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): SealedBytes {
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
  return { ciphertext, nonce };
}

/** Seals and renders as Laminar stores it: lowercase hex. */
export function sealToText(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): SealedText {
  const { ciphertext, nonce } = sealPlaintext(key, plaintext, aad);
  return { ciphertextHex: encodeHex(ciphertext), nonceHex: encodeHex(nonce) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Laminar reads plaintexts as UTF-8 strings; a value that is not valid UTF-8 is unusable there. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Overwrites plaintext bytes once they are no longer needed. */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}
