/** Whole-row reads and writes restore needs to put back a row quarantine or set deleted. */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

type Db = Kysely<LaminarDatabase>;

export async function rowExists(db: Db, store: StoreDefinition, id: string): Promise<boolean> {
  const result = await sql<{ present: boolean }>`
    select exists(select 1 from ${sql.table(store.table)} where ${sql.ref(store.idColumn)} = ${id}::uuid) as present`.execute(db);
  return Boolean(result.rows[0]?.present);
}

/** Inserts a row from its backed-up JSON form (every column as text, as to_jsonb wrote it). */
export async function insertWholeRow(db: Db, store: StoreDefinition, row: Record<string, string | null>): Promise<void> {
  await sql`
    insert into ${sql.table(store.table)}
    select * from json_populate_record(null::${sql.table(store.table)}, ${JSON.stringify(row)}::json)`.execute(db);
}
