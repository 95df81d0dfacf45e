/**
 * Laminar's sealing scheme, over the same library Laminar's web app uses (libsodium-wrappers):
 * XChaCha20-Poly1305 (IETF), combined mode, 24-byte random nonce, AAD = UTF-8 of a per-table
 * string. Pure: no IO besides the OS random source for nonces.
 */
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { decodeHexStrict, encodeHex, hexProblem } from './hex.js';

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
  if (nonce === null) return { ok: false, reason: hexProblem('nonce', nonceHex)! };
  if (nonce.length !== NONCE_BYTES) return { ok: false, reason: `nonce is ${nonce.length} bytes, expected ${NONCE_BYTES}` };
  const ciphertext = decodeHexStrict(ciphertextHex);
  if (ciphertext === null) return { ok: false, reason: hexProblem('ciphertext', ciphertextHex)! };
  if (ciphertext.length < TAG_BYTES) {
    return { ok: false, reason: `ciphertext is ${ciphertext.length} bytes, shorter than the ${TAG_BYTES}-byte tag` };
  }
  return { ok: true, sealed: { ciphertext, nonce } };
}

const utf8 = new TextEncoder();
const aadCache = new Map<string, Uint8Array>();

/**
 * The AAD bytes for a string (UTF-8). Key names repeat on every row, so encodings are cached;
 * the cache is bounded because workspace ids and team ids do not repeat.
 */
export function encodeAad(aad: string): Uint8Array {
  let bytes = aadCache.get(aad);
  if (!bytes) {
    bytes = utf8.encode(aad);
    if (aadCache.size >= 1024) aadCache.clear();
    aadCache.set(aad, bytes);
  }
  return bytes;
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
  // libsodium-wrappers reports a failed open by throwing; capturing a stack for each of a
  // million expected failures would cost more than the decryption itself.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.ciphertext, aad, sealed.nonce, key);
  } catch {
    return null;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

// Nonces are cut from a pool refilled from the OS CSPRNG: one system call per 1024 nonces.
const NONCES_PER_POOL = 1024;
let noncePool = Buffer.alloc(0);
let noncePoolOffset = 0;

function nextNonce(): Uint8Array {
  if (noncePoolOffset >= noncePool.length) {
    noncePool = randomBytes(NONCE_BYTES * NONCES_PER_POOL);
    noncePoolOffset = 0;
  }
  // A copy, not a view of the pool, so no two values ever share nonce memory.
  const nonce = new Uint8Array(noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES));
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

/**
 * Seals with a fresh random nonce, exactly as Laminar does. The nonce comes from Node's CSPRNG
 * (the OS source libsodium's own Node build reads too): libsodium-wrappers fetches it four
 * bytes per call, which dominated a million-row rotation.
 */
export function sealPlaintext(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): SealedBytes {
  const nonce = nextNonce();
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
  // Provider keys are ASCII: a byte loop settles almost every value without a decoder.
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return true;
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
