/**
 * One writer at a time: every command that writes sealed values (rotate, restore, set,
 * quarantine) holds this session-level advisory lock on the connection it writes with.
 */
import { sql } from 'kysely';
import { DatabaseError } from '../errors.js';
import { printable } from '../printable.js';
import type { LaminarDb } from './connect.js';

// 'lmnr' and 'keys' as 32-bit integers: a fixed, recognisable key in pg_locks.
export const LOCK_CLASS_ID = 0x6c6d6e72;
export const LOCK_OBJECT_ID = 0x6b657973;

export interface LockOptions {
  /** Wait for the lock instead of failing at once. */
  wait: boolean;
  /** With wait: give up after this many milliseconds (0 = wait forever). */
  timeoutMs: number;
  /** Shown in pg_stat_activity while the lock is held (e.g. "lmnr-keys rotate to 1a2b3c4d"), so doctor can say what runs. */
  purpose?: string;
}

export interface WriterLockHolder {
  pid: number;
  /** What the holder said it does (application_name), when it is lmnr-keys. */
  purpose: string | null;
  /** The holder's application_name, whatever it is (a session that is not lmnr-keys may hold the lock). */
  applicationName: string | null;
  since: string | null;
}

/** The lmnr-keys writer holding the lock right now, if any (for doctor: values mid-rotation look broken). */
export async function findWriterLockHolder(db: LaminarDb): Promise<WriterLockHolder | null> {
  // Advisory locks belong to one database, but pg_locks lists the whole server's: without the
  // database filter, a rotation of staging would show up in production's doctor on a shared server.
  const holder = await sql<{ pid: number; application_name: string | null; since: string | null }>`
    select l.pid, a.application_name, a.xact_start::text as since from pg_locks l
    left join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.classid = ${LOCK_CLASS_ID} and l.objid = ${LOCK_OBJECT_ID} and l.objsubid = 2 and l.granted
      and l.database = (select oid from pg_database where datname = current_database())
    limit 1`.execute(db);
  const row = holder.rows[0];
  if (!row) return null;
  return {
    pid: row.pid,
    purpose: row.application_name?.startsWith('lmnr-keys') ? row.application_name : null,
    applicationName: row.application_name,
    since: row.since,
  };
}

/** Runs `work` on one dedicated connection that holds the writer lock. */
export async function withWriterLock<T>(db: LaminarDb, options: LockOptions, work: (conn: LaminarDb) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    if (options.wait) {
      await sql`select set_config('lock_timeout', ${`${options.timeoutMs}ms`}, false)`.execute(conn);
      try {
        await sql`select pg_advisory_lock(${LOCK_CLASS_ID}, ${LOCK_OBJECT_ID})`.execute(conn);
      } catch (error) {
        if ((error as { code?: string }).code === '55P03') {
          throw new DatabaseError(
            `another lmnr-keys writer still held the lock after ${options.timeoutMs} ms`,
            "wait for it to finish (see pg_stat_activity where application_name = 'lmnr-keys'), or raise --lock-timeout",
            { cause: error, pgCode: '55P03' },
          );
        }
        throw error;
      } finally {
        await sql`select set_config('lock_timeout', '0', false)`.execute(conn).catch(() => {});
      }
    } else {
      const result = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${LOCK_CLASS_ID}, ${LOCK_OBJECT_ID}) as locked`.execute(
        conn,
      );
      if (!result.rows[0]?.locked) {
        const holder = await findWriterLockHolder(conn);
        if (holder && holder.purpose === null)
          // The same advisory lock taken by something that is not lmnr-keys (a script, a stuck psql).
          throw new DatabaseError(
            `the lmnr-keys writer lock is held by backend pid ${holder.pid} (application_name ${JSON.stringify(printable(holder.applicationName ?? ''))}), which is not lmnr-keys`,
            `find it with SELECT * FROM pg_stat_activity WHERE pid = ${holder.pid}; end it with pg_terminate_backend(${holder.pid}) if it is stuck, or pass --wait`,
          );
        const who = holder ? ` (backend pid ${holder.pid}${holder.purpose ? `, ${holder.purpose}` : ''})` : '';
        throw new DatabaseError(
          `another lmnr-keys rotation or repair is running against this database${who}`,
          'wait for it to finish, or pass --wait to queue behind it',
        );
      }
    }
    if (options.purpose) await sql`select set_config('application_name', ${options.purpose.slice(0, 60)}, false)`.execute(conn);
    try {
      return await work(conn);
    } finally {
      await sql`select pg_advisory_unlock(${LOCK_CLASS_ID}, ${LOCK_OBJECT_ID})`.execute(conn).catch(() => {});
    }
  });
}
