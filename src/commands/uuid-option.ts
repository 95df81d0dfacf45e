import { UsageError } from '../errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are checked before Postgres sees them: a raw 22P02 is no answer at 3 a.m. */
export function requireUuid(value: string, flag: string, hint: string): string {
  if (!UUID.test(value)) throw new UsageError(`${flag} must be an id (a uuid like 5f0c2d1e-...); got ${value.length} characters`, hint);
  return value.toLowerCase();
}
