import { sql } from 'kysely';
import type { LaminarDb } from './connect.js';

/**
 * Which database this is, independent of the host name used to reach it (localhost, a
 * port-forward, the compose service name): the cluster's system identifier and the database
 * name. null where the server hides pg_control_system (some managed services).
 */
export async function readDatabaseIdentity(db: LaminarDb): Promise<string | null> {
  try {
    const result = await sql<{ identity: string }>`
      select (select system_identifier::text from pg_control_system()) || '/' || current_database() as identity`.execute(db);
    return result.rows[0]?.identity ?? null;
  } catch {
    return null;
  }
}
