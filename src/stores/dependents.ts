/**
 * Rows elsewhere that reference rows of a store's table, found from the live catalogue rather
 * than from what we believe Laminar's schema to be. Any delete lmnr-keys makes is refused when
 * such rows exist: a cascade would silently take rows that no backup holds (Laminar's real
 * slack_channel_projects -> slack_integrations ON DELETE CASCADE is the case that taught us).
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

type Db = Kysely<LaminarDatabase>;

export interface DependentRows {
  /** The referencing table and column, e.g. slack_channel_projects.integration_id. */
  table: string;
  column: string;
  /** What deleting the referenced row would do to them: cascade, set null, or refuse. */
  onDelete: 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action';
  rows: number;
}

export interface ReferencingKey {
  table: string;
  column: string | null;
  on_delete: string;
}

const ON_DELETE: Record<string, DependentRows['onDelete']> = {
  c: 'cascade',
  n: 'set null',
  d: 'set default',
  r: 'restrict',
  a: 'no action',
};

/** Foreign keys that reference the store's id column (single-column keys name their column; others have none). */
export async function referencingKeys(db: Db, store: StoreDefinition): Promise<ReferencingKey[]> {
  const result = await sql<ReferencingKey>`
    select c.conrelid::regclass::text as "table",
           case when array_length(c.conkey, 1) = 1
             then (select a.attname from pg_attribute a where a.attrelid = c.conrelid and a.attnum = c.conkey[1])
           end as "column",
           c.confdeltype::text as on_delete
    from pg_constraint c
    where c.contype = 'f' and c.confrelid = to_regclass(${store.table})
    order by 1, 2`.execute(db);
  return result.rows;
}

/** Counts, per referencing key, the rows that reference any of `ids`. Empty when nothing does. */
export async function findDependentRows(db: Db, store: StoreDefinition, ids: readonly string[]): Promise<DependentRows[]> {
  if (ids.length === 0) return [];
  const found: DependentRows[] = [];
  for (const key of await referencingKeys(db, store)) {
    const onDelete = ON_DELETE[key.on_delete] ?? 'no action';
    if (key.column === null) {
      // A multi-column key onto this table: we cannot count precisely, so assume the worst.
      found.push({ table: key.table, column: '(several columns)', onDelete, rows: Number.NaN });
      continue;
    }
    const count = await sql<{ n: string }>`
      select count(*)::text as n from ${sql.raw(key.table)} where ${sql.ref(key.column)}::text = any(${[...ids]}::text[])`.execute(db);
    const rows = Number(count.rows[0]?.n ?? 0);
    if (rows > 0) found.push({ table: key.table, column: key.column, onDelete, rows });
  }
  return found;
}

export function describeDependents(dependents: DependentRows[]): string {
  return dependents
    .map(
      (d) =>
        `${Number.isNaN(d.rows) ? 'rows' : `${d.rows} row${d.rows === 1 ? '' : 's'}`} ` +
        `of ${d.table} (${d.column}, ON DELETE ${d.onDelete.toUpperCase()})`,
    )
    .join(', ');
}
