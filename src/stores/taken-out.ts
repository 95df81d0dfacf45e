/**
 * Values lmnr-keys quarantine emptied in place, in the stores where an empty value leaves a
 * Laminar feature broken until someone acts (a Slack integration without a token).
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

export interface EmptiedValue {
  id: string;
  workspaceId: string | null;
}

export async function findEmptiedValues(db: Kysely<LaminarDatabase>, store: StoreDefinition): Promise<EmptiedValue[]> {
  const workspace = store.workspaceIdColumn === null ? sql`null` : sql.ref(`t.${store.workspaceIdColumn}`);
  const result = await sql<EmptiedValue>`
    select t.${sql.ref(store.idColumn)}::text as id, ${workspace}::text as "workspaceId"
    from ${sql.table(store.table)} as t
    where coalesce(t.${sql.ref(store.ciphertextColumn)}, '') = '' and coalesce(t.${sql.ref(store.nonceColumn)}, '') = ''
    order by 1`.execute(db);
  return result.rows;
}
