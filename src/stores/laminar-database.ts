/**
 * Is this Laminar's database at all? A wrong database name (the compose default `postgres`
 * when Laminar's is elsewhere) would otherwise read as "no stores, healthy" forever.
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import { ConfigError } from '../errors.js';
import { STORES } from './stores.js';

export async function assertLaminarDatabase(db: Kysely<LaminarDatabase>, database: string, schema: string | null = null): Promise<void> {
  const tables = [...new Set(STORES.map((store) => store.table))];
  const found = await sql<{
    present: boolean;
  }>`select bool_or(to_regclass(t) is not null) as present from unnest(${tables}::text[]) t`.execute(db);
  if (found.rows[0]?.present) return;
  throw new ConfigError(
    `this is not Laminar's database: ${database} has none of ${tables.join(', ')} ` +
      `(on the search_path${schema ? `, schema ${schema} from POSTGRES_SCHEMA` : ''})`,
    "point --database-url or DATABASE_URL at the database Laminar's web app uses (compose: POSTGRES_DB of its .env); " +
      'if Laminar runs with POSTGRES_SCHEMA (Helm: global.postgresSchema), set it for lmnr-keys too',
  );
}
