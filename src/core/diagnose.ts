/**
 * Classifies one stored value: can the current key open it, and if not, why and what would.
 * Pure: takes keys and a row, returns a verdict. Plaintext is handed to a callback only when
 * the caller needs it (rotation), never stored in the verdict.
 */
import { encodeAad, isValidUtf8 } from '../crypto/aead.js';
import { sharedOpener, type SealedValueOpener } from '../crypto/opener.js';
import { sameKey, type SecretKey } from '../crypto/keys.js';
import type { SealedRow } from '../stores/scan.js';
import type { StoreDefinition } from '../stores/stores.js';

/** Every status doctor gives a stored value, `ok` first (metrics write each, zeros included). */
export const VALUE_STATUSES = ['ok', 'wrong_secret', 'malformed', 'incomplete', 'not_utf8', 'secret_missing'] as const;
export type ValueStatus = (typeof VALUE_STATUSES)[number];

export interface Diagnosis {
  status: ValueStatus | 'unset';
  /** Label of the first fallback key that opens a value the current key does not. */
  decryptsWith: string | null;
  detail: string | null;
}

/** The keys to try for one store: its current key (null when the variable is unset) and fallbacks in order. */
export interface KeyRing {
  secretVariable: string;
  current: SecretKey | null;
  fallbacks: SecretKey[];
}

/** Builds a ring, dropping fallbacks equal to the current key or to an earlier fallback. */
export function buildKeyRing(secretVariable: string, current: SecretKey | null, fallbacks: SecretKey[]): KeyRing {
  const kept: SecretKey[] = [];
  for (const key of fallbacks) {
    if (current && sameKey(current, key)) continue;
    if (kept.some((other) => sameKey(other, key))) continue;
    kept.push(key);
  }
  return { secretVariable, current, fallbacks: kept };
}

function isEmpty(text: string | null): boolean {
  return text === null || text === '';
}

/**
 * Shape checks that need no key, loading the value into the shared opener when it is sealed.
 * `lenient` carries why strict hex refused a value that Node's `Buffer.from(hex)` (what
 * Laminar's web app uses) still decodes: stray characters after the hex, an odd last one.
 * Such a value may well open; it is never taken for lost.
 */
export type LoadedShape =
  | { kind: 'unset' }
  | { kind: 'broken'; status: 'malformed' | 'incomplete'; detail: string }
  | { kind: 'loaded'; opener: SealedValueOpener; lenient: string | null };

export function loadShape(store: StoreDefinition, row: SealedRow): LoadedShape {
  const noCiphertext = isEmpty(row.ciphertextHex);
  const noNonce = isEmpty(row.nonceHex);
  if (noCiphertext && noNonce) {
    if (store.emptyMeansUnset) return { kind: 'unset' };
    return { kind: 'broken', status: 'malformed', detail: 'ciphertext and nonce are empty' };
  }
  if (noCiphertext || noNonce) {
    return {
      kind: 'broken',
      status: 'incomplete',
      detail: noCiphertext ? 'nonce is set but the ciphertext is empty' : 'ciphertext is set but the nonce is empty',
    };
  }
  const opener = sharedOpener();
  const loaded = opener.load(row.ciphertextHex!, row.nonceHex!);
  if (loaded.ok) return { kind: 'loaded', opener, lenient: null };
  // Read as Laminar's web app reads it: Buffer.from(text, 'hex') keeps the pairs before the first non-hex character.
  const nonce = Buffer.from(row.nonceHex!, 'hex');
  const ciphertext = Buffer.from(row.ciphertextHex!, 'hex');
  if (nonce.length * 2 === row.nonceHex!.length && ciphertext.length * 2 === row.ciphertextHex!.length)
    return { kind: 'broken', status: 'malformed', detail: loaded.reason };
  if (!opener.load(ciphertext.toString('hex'), nonce.toString('hex')).ok)
    return { kind: 'broken', status: 'malformed', detail: loaded.reason };
  return { kind: 'loaded', opener, lenient: loaded.reason };
}

export function diagnoseValue(store: StoreDefinition, row: SealedRow, ring: KeyRing): Diagnosis {
  const shape = loadShape(store, row);
  if (shape.kind === 'unset') return { status: 'unset', decryptsWith: null, detail: null };
  if (shape.kind === 'broken') return { status: shape.status, decryptsWith: null, detail: shape.detail };
  const { opener, lenient } = shape;
  const aad = encodeAad(row.aad);
  if (ring.current && opener.open(ring.current.bytes, aad)) {
    const utf8 = opener.plaintextIsUtf8(isValidUtf8);
    opener.clear();
    if (lenient !== null && !store.readOnlyByWebApp) {
      // Opens, but only read leniently: Laminar's Rust server (strict hex) cannot use it. Not lost: re-sealing writes clean hex.
      return {
        status: 'malformed',
        decryptsWith: ring.current.label,
        detail:
          `${lenient}; it opens under the current ${ring.secretVariable} when read ` +
          `as Laminar's web app reads hex, but Laminar's server (strict hex) cannot ` +
          `read it: re-seal it to write clean hex`,
      };
    }
    return utf8
      ? { status: 'ok', decryptsWith: null, detail: null }
      : {
          status: 'not_utf8',
          decryptsWith: null,
          detail:
            "opens under the current key, but the plaintext is not valid UTF-8: Laminar's web app decodes it leniently, " +
            'each invalid byte becoming a replacement character (U+FFFD), so the key it sends is not the one saved',
        };
  }
  const found = ring.fallbacks.find((key) => opener.open(key.bytes, aad)) ?? null;
  opener.clear();
  if (lenient !== null && found === null) return { status: 'malformed', decryptsWith: null, detail: lenient };
  const status: ValueStatus = ring.current ? 'wrong_secret' : 'secret_missing';
  const detail = ring.current
    ? found
      ? `sealed with ${found.label}, not the current ${ring.secretVariable}`
      : `does not open under the current ${ring.secretVariable} nor any candidate ` +
        `key (sealed with a key that is not available, or with a different AAD)`
    : `${ring.secretVariable} is not set` + (found ? `; it opens with ${found.label}` : '');
  return { status, decryptsWith: found?.label ?? null, detail };
}
