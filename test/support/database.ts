/** A fresh Laminar-shaped database per test file, on the harness's real Postgres. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { inject } from 'vitest';
import type { LaminarDatabase } from '../../src/db/schema.js';

import { LAMINAR_SCHEMA_SQL } from '../../src/demo/laminar-schema.js';

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
  db: Kysely<LaminarDatabase>;
  /** Runs SQL as the owner. */
  query: (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  drop: () => Promise<void>;
}

export function adminUrl(): string {
  return inject('adminUrl');
}

export function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export async function createTestDatabase(options: { schema?: boolean } = {}): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  const name = `lk_${randomBytes(6).toString('hex')}`;
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = withDatabaseName(adminUrl(), name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  if (options.schema !== false) await pool.query(LAMINAR_SCHEMA_SQL);
  const db = new Kysely<LaminarDatabase>({ dialect: new PostgresDialect({ pool }) });
  return {
    url,
    name,
    pool,
    db,
    query: (text, values) => pool.query(text, values as unknown[]),
    drop: async () => {
      await db.destroy().catch(() => {});
      const cleanup = new pg.Client({ connectionString: adminUrl() });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
