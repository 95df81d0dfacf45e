/**
 * The hot path of doctor and rotate: opening (and re-sealing) a million values. Same library,
 * same primitives (libsodium's crypto_aead_xchacha20poly1305_ietf_decrypt and _encrypt, and
 * its sodium_bin2hex, called through the exports libsodium-wrappers itself calls), but values
 * go straight into reusable buffers in libsodium's heap instead of allocating and copying five
 * arrays per value. The results are checked against the public API by property tests
 * (test/unit/opener.test.ts).
 */
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { NONCE_BYTES, TAG_BYTES, KEY_BYTES } from './constants.js';
import { hexProblem } from './hex.js';

interface SodiumModule {
  _malloc: (size: number) => number;
  _free: (pointer: number) => void;
  HEAPU8: Uint8Array;
  _crypto_aead_xchacha20poly1305_ietf_decrypt: (
    message: number,
    messageLength: number,
    secretNonce: number,
    ciphertext: number,
    ciphertextLengthLow: number,
    ciphertextLengthHigh: number,
    aad: number,
    aadLengthLow: number,
    aadLengthHigh: number,
    nonce: number,
    key: number,
  ) => number;
  _crypto_aead_xchacha20poly1305_ietf_encrypt: (
    ciphertext: number,
    ciphertextLength: number,
    message: number,
    messageLengthLow: number,
    messageLengthHigh: number,
    aad: number,
    aadLengthLow: number,
    aadLengthHigh: number,
    secretNonce: number,
    nonce: number,
    key: number,
  ) => number;
  _sodium_bin2hex: (hex: number, hexMaxLength: number, bin: number, binLength: number) => number;
}

/**
 * Buffer's own one-byte-string and hex codecs (what `toString('latin1')` and `write(, 'hex')`
 * call after normalising their arguments), called directly on the hot path when present; they
 * have been on Buffer.prototype since Node's early days but are undocumented, so the public
 * methods stand in wherever they are missing.
 */
interface BufferCodecs {
  latin1Slice(this: Buffer, start: number, end: number): string;
  hexWrite(this: Buffer, text: string, offset: number, length: number): number;
}
const builtin = Buffer.prototype as unknown as Partial<BufferCodecs>;
const { latin1Slice, hexWrite }: BufferCodecs =
  typeof builtin.latin1Slice === 'function' && typeof builtin.hexWrite === 'function'
    ? (builtin as BufferCodecs)
    : {
        latin1Slice(start, end) {
          return this.toString('latin1', start, end);
        },
        hexWrite(text, offset, length) {
          return this.write(text, offset, length, 'hex');
        },
      };

// Nonces for re-sealing come from a pool refilled from the OS CSPRNG (the source libsodium's
// own Node build reads): one system call per 1024 nonces, and no allocation per value.
const NONCES_PER_POOL = 1024;
const noncePool = Buffer.alloc(NONCE_BYTES * NONCES_PER_POOL);
let noncePoolOffset = noncePool.length;

/** Where a re-sealed value's hex text sits in `heapBytes()`, until the next call. */
export interface ResealedHex {
  ciphertextStart: number;
  ciphertextLength: number;
  nonceStart: number;
  nonceLength: number;
}

export type LoadResult = { ok: true } | { ok: false; reason: string };

/**
 * Holds one sealed value at a time in libsodium's heap. Synchronous use only: load, then open
 * with one key after another; the plaintext of a successful open stays in the heap until the
 * next call and is wiped by `clear()` or the next load.
 */
export class SealedValueOpener {
  private readonly module: SodiumModule;
  // libsodium's exports, fetched once: the module object holds hundreds of properties, and a
  // look-up on it per value showed in the profile.
  private readonly decrypt: SodiumModule['_crypto_aead_xchacha20poly1305_ietf_decrypt'];
  private readonly encrypt: SodiumModule['_crypto_aead_xchacha20poly1305_ietf_encrypt'];
  private readonly bin2hex: SodiumModule['_sodium_bin2hex'];
  // Views of the wasm memory, re-taken when it grows (growing detaches the old buffer, which
  // then reads as empty).
  private bytes: Uint8Array = new Uint8Array(0);
  private words: Uint32Array = new Uint32Array(0);
  private view: Buffer = Buffer.alloc(0);
  private nonce = 0;
  private key = 0;
  // A key kept in the heap for a whole scan (holdKey): copying a key in and wiping it again for
  // every value was a tenth of doctor's time per value.
  private heldKey = 0;
  private holdsKey = false;
  private aad = 0;
  private aadCapacity = 0;
  private ciphertext = 0;
  private message = 0;
  private capacity = 0;
  private ciphertextLength = 0;
  private plaintextLength = -1;
  private aadLength = 0;
  // Where the loaded value's parts are: the buffers above, or places in `block` when a whole
  // tuple's ciphertext, nonce and AAD came in one copy (loadTupleFrom).
  private ciphertextAt = 0;
  private nonceAt = 0;
  private aadAt = 0;
  private block = 0;
  private blockCapacity = 0;
  // Re-sealing: the new nonce and ciphertext, a second plaintext buffer for the check, and
  // the hex text of both (with room for bin2hex's terminating NUL).
  private newNonce = 0;
  private newNonceHex = 0;
  private sealed = 0;
  private check = 0;
  private sealedHex = 0;
  private sealCapacity = 0;

  constructor() {
    this.module = (sodium as unknown as { libsodium: SodiumModule }).libsodium;
    this.decrypt = this.module._crypto_aead_xchacha20poly1305_ietf_decrypt;
    this.encrypt = this.module._crypto_aead_xchacha20poly1305_ietf_encrypt;
    this.bin2hex = this.module._sodium_bin2hex;
    this.nonce = this.module._malloc(NONCE_BYTES);
    this.key = this.module._malloc(KEY_BYTES);
    this.heldKey = this.module._malloc(KEY_BYTES);
  }

  /** libsodium's heap as a Buffer, for copying out what `reseal` wrote (re-take it after every call). */
  heapBytes(): Buffer {
    return this.heap();
  }

  private heap(): Buffer {
    if (this.view.byteLength === 0) this.retakeViews();
    return this.view;
  }

  private heapU8(): Uint8Array {
    if (this.bytes.byteLength === 0) this.retakeViews();
    return this.bytes;
  }

  private retakeViews(): void {
    const bytes = this.module.HEAPU8;
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
      return {
        ok: false,
        reason:
          ciphertextHex.length === nonceHex.length
            ? 'ciphertext and nonce are empty'
            : ciphertextHex.length === 0
              ? 'ciphertext is empty'
              : 'nonce is empty',
      };
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
    this.ciphertextAt = this.ciphertext;
    this.nonceAt = this.nonce;
    return { ok: true };
  }

  /**
   * The same checks as `load`, straight from a buffer holding the stored hex text (a COPY
   * tuple): true exactly when `load` would succeed. On false nothing is said about why: the
   * caller takes the string path, which gives the reason in the words every report uses.
   */
  loadHexFrom(source: Buffer, ciphertextStart: number, ciphertextHexLength: number, nonceStart: number, nonceHexLength: number): boolean {
    this.clear();
    if (nonceHexLength !== NONCE_BYTES * 2 || ciphertextHexLength <= 0 || ciphertextHexLength % 2 !== 0) return false;
    const length = ciphertextHexLength / 2;
    if (length < TAG_BYTES) return false;
    this.ensureCapacity(length);
    const heap = this.heap();
    // Node's hex decoder (the one Laminar's web app uses) on a one-byte string: it stops at the
    // first pair that is not hex, so "every byte written" is the strict check.
    if (hexWrite.call(heap, latin1Slice.call(source, nonceStart, nonceStart + nonceHexLength), this.nonce, NONCE_BYTES) !== NONCE_BYTES)
      return false;
    if (
      hexWrite.call(heap, latin1Slice.call(source, ciphertextStart, ciphertextStart + ciphertextHexLength), this.ciphertext, length) !==
      length
    )
      return false;
    this.ciphertextLength = length;
    this.ciphertextAt = this.ciphertext;
    this.nonceAt = this.nonce;
    return true;
  }

  /**
   * Loads a value Postgres already decoded from hex (bytes at `source`): true exactly when
   * `load` would succeed on the hex of those bytes (a 24-byte nonce, a ciphertext at least as
   * long as the tag). On false the caller takes the string path, as with loadHexFrom.
   */
  loadBytesFrom(source: Buffer, ciphertextStart: number, ciphertextLength: number, nonceStart: number, nonceLength: number): boolean {
    this.clear();
    if (nonceLength !== NONCE_BYTES || ciphertextLength < TAG_BYTES) return false;
    this.ensureCapacity(ciphertextLength);
    const heap = this.heap();
    source.copy(heap, this.nonce, nonceStart, nonceStart + NONCE_BYTES);
    source.copy(heap, this.ciphertext, ciphertextStart, ciphertextStart + ciphertextLength);
    this.ciphertextLength = ciphertextLength;
    this.ciphertextAt = this.ciphertext;
    this.nonceAt = this.nonce;
    return true;
  }

  /**
   * loadBytesFrom and setAadFrom in one copy, for a binary COPY tuple whose decoded ciphertext,
   * nonce and AAD are consecutive fields: `source[ciphertextStart]` holds the ciphertext, then
   * the nonce's 4-byte length and the nonce, then the AAD's length and the AAD. The block is
   * copied as is and the parts are used where they land. Same answer as loadBytesFrom.
   */
  loadTupleFrom(source: Buffer, ciphertextStart: number, ciphertextLength: number, nonceLength: number, aadLength: number): boolean {
    this.clear();
    if (nonceLength !== NONCE_BYTES || ciphertextLength < TAG_BYTES) return false;
    const bytes = ciphertextLength + 4 + NONCE_BYTES + 4 + aadLength;
    if (bytes > this.blockCapacity) {
      if (this.block) this.module._free(this.block);
      this.blockCapacity = Math.max(bytes, 1024);
      this.block = this.module._malloc(this.blockCapacity);
    }
    source.copy(this.heap(), this.block, ciphertextStart, ciphertextStart + bytes);
    this.ciphertextLength = ciphertextLength;
    this.ciphertextAt = this.block;
    this.nonceAt = this.block + ciphertextLength + 4;
    this.aadAt = this.nonceAt + NONCE_BYTES + 4;
    this.aadLength = aadLength;
    return true;
  }

  private ensureAadCapacity(bytes: number): void {
    if (bytes <= this.aadCapacity) return;
    if (this.aad) this.module._free(this.aad);
    this.aadCapacity = Math.max(bytes, 256);
    this.aad = this.module._malloc(this.aadCapacity);
  }

  /** Tries one key on the loaded value. */
  open(key: Uint8Array, aad: Uint8Array): boolean {
    this.setAad(aad);
    return this.tryKey(key);
  }

  /** Sets the AAD for `tryKey`. */
  setAad(aad: Uint8Array): void {
    this.ensureAadCapacity(aad.length);
    this.heapU8().set(aad, this.aad);
    this.aadAt = this.aad;
    this.aadLength = aad.length;
  }

  /** Sets the AAD from `source[start, start + length)` (UTF-8 text as stored), for `tryKey`. */
  setAadFrom(source: Buffer, start: number, length: number): void {
    this.ensureAadCapacity(length);
    // Key names are a dozen bytes: a plain loop beats Buffer.copy's call overhead.
    const heap = this.heapU8();
    for (let i = 0, to = this.aad; i < length; i++) heap[to + i] = source[start + i]!;
    this.aadAt = this.aad;
    this.aadLength = length;
  }

  /** Tries one key on the loaded value with the AAD last set. */
  tryKey(key: Uint8Array): boolean {
    const heap = this.heapU8();
    heap.set(key, this.key);
    const opened = this.openWithKeyAt(this.key);
    heap.fill(0, this.key, this.key + KEY_BYTES);
    return opened;
  }

  /** Opens the loaded value with the key at `keyPointer` in the heap; the plaintext stays until wiped. */
  private openWithKeyAt(keyPointer: number): boolean {
    this.wipePlaintext();
    const result = this.decrypt(
      this.message,
      0,
      0,
      this.ciphertextAt,
      this.ciphertextLength,
      0,
      this.aadAt,
      this.aadLength,
      0,
      this.nonceAt,
      keyPointer,
    );
    if (result !== 0) return false;
    this.plaintextLength = this.ciphertextLength - TAG_BYTES;
    return true;
  }

  /**
   * Keeps `key` in libsodium's heap for `tryHeldKey` until `releaseKey` wipes it. For a scan
   * that tries one key on every value; the caller releases it in a `finally`.
   */
  holdKey(key: Uint8Array): void {
    if (key.length !== KEY_BYTES) throw new Error(`a key is ${KEY_BYTES} bytes`);
    this.heapU8().set(key, this.heldKey);
    this.holdsKey = true;
  }

  /** Wipes the held key from the heap. */
  releaseKey(): void {
    this.heapU8().fill(0, this.heldKey, this.heldKey + KEY_BYTES);
    this.holdsKey = false;
  }

  /** `tryKey` with the held key. */
  tryHeldKey(): boolean {
    if (!this.holdsKey) throw new Error('no key held: holdKey() first');
    return this.openWithKeyAt(this.heldKey);
  }

  /** Whether the plaintext of the last successful open is valid UTF-8 (what Laminar needs). */
  plaintextIsValidUtf8(): boolean {
    return isUtf8(this.plaintextView());
  }

  /**
   * plaintextIsValidUtf8, then the plaintext wiped, for the scan's hot path: provider keys are
   * ASCII, and a word-at-a-time look for a high bit, then a word-at-a-time wipe, cost a fraction
   * of a view, isUtf8 and fill per value. Anything with a high bit goes to isUtf8.
   */
  plaintextIsValidUtf8ThenWipe(): boolean {
    const length = this.plaintextLength;
    if (length < 0) throw new Error('no plaintext: open() did not succeed');
    const bytes = this.heapU8();
    const words = this.words;
    const start = this.message;
    const end = start + length;
    // Whole words in the middle (malloc aligns to 8, so there is no head in practice), bytes at the ends.
    const firstWord = Math.min((start + 3) >>> 2, end >>> 2);
    const wordsEnd = end >>> 2;
    let high = 0;
    for (let i = start; i < firstWord << 2; i++) high |= bytes[i]!;
    for (let i = firstWord; i < wordsEnd; i++) high |= words[i]!;
    for (let i = Math.max(wordsEnd << 2, start); i < end; i++) high |= bytes[i]!;
    const utf8 = (high & 0x80808080) === 0 || isUtf8(bytes.subarray(start, end));
    for (let i = start; i < firstWord << 2; i++) bytes[i] = 0;
    for (let i = firstWord; i < wordsEnd; i++) words[i] = 0;
    for (let i = Math.max(wordsEnd << 2, start); i < end; i++) bytes[i] = 0;
    this.plaintextLength = -1;
    return utf8;
  }

  private ensureSealCapacity(bytes: number): void {
    if (this.newNonce === 0) {
      this.newNonce = this.module._malloc(NONCE_BYTES);
      this.newNonceHex = this.module._malloc(NONCE_BYTES * 2 + 1);
    }
    if (bytes <= this.sealCapacity) return;
    for (const pointer of [this.sealed, this.check, this.sealedHex]) if (pointer) this.module._free(pointer);
    this.sealCapacity = Math.max(bytes, 1024);
    this.sealed = this.module._malloc(this.sealCapacity);
    this.check = this.module._malloc(this.sealCapacity);
    this.sealedHex = this.module._malloc(this.sealCapacity * 2 + 1);
  }

  /**
   * Re-seals the plaintext of the last successful open under `key`, with the same AAD and a
   * fresh random nonce, exactly as Laminar seals. The new value is then opened again under
   * `key` and compared with the plaintext before anything is handed out: a value that would
   * not open to the same bytes is never written (returns null). Hex text of the new nonce and
   * ciphertext is left in the heap at the returned offsets; the plaintexts are wiped.
   */
  reseal(key: Uint8Array): ResealedHex | null {
    const plaintext = this.plaintextLength;
    if (plaintext < 0) throw new Error('no plaintext: open() did not succeed');
    const length = plaintext + TAG_BYTES;
    this.ensureSealCapacity(length);
    if (noncePoolOffset >= noncePool.length) {
      randomFillSync(noncePool);
      noncePoolOffset = 0;
    }
    const heap = this.heap();
    const bytes = this.heapU8();
    noncePool.copy(heap, this.newNonce, noncePoolOffset, noncePoolOffset + NONCE_BYTES);
    noncePoolOffset += NONCE_BYTES;
    bytes.set(key, this.key);
    let same = false;
    try {
      const sealedOk =
        this.encrypt(this.sealed, 0, this.message, plaintext, 0, this.aadAt, this.aadLength, 0, 0, this.newNonce, this.key) === 0;
      const opened =
        sealedOk && this.decrypt(this.check, 0, 0, this.sealed, length, 0, this.aadAt, this.aadLength, 0, this.newNonce, this.key) === 0;
      same = opened && heap.compare(heap, this.message, this.message + plaintext, this.check, this.check + plaintext) === 0;
    } finally {
      bytes.fill(0, this.key, this.key + KEY_BYTES);
      bytes.fill(0, this.check, this.check + plaintext);
      this.wipePlaintext();
    }
    if (!same) return null;
    this.bin2hex(this.sealedHex, length * 2 + 1, this.sealed, length);
    this.bin2hex(this.newNonceHex, NONCE_BYTES * 2 + 1, this.newNonce, NONCE_BYTES);
    return { ciphertextStart: this.sealedHex, ciphertextLength: length * 2, nonceStart: this.newNonceHex, nonceLength: NONCE_BYTES * 2 };
  }

  /** The plaintext of the last successful open, as a view (valid until the next call). */
  private plaintextView(): Uint8Array {
    if (this.plaintextLength < 0) throw new Error('no plaintext: open() did not succeed');
    return this.heapU8().subarray(this.message, this.message + this.plaintextLength);
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
    if (this.plaintextLength >= 0) this.heapU8().fill(0, this.message, this.message + this.plaintextLength);
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
