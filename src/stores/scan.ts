/**
 * Reads sealed values store by store in keyset-ordered batches, so memory stays flat however
 * many rows there are. Works on a Kysely instance or a transaction.
 */
import { sql, type Kysely } from 'kysely';
import type { LaminarDatabase } from '../db/schema.js';
import type { StoreDefinition } from './stores.js';

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
  const needed = [store.idColumn, store.ciphertextColumn, store.nonceColumn, store.aadColumn, store.projectIdColumn, store.workspaceIdColumn, store.nameColumn];
  const missing = needed.filter((column): column is string => column !== null && !columns.has(column));
  if (missing.length > 0) return { present: false, reason: `table ${store.table} has no column ${missing.join(', ')}` };
  return { present: true, reason: null };
}

interface RawRow {
  id: string;
  ciphertext: string | null;
  nonce: string | null;
  aad: string | null;
  project_id: string | null;
  workspace_id: string | null;
  name: string | null;
}

function selectList(store: StoreDefinition) {
  const column = (name: string | null) => (name === null ? sql<null>`null` : sql.ref(name));
  return sql`${sql.ref(store.idColumn)}::text as id,
    ${sql.ref(store.ciphertextColumn)} as ciphertext,
    ${sql.ref(store.nonceColumn)} as nonce,
    ${sql.ref(store.aadColumn)}::text as aad,
    ${column(store.projectIdColumn)}::text as project_id,
    ${column(store.workspaceIdColumn)}::text as workspace_id,
    ${column(store.nameColumn)}::text as name`;
}

function toSealedRow(store: StoreDefinition, row: RawRow): SealedRow {
  return {
    id: row.id,
    ciphertextHex: row.ciphertext,
    nonceHex: row.nonce,
    aad: row.aad ?? '',
    projectId: row.project_id,
    workspaceId: row.workspace_id,
    name: store.fixedName ?? row.name ?? '',
  };
}

/**
 * Yields batches in primary-key order. Keyset pagination (id > last) rather than OFFSET keeps
 * every page an index range scan; ids compare in their native type.
 */
export async function* scanStore(db: Db, store: StoreDefinition, batchSize: number): AsyncGenerator<SealedRow[]> {
  let after: string | null = null;
  for (;;) {
    const where = after === null ? sql`true` : sql`${sql.ref(store.idColumn)} > ${after}::uuid`;
    const result: { rows: RawRow[] } = await sql<RawRow>`
      select ${selectList(store)} from ${sql.table(store.table)}
      where ${where}
      order by ${sql.ref(store.idColumn)}
      limit ${batchSize}`.execute(db);
    if (result.rows.length === 0) return;
    yield result.rows.map((row) => toSealedRow(store, row));
    if (result.rows.length < batchSize) return;
    after = result.rows[result.rows.length - 1]!.id;
  }
}

/** Reads specific rows by id (for re-planning and read-back). */
export async function readRows(db: Db, store: StoreDefinition, ids: readonly string[]): Promise<SealedRow[]> {
  if (ids.length === 0) return [];
  const result = await sql<RawRow>`
    select ${selectList(store)} from ${sql.table(store.table)}
    where ${sql.ref(store.idColumn)} = any(${ids as string[]}::uuid[])
    order by ${sql.ref(store.idColumn)}`.execute(db);
  return result.rows.map((row) => toSealedRow(store, row));
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

/** provider_api_keys with each project's workspace, optionally for some projects only (verify-provider). */
export async function readProviderKeys(db: Db, projectIds: string[] | null, batchSize = 5000): Promise<SealedRow[]> {
  const rows: SealedRow[] = [];
  let after: string | null = null;
  const hasProjects = (await sql<{ ok: boolean }>`select to_regclass('projects') is not null as ok`.execute(db)).rows[0]?.ok ?? false;
  for (;;) {
    const filters = [
      after === null ? sql`true` : sql`k.id > ${after}::uuid`,
      projectIds === null ? sql`true` : sql`k.project_id = any(${projectIds}::uuid[])`,
    ];
    const workspace = hasProjects ? sql`(select p.workspace_id::text from projects p where p.id = k.project_id)` : sql`null::text`;
    const result: { rows: RawRow[] } = await sql<RawRow>`
      select k.id::text as id, k.value as ciphertext, k.nonce_hex as nonce, k.name as aad, k.project_id::text as project_id,
             ${workspace} as workspace_id, k.name as name
      from provider_api_keys k where ${sql.join(filters, sql` and `)} order by k.id limit ${batchSize}`.execute(db);
    for (const row of result.rows) {
      rows.push({ id: row.id, ciphertextHex: row.ciphertext, nonceHex: row.nonce, aad: row.aad ?? '', projectId: row.project_id, workspaceId: row.workspace_id, name: row.name ?? '' });
    }
    if (result.rows.length < batchSize) return rows;
    after = result.rows[result.rows.length - 1]!.id;
  }
}
