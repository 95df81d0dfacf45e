/**
 * doctor: tries every stored secret with the current keys and explains every failure.
 * Read-only by construction: everything runs in one READ ONLY, REPEATABLE READ transaction,
 * so the counts describe one consistent snapshot even while Laminar keeps writing.
 */
import { sql } from 'kysely';
import type { LaminarDb } from '../db/connect.js';
import type { SecretCheck, SecretKey } from '../crypto/keys.js';
import { assertRowsVisible, checkStorePresence, lookUpNames, readRows, scanStore, type SealedRow, type StorePresence } from '../stores/scan.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { diagnoseValue, type ValueStatus } from './diagnose.js';
import { findEmptiedValues } from '../stores/taken-out.js';
import { findWriterLockHolder, type WriterLockHolder } from '../db/lock.js';
import { judgeDoctor, type DoctorVerdict } from './doctor-verdict.js';
import { keyRingFor, type LaminarSecrets } from './keyring.js';

export interface SecretReport {
  name: string;
  status: SecretCheck['status'];
  fingerprint: string | null;
  problem: string | null;
}

export interface StoreReport {
  store: StoreName;
  present: boolean;
  total: number;
  ok: number;
  failing: number;
  /** Why the store was skipped; null when present. */
  reason?: string | null;
}

export interface Finding {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  workspaceName: string | null;
  projectId: string | null;
  projectName: string | null;
  name: string;
  status: Exclude<ValueStatus, 'ok'>;
  decryptsWith: string | null;
  detail: string | null;
}

export interface DuplicateWarning {
  kind: 'duplicate_name';
  projectId: string;
  projectName: string | null;
  workspaceId: string | null;
  name: string;
  ids: string[];
  /** Which of the duplicates open under the current key. */
  openingIds: string[];
  detail: string;
}

/** A value quarantine emptied where Laminar needs someone to act (a note: never fails a run). */
export interface TakenOutNote {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  workspaceName: string | null;
  detail: string;
}

export interface DoctorReport {
  secrets: SecretReport[];
  stores: StoreReport[];
  summary: { total: number; ok: number; failing: number };
  findings: Finding[];
  warnings: DuplicateWarning[];
  takenOut: TakenOutNote[];
  /** An lmnr-keys writer (a rotation...) holding the lock while doctor read: its values are mid-change. */
  writer: WriterLockHolder | null;
  verdict: DoctorVerdict;
}

export interface DoctorProgress {
  store: StoreName;
  scanned: number;
  failing: number;
}

export interface DoctorDeps {
  db: LaminarDb;
  onProgress?: (progress: DoctorProgress) => void;
}

export interface DoctorOptions {
  secrets: LaminarSecrets;
  candidates: SecretKey[];
  batchSize: number;
  /** With --strict, the public default key and duplicate names count as problems too. */
  strict: boolean;
}

export function toSecretReport(check: SecretCheck): SecretReport {
  return { name: check.name, status: check.status, fingerprint: check.fingerprint, problem: check.problem };
}

export async function runDoctor(deps: DoctorDeps, options: DoctorOptions): Promise<DoctorReport> {
  return deps.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const stores: StoreReport[] = [];
      const rawFindings: Array<Omit<Finding, 'workspaceName' | 'projectName'>> = [];
      const providerStore = STORES.find((store) => store.name === 'provider_api_keys')!;
      const presences = new Map<StoreName, StorePresence>();
      for (const store of STORES) presences.set(store.name, await checkStorePresence(trx, store));
      await assertRowsVisible(trx, [...new Set(STORES.filter((s) => presences.get(s.name)!.present).map((s) => s.table))]);
      // The duplicate-name aggregate reads the whole table once; run it on a second connection
      // in the very same snapshot, overlapping the scan instead of following it.
      const duplicateGroups = presences.get(providerStore.name)!.present
        ? findDuplicateGroupsInSnapshot(deps.db, await exportSnapshot(trx))
        : Promise.resolve([]);
      duplicateGroups.catch(() => {});
      for (const store of STORES) {
        const presence = presences.get(store.name)!;
        if (!presence.present) {
          stores.push({ store: store.name, present: false, total: 0, ok: 0, failing: 0, reason: presence.reason });
          continue;
        }
        const ring = keyRingFor(store, options.secrets, options.candidates);
        const report: StoreReport = { store: store.name, present: true, total: 0, ok: 0, failing: 0 };
        for await (const batch of scanStore(trx, store, options.batchSize)) {
          for (const row of batch) {
            const diagnosis = diagnoseValue(store, row, ring);
            if (diagnosis.status === 'unset') continue;
            report.total += 1;
            if (diagnosis.status === 'ok') {
              report.ok += 1;
              continue;
            }
            report.failing += 1;
            rawFindings.push({
              store: store.name,
              id: row.id,
              workspaceId: row.workspaceId,
              projectId: row.projectId,
              name: row.name,
              status: diagnosis.status,
              decryptsWith: diagnosis.decryptsWith,
              detail: diagnosis.detail,
            });
          }
          deps.onProgress?.({ store: store.name, scanned: report.total, failing: report.failing });
        }
        stores.push(report);
      }

      const duplicates = await describeDuplicates(trx, providerStore, await duplicateGroups, options);
      const emptied: Array<Omit<TakenOutNote, 'workspaceName'>> = [];
      for (const store of STORES.filter((s) => s.whenTakenOut !== null && presences.get(s.name)!.present)) {
        for (const value of await findEmptiedValues(trx, store)) emptied.push({ store: store.name, ...value, detail: store.whenTakenOut! });
      }

      const names = await lookUpNames(
        trx,
        [...new Set([...rawFindings, ...duplicates].flatMap((f) => (f.projectId ? [f.projectId] : [])))],
        [...new Set([...rawFindings, ...emptied].flatMap((f) => (f.workspaceId ? [f.workspaceId] : [])))],
      );
      const findings: Finding[] = rawFindings.map((finding) => {
        const project = finding.projectId ? names.projects.get(finding.projectId) : undefined;
        const workspaceId = finding.workspaceId ?? project?.workspaceId ?? null;
        return {
          ...finding,
          workspaceId,
          workspaceName: workspaceId ? names.workspaces.get(workspaceId) ?? null : null,
          projectName: project?.name ?? null,
        };
      });
      const warnings = duplicates.map((warning) => {
        const project = names.projects.get(warning.projectId);
        return { ...warning, projectName: project?.name ?? null, workspaceId: project?.workspaceId ?? null };
      });

      const summary = stores.reduce(
        (sum, store) => ({ total: sum.total + store.total, ok: sum.ok + store.ok, failing: sum.failing + store.failing }),
        { total: 0, ok: 0, failing: 0 },
      );
      const writer = await findWriterLockHolder(trx);
      const partial = {
        secrets: [options.secrets.aead, options.secrets.slack].map(toSecretReport),
        stores,
        summary,
        findings,
        warnings,
        takenOut: emptied.map((note) => ({ ...note, workspaceName: note.workspaceId ? names.workspaces.get(note.workspaceId) ?? null : null })),
      };
      return { ...partial, writer, verdict: judgeDoctor({ ...partial, writer }, options.strict) };
    });
}

interface DuplicateGroup {
  project_id: string;
  name: string;
  ids: string[];
}

async function exportSnapshot(trx: LaminarDb): Promise<string> {
  const result = await sql<{ id: string }>`select pg_export_snapshot() as id`.execute(trx);
  return result.rows[0]!.id;
}

/** Several rows for one (project, name): the playground picks one of them arbitrarily. */
async function findDuplicateGroupsInSnapshot(db: LaminarDb, snapshot: string): Promise<DuplicateGroup[]> {
  // SET TRANSACTION SNAPSHOT takes no parameters; the id comes from Postgres itself, checked anyway.
  if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error('unexpected snapshot id from Postgres');
  return db.connection().execute(async (conn) => {
    await sql`begin transaction isolation level repeatable read read only`.execute(conn);
    try {
      await sql.raw(`set transaction snapshot '${snapshot}'`).execute(conn);
      const groups = await sql<DuplicateGroup>`
        select project_id::text as project_id, name, array_agg(id::text order by id) as ids
        from provider_api_keys group by project_id, name having count(*) > 1
        order by project_id, name`.execute(conn);
      return groups.rows;
    } finally {
      await sql`rollback`.execute(conn).catch(() => {});
    }
  });
}

async function describeDuplicates(db: LaminarDb, store: StoreDefinition, groups: DuplicateGroup[], options: DoctorOptions): Promise<DuplicateWarning[]> {
  if (groups.length === 0) return [];
  const ring = keyRingFor(store, options.secrets, options.candidates);
  const rows = await readRows(db, store, groups.flatMap((group) => group.ids));
  const opens = new Set(rows.filter((row: SealedRow) => diagnoseValue(store, row, ring).status === 'ok').map((row) => row.id));
  return groups.map((group) => {
    const openingIds = group.ids.filter((id) => opens.has(id));
    return {
      kind: 'duplicate_name' as const,
      projectId: group.project_id,
      projectName: null,
      workspaceId: null,
      name: group.name,
      ids: group.ids,
      openingIds,
      detail:
        `${group.ids.length} rows for ${group.name} in one project; the playground picks one arbitrarily. ` +
        `${openingIds.length} of them open under the current key. ` +
        (openingIds.length > 0
          ? `Keep one that opens and remove the others: \`lmnr-keys set --project ${group.project_id} --name ${group.name} --keep ${openingIds[0]}\`.`
          : `None opens: seal a fresh value in their place with \`lmnr-keys set --project ${group.project_id} --name ${group.name}\`.`),
    };
  });
}
