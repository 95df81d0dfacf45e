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
    updates.map(
      (u) => sql`(${u.id}::uuid, ${u.oldCiphertextHex}::text, ${u.oldNonceHex}::text, ${u.newCiphertextHex}::text, ${u.newNonceHex}::text)`,
    ),
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

/** Every column of some rows, as JSON text values, for a backup that can re-insert them. */
export async function readWholeRows(db: Db, store: StoreDefinition, ids: string[]): Promise<Map<string, Record<string, string | null>>> {
  if (ids.length === 0) return new Map();
  const result = await sql<{ id: string; row: Record<string, string | null> }>`
    select t.${sql.ref(store.idColumn)}::text as id, to_jsonb(t) as row from ${sql.table(store.table)} t
    where t.${sql.ref(store.idColumn)} = any(${ids}::uuid[])`.execute(db);
  return new Map(result.rows.map((r) => [r.id, r.row]));
}

export interface ConditionalDelete {
  id: string;
  ciphertextHex: string | null;
  nonceHex: string | null;
}

/** Deletes rows only where they still hold exactly the sealed value read. Returns ids deleted. */
export async function deleteSealedRows(db: Db, store: StoreDefinition, rows: ConditionalDelete[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const values = sql.join(rows.map((r) => sql`(${r.id}::uuid, ${r.ciphertextHex}::text, ${r.nonceHex}::text)`));
  const result = await sql<{ id: string }>`
    delete from ${sql.table(store.table)} as t
    using (values ${values}) as v(id, ct, nonce)
    where ${sql.ref(`t.${store.idColumn}`)} = v.id
      and ${sql.ref(`t.${store.ciphertextColumn}`)} is not distinct from v.ct
      and ${sql.ref(`t.${store.nonceColumn}`)} is not distinct from v.nonce
    returning ${sql.ref(`t.${store.idColumn}`)}::text as id`.execute(db);
  return new Set(result.rows.map((r) => r.id));
}
