/**
 * The only place that creates connections. `usingDatabase` opens a Kysely instance, checks
 * that it can connect, and always destroys it.
 */
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { DatabaseTarget } from '../config/database-target.js';
import type { LaminarDatabase } from './schema.js';
import { toDatabaseError } from './errors.js';

export type LaminarDb = Kysely<LaminarDatabase>;

export interface OpenOptions {
  /** Identifies our sessions in pg_stat_activity. */
  applicationName?: string;
  connectTimeoutMs?: number;
  poolSize?: number;
}

export interface OpenDatabase {
  db: LaminarDb;
  target: DatabaseTarget;
  close: () => Promise<void>;
}

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<OpenDatabase> {
  try {
    return await openPool(target, target.connectionString, options);
  } catch (error) {
    // libpq's sslmode=prefer (and allow) fall back to a plain connection when the server has no
    // TLS; node-postgres does not, so the fallback is made here.
    const plain = withoutPreferredTls(target.connectionString);
    if (plain === null || !/does not support SSL/i.test(messageOf(error))) throw error;
    return openPool(target, plain, options);
  }
}

function messageOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return `${(error as Error)?.message ?? ''} ${(cause as Error | undefined)?.message ?? ''}`;
}

/** The URL with sslmode=disable when it asked for prefer or allow; null otherwise. */
function withoutPreferredTls(connectionString: string): string | null {
  const url = new URL(connectionString);
  const mode = url.searchParams.get('sslmode');
  if (mode !== 'prefer' && mode !== 'allow') return null;
  url.searchParams.set('sslmode', 'disable');
  return url.toString();
}

async function openPool(target: DatabaseTarget, connectionString: string, options: OpenOptions): Promise<OpenDatabase> {
  const pool = new pg.Pool({
    connectionString,
    // As Laminar's services do with POSTGRES_SCHEMA: every table is looked up on that search_path.
    ...(target.schema ? { options: `-c search_path=${target.schema.replace(/[\\ ]/g, '\\$&')}` } : {}),
    application_name: options.applicationName ?? 'lmnr-keys',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    max: options.poolSize ?? 2,
  });
  // A client losing its connection (server restart, pg_terminate_backend) emits 'error'; the
  // query in flight rejects with it and is reported there, so the event itself must not crash us.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<LaminarDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await db.destroy().catch(() => {});
    throw toDatabaseError(error, target, 'connecting');
  }
  return { db, target, close: () => db.destroy() };
}

export async function usingDatabase<T>(target: DatabaseTarget, options: OpenOptions, run: (open: OpenDatabase) => Promise<T>): Promise<T> {
  const open = await openDatabase(target, options);
  try {
    return await run(open);
  } catch (error) {
    // Typed errors from the core pass through; anything from pg becomes a DatabaseError.
    if (error instanceof Error && 'exitCode' in error) throw error;
    if (isPgError(error)) throw toDatabaseError(error, target, 'running the command');
    throw error;
  } finally {
    await open.close().catch(() => {});
  }
}

function isPgError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' || /Connection terminated|connection/i.test(error.message);
}
