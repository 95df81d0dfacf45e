import { describeTarget, type DatabaseTarget } from '../config/database-target.js';

/**
 * "Postgres at 127.0.0.1:5433/postgres as lmnr (DATABASE_URL from .env)": where a command reads
 * or writes, and why there. (Capitalised: a password that is the word "postgres", the compose
 * default, is redacted wherever it stands; the user name is, too, when it is the password.)
 */
export function describeTargetFully(target: DatabaseTarget): string {
  return `Postgres at ${describeTarget(target)} as ${target.user} (${target.source})`;
}

/** The database a document describes, as JSON (never the password). */
export function targetDocument(target: DatabaseTarget) {
  return { host: target.host, port: target.port, database: target.database, user: target.user, source: target.source };
}
