import { describeTarget, type DatabaseTarget } from '../config/database-target.js';

/** "postgres 127.0.0.1:5433/postgres as lmnr (DATABASE_URL from .env)": where a command reads or writes, and why there. */
export function describeTargetFully(target: DatabaseTarget): string {
  return `postgres ${describeTarget(target)} as ${target.user} (${target.source})`;
}
