/** Reads every provider key back and opens it, to prove nothing was lost. */
import { encodeAad, loadCipher, openSealed, parseSealedText } from '../../src/crypto/aead.js';
import type { TestDatabase } from './database.js';
import { keyBytes } from './keys.js';

export interface Snapshot {
  rows: Map<string, { name: string; nonce_hex: string; value: string }>;
}

export async function snapshotProviderKeys(t: TestDatabase): Promise<Map<string, { name: string; nonce_hex: string; value: string }>> {
  const result = await t.query('select id::text as id, name, nonce_hex, value from provider_api_keys');
  return new Map(result.rows.map((row: any) => [row.id, { name: row.name, nonce_hex: row.nonce_hex, value: row.value }]));
}

/** Opens each row under one of `keys`; returns id -> { plaintext, keyIndex } (keyIndex -1 = opens under none). */
export async function openAll(t: TestDatabase, keys: string[]): Promise<Map<string, { plaintext: string | null; keyIndex: number }>> {
  await loadCipher();
  const rows = await snapshotProviderKeys(t);
  const out = new Map<string, { plaintext: string | null; keyIndex: number }>();
  for (const [id, row] of rows) {
    const parsed = parseSealedText({ ciphertextHex: row.value, nonceHex: row.nonce_hex });
    let found: { plaintext: string | null; keyIndex: number } = { plaintext: null, keyIndex: -1 };
    if (parsed.ok) {
      for (const [index, key] of keys.entries()) {
        const opened = openSealed(keyBytes(key), parsed.sealed, encodeAad(row.name));
        if (opened) {
          found = { plaintext: new TextDecoder().decode(opened), keyIndex: index };
          break;
        }
      }
    }
    out.set(id, found);
  }
  return out;
}
