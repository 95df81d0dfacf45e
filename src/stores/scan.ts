/**
 * Reads sealed values store by store in keyset-ordered batches, so memory stays flat however
 * many rows there are. Works on a Kysely instance or a transaction.
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import { DatabaseError } from '../errors.js';
import type { StoreDefinition, StoreName } from './stores.js';

/** One stored value with what identifies it. Ciphertext and nonce exactly as stored. */
export interface SealedRow {
  id: string;
  ciphertextHex: string | null;
  nonceHex: string | null;
  aad: string;
  projectId: string | null;
  workspaceId: string | null;
  name: string;
}

/** Where a stored value lives, as every report names it (doctor's findings, rotate's stuck list, quarantine's targets). */
export interface ValuePlace {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  projectId: string | null;
  name: string;
}

/** The place of `row` in `store`, its fields in the order reports write them. */
export function placeOfValue(store: StoreDefinition, row: Pick<SealedRow, 'id' | 'workspaceId' | 'projectId' | 'name'>): ValuePlace {
  return { store: store.name, id: row.id, workspaceId: row.workspaceId, projectId: row.projectId, name: row.name };
}

type Db = Kysely<LaminarDatabase>;

export interface StorePresence {
  present: boolean;
  /** Why a store is absent: no table, or the table lacks the columns (older Laminar). */
  reason: string | null;
}

/** A store is present when its table and every column it needs exist (on the search_path). */
export async function checkStorePresence(db: Db, store: StoreDefinition): Promise<StorePresence> {
  const result = await sql<{ attname: string }>`
    select attname from pg_attribute
    where attrelid = to_regclass(${store.table}) and attnum > 0 and not attisdropped`.execute(db);
  if (result.rows.length === 0) return { present: false, reason: `table ${store.table} does not exist` };
  const columns = new Set(result.rows.map((row) => row.attname));
  const needed = [
    store.idColumn,
    store.ciphertextColumn,
    store.nonceColumn,
    store.aadColumn,
    store.projectIdColumn,
    store.workspaceIdColumn,
    store.nameColumn,
  ];
  const missing = needed.filter((column): column is string => column !== null && !columns.has(column));
  if (missing.length > 0) return { present: false, reason: `table ${store.table} has no column ${missing.join(', ')}` };
  return { present: true, reason: null };
}

/**
 * Columns of table alias `t`, aliased straight to SealedRow's field names so pg's row objects
 * are yielded as they are (no copy per row). Always qualified: the output aliases (id as text)
 * must never capture ORDER BY or WHERE.
 */
function selectList(store: StoreDefinition) {
  const column = (name: string | null) => (name === null ? sql<null>`null` : sql.ref(`t.${name}`));
  const name = store.fixedName !== null ? sql`${store.fixedName}::text` : sql`coalesce(${column(store.nameColumn)}::text, '')`;
  return sql`t.${sql.ref(store.idColumn)}::text as id,
    t.${sql.ref(store.ciphertextColumn)} as "ciphertextHex",
    t.${sql.ref(store.nonceColumn)} as "nonceHex",
    coalesce(t.${sql.ref(store.aadColumn)}::text, '') as aad,
    ${column(store.projectIdColumn)}::text as "projectId",
    ${column(store.workspaceIdColumn)}::text as "workspaceId",
    ${name} as name`;
}

/**
 * Yields batches in primary-key order. Keyset pagination (id > last) rather than OFFSET keeps
 * every page an index range scan. The next page is requested before the current one is
 * yielded, so Postgres reads it while the caller decrypts: IO and CPU overlap.
 */
export async function* scanStore(db: Db, store: StoreDefinition, batchSize: number): AsyncGenerator<SealedRow[]> {
  const fetchPage = (after: string | null) => {
    const where = after === null ? sql`true` : sql`t.${sql.ref(store.idColumn)} > ${after}::uuid`;
    // Ordered by the uuid column itself (an index range scan), not by the text alias.
    const page = sql<SealedRow>`
      select ${selectList(store)} from ${sql.table(store.table)} as t
      where ${where}
      order by t.${sql.ref(store.idColumn)}
      limit ${batchSize}`.execute(db);
    // Awaited below; this only keeps a page abandoned by an early `break` from being an unhandled rejection.
    page.catch(() => {});
    return page;
  };
  let pending = fetchPage(null);
  for (;;) {
    const result = await pending;
    const full = result.rows.length === batchSize;
    if (full) {
      pending = fetchPage(result.rows[result.rows.length - 1]!.id);
      // Let the query reach the socket before the caller's synchronous decrypting starts.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (result.rows.length > 0) yield result.rows;
    if (!full) return;
  }
}

/** Reads specific rows by id (for re-planning and read-back). */
export async function readRows(db: Db, store: StoreDefinition, ids: readonly string[]): Promise<SealedRow[]> {
  if (ids.length === 0) return [];
  const result = await sql<SealedRow>`
    select ${selectList(store)} from ${sql.table(store.table)} as t
    where t.${sql.ref(store.idColumn)} = any(${ids as string[]}::uuid[])
    order by t.${sql.ref(store.idColumn)}`.execute(db);
  return result.rows;
}

export async function countRows(db: Db, store: StoreDefinition): Promise<number> {
  const result = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(store.table)}`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

/** Names for the projects and workspaces findings refer to (only failing rows get looked up). */
export interface NameDirectory {
  projects: Map<string, { name: string; workspaceId: string | null }>;
  workspaces: Map<string, string>;
}

export async function lookUpNames(db: Db, projectIds: string[], workspaceIds: string[]): Promise<NameDirectory> {
  const projects = new Map<string, { name: string; workspaceId: string | null }>();
  const workspaces = new Map<string, string>();
  const projectTable = await sql<{ ok: boolean }>`select to_regclass('projects') is not null as ok`.execute(db);
  if (projectIds.length > 0 && projectTable.rows[0]?.ok) {
    const rows = await sql<{ id: string; name: string; workspace_id: string | null }>`
      select id::text as id, name, workspace_id::text as workspace_id from projects where id = any(${projectIds}::uuid[])`.execute(db);
    for (const row of rows.rows) projects.set(row.id, { name: row.name, workspaceId: row.workspace_id });
  }
  const allWorkspaceIds = [...new Set([...workspaceIds, ...[...projects.values()].flatMap((p) => (p.workspaceId ? [p.workspaceId] : []))])];
  const workspaceTable = await sql<{ ok: boolean }>`select to_regclass('workspaces') is not null as ok`.execute(db);
  if (allWorkspaceIds.length > 0 && workspaceTable.rows[0]?.ok) {
    const rows = await sql<{ id: string; name: string }>`
      select id::text as id, name from workspaces where id = any(${allWorkspaceIds}::uuid[])`.execute(db);
    for (const row of rows.rows) workspaces.set(row.id, row.name);
  }
  return { projects, workspaces };
}

/**
 * Laminar's migrations enable row-level security on none of the tables read here (only on
 * agent_chats, api_keys, evaluation_results, evaluations, traces and users), but an operator may
 * enable it. Then any role that neither owns the table nor has BYPASSRLS silently sees no rows,
 * and a doctor run would report a healthy, empty database: refuse that instead.
 */
export async function assertRowsVisible(db: Db, tables: readonly string[]): Promise<void> {
  const result = await sql<{ table: string; role: string }>`
    select c.relname as "table", current_user::text as role
    from pg_class c, pg_roles me
    where c.oid = any(array(select to_regclass(t) from unnest(${[...tables]}::text[]) t))
      and me.rolname = current_user
      and c.relrowsecurity
      and not me.rolsuper and not me.rolbypassrls
      and (c.relowner <> me.oid or c.relforcerowsecurity)`.execute(db);
  if (result.rows.length === 0) return;
  const { role } = result.rows[0]!;
  throw new DatabaseError(
    `row-level security on ${result.rows.map((r) => r.table).join(', ')} would ` +
      `hide rows from role ${role}: the results would be incomplete`,
    `connect as the tables' owner (the user Laminar runs its migrations as), or let this role bypass it: ALTER ROLE ${role} BYPASSRLS;`,
  );
}

/** How many values a store holds (both sealed columns set) and their stored sizes, in one scan: what a backup of them takes. */
export interface SealedSizes {
  values: number;
  ciphertextBytes: number;
  nonceBytes: number;
}

/**
 * From the planner's statistics when the table has been analysed (autovacuum does it; an
 * instant look-up; rows as the larger of the planner's count and the live rows the statistics
 * collector counts, which follows every insert), else by reading the table (a second for a million rows: the room check runs
 * before every write, and rotate is measured against a bare UPDATE). An estimate either way.
 */
export async function measureSealedValues(db: Db, store: StoreDefinition): Promise<SealedSizes> {
  const stats = await sql<{ rows: number | null; ct: number | null; ct_nulls: number | null; nonce: number | null }>`
    select greatest(c.reltuples, coalesce(st.n_live_tup, 0))::float8 as rows, sc.avg_width::float8 as ct,
           sc.null_frac::float8 as ct_nulls, sn.avg_width::float8 as nonce
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_stat_user_tables st on st.relid = c.oid
    left join pg_stats sc on sc.schemaname = n.nspname and sc.tablename = c.relname and sc.attname = ${store.ciphertextColumn}
    left join pg_stats sn on sn.schemaname = n.nspname and sn.tablename = c.relname and sn.attname = ${store.nonceColumn}
    where c.oid = to_regclass(${store.table})`.execute(db);
  const row = stats.rows[0];
  if (row && row.rows !== null && row.rows >= 0 && row.ct !== null && row.nonce !== null) {
    const values = Math.round(row.rows * (1 - (row.ct_nulls ?? 0)));
    return { values, ciphertextBytes: Math.round(values * row.ct), nonceBytes: Math.round(values * row.nonce) };
  }
  return countSealedValues(db, store);
}

/** The exact counts, by reading the table. */
export async function countSealedValues(db: Db, store: StoreDefinition): Promise<SealedSizes> {
  const ct = sql.ref(`t.${store.ciphertextColumn}`);
  const nonce = sql.ref(`t.${store.nonceColumn}`);
  const result = await sql<{ values: string; ct: string; nonce: string }>`
    select count(*)::text as values, coalesce(sum(octet_length(${ct})), 0)::text as ct, coalesce(sum(octet_length(${nonce})), 0)::text as nonce
    from ${sql.table(store.table)} as t where ${ct} is not null and ${ct} <> ''`.execute(db);
  const row = result.rows[0];
  return { values: Number(row?.values ?? 0), ciphertextBytes: Number(row?.ct ?? 0), nonceBytes: Number(row?.nonce ?? 0) };
}
