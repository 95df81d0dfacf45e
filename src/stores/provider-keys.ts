/** The provider_api_keys queries `set` needs: a project's rows for one name, and inserting one. */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import { ConfigError } from '../errors.js';
import type { SealedText } from '../crypto/aead.js';

type Db = Kysely<LaminarDatabase>;

export interface ProjectKeyRow {
  id: string;
  ciphertextHex: string;
  nonceHex: string;
}

/** Whether the project exists; a database without a projects table is refused with a clear line. */
export async function projectExists(db: Db, projectId: string): Promise<boolean> {
  // Two statements: a to_regclass guard cannot protect a reference to the table in the same query.
  const table = await sql<{ present: boolean }>`select to_regclass('projects') is not null as present`.execute(db);
  if (!table.rows[0]?.present) {
    throw new ConfigError(
      'this database has no projects table, so no project can be checked: it is not (a complete) Laminar database',
      'point --database-url at the database Laminar uses',
    );
  }
  const found = await sql<{ present: boolean }>`select exists(select 1 from projects where id = ${projectId}::uuid) as present`.execute(db);
  return Boolean(found.rows[0]?.present);
}

/** A project's rows for one key name, in id order; `forUpdate` locks them until the transaction ends. */
export async function readProjectKeys(db: Db, projectId: string, name: string, options: { forUpdate: boolean }): Promise<ProjectKeyRow[]> {
  const lock = options.forUpdate ? sql`for update` : sql``;
  const result = await sql<ProjectKeyRow>`
    select id::text as id, value as "ciphertextHex", nonce_hex as "nonceHex" from provider_api_keys
    where project_id = ${projectId}::uuid and name = ${name} order by id ${lock}`.execute(db);
  return result.rows;
}

export async function insertProviderKey(db: Db, row: { id: string; projectId: string; name: string; sealed: SealedText }): Promise<void> {
  await sql`insert into provider_api_keys (id, project_id, name, nonce_hex, value)
    values (${row.id}::uuid, ${row.projectId}::uuid, ${row.name}, ${row.sealed.nonceHex}, ${row.sealed.ciphertextHex})`.execute(db);
}
