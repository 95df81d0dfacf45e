import type { DatabaseTarget } from '../config/database-target.js';
import { usingDatabase, type LaminarDb, type OpenOptions } from '../db/connect.js';
import { assertLaminarDatabase } from '../stores/laminar-database.js';

/** Opens the database, refuses one that is not Laminar's (exit 3), runs, and always closes. */
export function usingLaminarDatabase<T>(target: DatabaseTarget, run: (db: LaminarDb) => Promise<T>, options: OpenOptions = {}): Promise<T> {
  return usingDatabase(target, options, async ({ db }) => {
    await assertLaminarDatabase(db, target.database, target.schema ?? null);
    return run(db);
  });
}
