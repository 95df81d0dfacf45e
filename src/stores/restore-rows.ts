/** Whole-row reads and writes restore needs to put back a row quarantine or set deleted. */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

type Db = Kysely<LaminarDatabase>;

/** Inserts a row from its backed-up JSON form (every column as text, as to_jsonb wrote it). */
export async function insertWholeRow(db: Db, store: StoreDefinition, row: Record<string, string | null>): Promise<void> {
  await sql`
    insert into ${sql.table(store.table)}
    select * from json_populate_record(null::${sql.table(store.table)}, ${JSON.stringify(row)}::json)`.execute(db);
}

/**
 * Inserts rows from their backed-up JSON form in one statement; a row whose id exists (a
 * conflict on the primary key) is skipped. Returns the ids inserted. Any other refusal (a
 * foreign key) fails the whole statement: the caller then goes row by row.
 */
export async function insertWholeRows(db: Db, store: StoreDefinition, rows: Array<Record<string, string | null>>): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const result = await sql<{ id: string }>`
    insert into ${sql.table(store.table)}
    select * from json_populate_recordset(null::${sql.table(store.table)}, ${JSON.stringify(rows)}::json)
    on conflict do nothing
    returning ${sql.ref(store.idColumn)}::text as id`.execute(db);
  return new Set(result.rows.map((row) => row.id));
}
