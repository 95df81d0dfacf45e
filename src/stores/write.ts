/**
 * Conditional writes of sealed values. Every write names the exact nonce and ciphertext it
 * expects to replace, so a value the running platform changed meanwhile is never overwritten:
 * it is simply not in the returned ids.
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

type Db = Kysely<LaminarDatabase>;

export interface ConditionalUpdate {
  id: string;
  oldCiphertextHex: string | null;
  oldNonceHex: string | null;
  newCiphertextHex: string | null;
  newNonceHex: string | null;
}

/** One statement per batch: UPDATE ... FROM (VALUES ...) WHERE current = expected. Returns ids written. */
export async function updateSealedValues(db: Db, store: StoreDefinition, updates: ConditionalUpdate[]): Promise<Set<string>> {
  if (updates.length === 0) return new Set();
  const values = sql.join(
    updates.map((u) => sql`(${u.id}::uuid, ${u.oldCiphertextHex}::text, ${u.oldNonceHex}::text, ${u.newCiphertextHex}::text, ${u.newNonceHex}::text)`),
  );
  const ct = sql.ref(`t.${store.ciphertextColumn}`);
  const nonce = sql.ref(`t.${store.nonceColumn}`);
  const result = await sql<{ id: string }>`
    update ${sql.table(store.table)} as t
    set ${sql.ref(store.ciphertextColumn)} = v.new_ct, ${sql.ref(store.nonceColumn)} = v.new_nonce
    from (values ${values}) as v(id, old_ct, old_nonce, new_ct, new_nonce)
    where ${sql.ref(`t.${store.idColumn}`)} = v.id
      and ${ct} is not distinct from v.old_ct
      and ${nonce} is not distinct from v.old_nonce
    returning ${sql.ref(`t.${store.idColumn}`)}::text as id`.execute(db);
  return new Set(result.rows.map((row) => row.id));
}
