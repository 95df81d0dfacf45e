/**
 * The hot path of every full scan (doctor, verify-provider): a COPY tuple's sealed value judged
 * in place, from pg's buffer into libsodium's heap, without a string per row. A value the
 * current key opens to UTF-8 is "ok"; one it does not open is tried against the fallback keys
 * in place; anything else ("not decided here") takes diagnoseValue's string path.
 */
import type { CopyTuple } from '../db/copy.js';
import type { SealedValueOpener } from '../crypto/opener.js';
import { decodedExactly, FIELD, fieldText, fieldUuid, tupleId, type SealedEncoding } from '../stores/copy-reader.js';
import type { StoreDefinition } from '../stores/stores.js';
import type { KeyRing } from './diagnose.js';

/**
 * After NOT_OPENED_BY_HELD_KEY: the position + 1 of the first fallback key that opens the
 * loaded value (0: none). The plaintext is wiped either way.
 */
export function tryFallbacks(opener: SealedValueOpener, ring: KeyRing): number {
  let opened = 0;
  for (let i = 0; i < ring.fallbacks.length; i++) {
    if (opener.tryKey(ring.fallbacks[i]!.bytes)) {
      opened = i + 1;
      break;
    }
  }
  opener.clear();
  return opened;
}

/** The id, place and name of a tuple, as sealedRowFromTuple gives them, without the sealed columns. */
export function placeOfTuple(store: StoreDefinition, tuple: CopyTuple, encoding: SealedEncoding) {
  const uuid = encoding === 'bytes' ? fieldUuid : fieldText;
  const aad = fieldText(tuple, FIELD.aad) ?? '';
  return {
    id: tupleId(tuple, encoding),
    projectId: uuid(tuple, FIELD.projectId),
    workspaceId: uuid(tuple, FIELD.workspaceId),
    name: store.fixedName ?? (store.nameColumn === store.aadColumn ? aad : (fieldText(tuple, FIELD.name) ?? '')),
  };
}

/** What the held (current) key made of a tuple. */
export const OPENED_UTF8 = 0;
export const NOT_OPENED_BY_HELD_KEY = 1;
/** Not decided here: the value's shape needs the string path (not hex, empty, NULL, lenient), or it opened to bytes that are not UTF-8. */
export const LOAD_FAILED = 2;

/**
 * Loads the tuple's sealed value and AAD into the opener and tries the key it holds (holdKey:
 * the current key). OPENED_UTF8 is exactly diagnoseValue's "ok" (property-tested in
 * test/unit/copy-paths.test.ts); NOT_OPENED_BY_HELD_KEY leaves the value loaded, AAD set, for
 * the fallback keys; LOAD_FAILED means "not decided here", never "failing".
 */
export function openWithHeldKey(opener: SealedValueOpener, tuple: CopyTuple, encoding: SealedEncoding): number {
  if (!loadTuple(opener, tuple, encoding)) return LOAD_FAILED;
  if (!opener.tryHeldKey()) return NOT_OPENED_BY_HELD_KEY;
  return opener.plaintextIsValidUtf8ThenWipe() ? OPENED_UTF8 : LOAD_FAILED;
}

export function loadTuple(opener: SealedValueOpener, tuple: CopyTuple, encoding: SealedEncoding): boolean {
  const { buffer, starts, lengths } = tuple;
  const ct = FIELD.ciphertext;
  const nonce = FIELD.nonce;
  const aad = FIELD.aad;
  if (encoding === 'bytes') {
    if (!decodedExactly(tuple)) return false;
    // Ciphertext, nonce and AAD are consecutive fields: one copy into libsodium's heap.
    const consecutive =
      lengths[ct]! >= 0 &&
      lengths[nonce]! >= 0 &&
      starts[nonce] === starts[ct]! + lengths[ct]! + 4 &&
      starts[aad] === starts[nonce]! + lengths[nonce]! + 4;
    if (consecutive) return opener.loadTupleFrom(buffer, starts[ct]!, lengths[ct]!, lengths[nonce]!, lengths[aad]!);
    if (!opener.loadBytesFrom(buffer, starts[ct]!, lengths[ct]!, starts[nonce]!, lengths[nonce]!)) return false;
    opener.setAadFrom(buffer, starts[aad]!, lengths[aad]!);
    return true;
  }
  if (!opener.loadHexFrom(buffer, starts[ct]!, lengths[ct]!, starts[nonce]!, lengths[nonce]!)) return false;
  opener.setAadFrom(buffer, starts[aad]!, lengths[aad]!);
  return true;
}

/**
 * The fast verdict "ok": the stored value decodes to a sealed value, the key the opener holds
 * (holdKey: the current key) opens it with the row's AAD, and the plaintext is UTF-8 — exactly
 * diagnoseValue's "ok" (property-tested in test/unit/copy-paths.test.ts). False means "not
 * decided here", never "failing".
 */
export function opensToUtf8(opener: SealedValueOpener, tuple: CopyTuple, encoding: SealedEncoding = 'hex'): boolean {
  return openWithHeldKey(opener, tuple, encoding) === OPENED_UTF8;
}
