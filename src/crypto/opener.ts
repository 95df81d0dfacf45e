/**
 * The hot path of doctor and rotate: opening a million values. Same library, same primitive
 * (libsodium's crypto_aead_xchacha20poly1305_ietf_decrypt, called through the exports
 * libsodium-wrappers itself calls), but hex is decoded straight into reusable buffers in
 * libsodium's heap instead of allocating and copying five arrays per value. The result is
 * checked against the public API by a property test (test/unit/opener.test.ts).
 */
import sodium from 'libsodium-wrappers';
import { NONCE_BYTES, TAG_BYTES, KEY_BYTES } from './constants.js';
import { hexProblem } from './hex.js';

interface SodiumModule {
  _malloc: (size: number) => number;
  _free: (pointer: number) => void;
  HEAPU8: Uint8Array;
  _crypto_aead_xchacha20poly1305_ietf_decrypt: (
    message: number, messageLength: number, secretNonce: number, ciphertext: number, ciphertextLengthLow: number,
    ciphertextLengthHigh: number, aad: number, aadLengthLow: number, aadLengthHigh: number, nonce: number, key: number,
  ) => number;
}

export type LoadResult = { ok: true } | { ok: false; reason: string };

/**
 * Holds one sealed value at a time in libsodium's heap. Synchronous use only: load, then open
 * with one key after another; the plaintext of a successful open stays in the heap until the
 * next call and is wiped by `clear()` or the next load.
 */
export class SealedValueOpener {
  private readonly module: SodiumModule;
  private nonce = 0;
  private key = 0;
  private aad = 0;
  private aadCapacity = 0;
  private ciphertext = 0;
  private message = 0;
  private capacity = 0;
  private ciphertextLength = 0;
  private plaintextLength = -1;

  constructor() {
    this.module = (sodium as unknown as { libsodium: SodiumModule }).libsodium;
    this.nonce = this.module._malloc(NONCE_BYTES);
    this.key = this.module._malloc(KEY_BYTES);
  }

  private heapView: Buffer | null = null;

  private heap(): Buffer {
    // Growing wasm memory (a malloc) replaces the underlying buffer: re-take the view then only.
    const bytes = this.module.HEAPU8;
    if (this.heapView === null || this.heapView.buffer !== bytes.buffer) this.heapView = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.heapView;
  }

  private ensureCapacity(bytes: number): void {
    if (bytes <= this.capacity) return;
    this.clear();
    if (this.ciphertext) this.module._free(this.ciphertext);
    if (this.message) this.module._free(this.message);
    this.capacity = Math.max(bytes, 1024);
    this.ciphertext = this.module._malloc(this.capacity);
    this.message = this.module._malloc(this.capacity);
  }

  /** Decodes and checks a stored value; the reasons match parseSealedText exactly. */
  load(ciphertextHex: string, nonceHex: string): LoadResult {
    this.clear();
    if (ciphertextHex.length === 0 || nonceHex.length === 0) {
      return { ok: false, reason: ciphertextHex.length === nonceHex.length ? 'ciphertext and nonce are empty' : ciphertextHex.length === 0 ? 'ciphertext is empty' : 'nonce is empty' };
    }
    if (nonceHex.length !== NONCE_BYTES * 2) {
      const problem = hexProblem('nonce', nonceHex);
      return { ok: false, reason: problem ?? `nonce is ${nonceHex.length / 2} bytes, expected ${NONCE_BYTES}` };
    }
    const written = this.heap().write(nonceHex, this.nonce, NONCE_BYTES, 'hex');
    if (written !== NONCE_BYTES) return { ok: false, reason: hexProblem('nonce', nonceHex) ?? 'nonce is not hex' };
    if (ciphertextHex.length % 2 !== 0) return { ok: false, reason: hexProblem('ciphertext', ciphertextHex)! };
    const length = ciphertextHex.length / 2;
    this.ensureCapacity(Math.max(1, length));
    if (this.heap().write(ciphertextHex, this.ciphertext, length, 'hex') !== length) return { ok: false, reason: 'ciphertext is not hex' };
    if (length < TAG_BYTES) return { ok: false, reason: `ciphertext is ${length} bytes, shorter than the ${TAG_BYTES}-byte tag` };
    this.ciphertextLength = length;
    return { ok: true };
  }

  /** Tries one key on the loaded value. */
  open(key: Uint8Array, aad: Uint8Array): boolean {
    this.wipePlaintext();
    if (aad.length > this.aadCapacity) {
      if (this.aad) this.module._free(this.aad);
      this.aadCapacity = Math.max(aad.length, 256);
      this.aad = this.module._malloc(this.aadCapacity);
    }
    const heap = this.module.HEAPU8;
    heap.set(key, this.key);
    heap.set(aad, this.aad);
    const result = this.module._crypto_aead_xchacha20poly1305_ietf_decrypt(
      this.message, 0, 0, this.ciphertext, this.ciphertextLength, 0, this.aad, aad.length, 0, this.nonce, this.key,
    );
    heap.fill(0, this.key, this.key + KEY_BYTES);
    if (result !== 0) return false;
    this.plaintextLength = this.ciphertextLength - TAG_BYTES;
    return true;
  }

  /** The plaintext of the last successful open, as a view (valid until the next call). */
  private plaintextView(): Uint8Array {
    if (this.plaintextLength < 0) throw new Error('no plaintext: open() did not succeed');
    return this.module.HEAPU8.subarray(this.message, this.message + this.plaintextLength);
  }

  plaintextIsUtf8(check: (bytes: Uint8Array) => boolean): boolean {
    return check(this.plaintextView());
  }

  /** A copy of the plaintext for the caller (who wipes it when done). */
  takePlaintext(): Uint8Array {
    const copy = new Uint8Array(this.plaintextView());
    this.wipePlaintext();
    return copy;
  }

  private wipePlaintext(): void {
    if (this.plaintextLength >= 0) this.module.HEAPU8.fill(0, this.message, this.message + this.plaintextLength);
    this.plaintextLength = -1;
  }

  clear(): void {
    this.wipePlaintext();
  }
}

let shared: SealedValueOpener | null = null;

/** One opener per process (after loadCipher()). */
export function sharedOpener(): SealedValueOpener {
  shared ??= new SealedValueOpener();
  return shared;
}
