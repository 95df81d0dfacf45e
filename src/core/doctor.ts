/**
 * doctor: tries every stored secret with the current keys and explains every failure.
 * Read-only by construction: everything runs in one READ ONLY, REPEATABLE READ transaction,
 * so the counts describe one consistent snapshot even while Laminar keeps writing.
 */
import { sql } from 'kysely';
import type { LaminarDb } from '../db/connect.js';
import type { CopyTuple } from '../db/copy.js';
import type { SecretCheck, SecretKey } from '../crypto/keys.js';
import { sharedOpener, type SealedValueOpener } from '../crypto/opener.js';
import { describeDuplicate } from './advice.js';
import {
  copyStore,
  decodedExactly,
  FIELD,
  INVALID_HEX_SQLSTATE,
  sealedRowFromTuple,
  tupleId,
  type SealedEncoding,
} from '../stores/copy-reader.js';
import { assertRowsVisible, checkStorePresence, lookUpNames, readRows, type SealedRow, type StorePresence } from '../stores/scan.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { diagnoseValue, type KeyRing, type ValueStatus } from './diagnose.js';
import { DuplicateCandidates } from './duplicates.js';
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
  /** Which open only under another known key (--candidate, the public default): a rotation brings them back. */
  recoverableIds: string[];
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
  /**
   * How sealed values are read: decoded by Postgres when it can ('bytes', the default; a store
   * holding a value that is not hex is read again as text), or always as text ('hex'). Both
   * give the same report (test/integration/copy.test.ts).
   */
  readSealedAs?: SealedEncoding;
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
      // Duplicate names are spotted during the scan and confirmed in SQL afterwards (duplicates.ts).
      let duplicateCandidates = new DuplicateCandidates();
      for (const store of STORES) {
        const presence = presences.get(store.name)!;
        if (!presence.present) {
          stores.push({ store: store.name, present: false, total: 0, ok: 0, failing: 0, reason: presence.reason });
          continue;
        }
        const ring = keyRingFor(store, options.secrets, options.candidates);
        const scanned = await diagnoseStore(trx, store, ring, store === providerStore, deps, options);
        stores.push(scanned.report);
        for (const finding of scanned.findings) rawFindings.push(finding);
        if (scanned.candidates) duplicateCandidates = scanned.candidates;
      }

      const duplicateGroups = presences.get(providerStore.name)!.present ? await findDuplicateGroups(trx, duplicateCandidates) : [];
      const duplicates = await describeDuplicates(trx, providerStore, duplicateGroups, options);
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
          workspaceName: workspaceId ? (names.workspaces.get(workspaceId) ?? null) : null,
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
        takenOut: emptied.map((note) => ({
          ...note,
          workspaceName: note.workspaceId ? (names.workspaces.get(note.workspaceId) ?? null) : null,
        })),
      };
      return { ...partial, writer, verdict: judgeDoctor({ ...partial, writer }, options.strict) };
    });
}

type RawFinding = Omit<Finding, 'workspaceName' | 'projectName'>;

/**
 * One store, one COPY, classified tuple by tuple as the bytes arrive, in the transaction's
 * snapshot. Values that open under the current key to UTF-8 are counted straight from pg's
 * buffer; every other value takes diagnoseValue's path, which explains it. Read as 'bytes'
 * inside a savepoint first; a value decode() refuses sends the store back to be read as text.
 */
async function diagnoseStore(
  trx: LaminarDb,
  store: StoreDefinition,
  ring: KeyRing,
  watchDuplicates: boolean,
  deps: DoctorDeps,
  options: DoctorOptions,
) {
  const encodings: SealedEncoding[] = options.readSealedAs === 'hex' ? ['hex'] : ['bytes', 'hex'];
  for (const encoding of encodings) {
    const report: StoreReport = { store: store.name, present: true, total: 0, ok: 0, failing: 0 };
    const findings: RawFinding[] = [];
    const candidates = watchDuplicates ? new DuplicateCandidates(encoding) : null;
    const rereadIds: string[] = [];
    const opener = sharedOpener();
    const classify = (row: SealedRow) => {
      const diagnosis = diagnoseValue(store, row, ring);
      if (diagnosis.status === 'unset') return;
      report.total += 1;
      if (diagnosis.status === 'ok') {
        report.ok += 1;
        return;
      }
      report.failing += 1;
      findings.push({
        store: store.name,
        id: row.id,
        workspaceId: row.workspaceId,
        projectId: row.projectId,
        name: row.name,
        status: diagnosis.status,
        decryptsWith: diagnosis.decryptsWith,
        detail: diagnosis.detail,
      });
    };
    let sinceProgress = 0;
    const onTuple = (tuple: CopyTuple) => {
      candidates?.add(tuple);
      if (ring.current !== null && opensToUtf8(opener, tuple, encoding)) {
        report.total += 1;
        report.ok += 1;
      } else if (encoding === 'bytes' && !decodedExactly(tuple)) {
        // decode() skipped whitespace: only the stored text can be judged (below).
        rereadIds.push(tupleId(tuple, encoding));
      } else {
        classify(sealedRowFromTuple(store, tuple, encoding));
      }
      if (++sinceProgress >= options.batchSize) {
        sinceProgress = 0;
        deps.onProgress?.({ store: store.name, scanned: report.total, failing: report.failing });
      }
    };
    if (ring.current !== null) opener.holdKey(ring.current.bytes);
    try {
      if (encoding === 'bytes') {
        await sql`savepoint lmnr_keys_scan`.execute(trx);
        try {
          await copyStore(trx, store, {}, onTuple, 'bytes');
        } catch (error) {
          if ((error as { code?: unknown }).code !== INVALID_HEX_SQLSTATE) throw error;
          await sql`rollback to savepoint lmnr_keys_scan`.execute(trx);
          continue;
        }
        await sql`release savepoint lmnr_keys_scan`.execute(trx);
      } else {
        await copyStore(trx, store, {}, onTuple, 'hex');
      }
    } finally {
      opener.releaseKey();
    }
    for (let i = 0; i < rereadIds.length; i += 5000)
      for (const row of await readRows(trx, store, rereadIds.slice(i, i + 5000))) classify(row);
    deps.onProgress?.({ store: store.name, scanned: report.total, failing: report.failing });
    // In key order, as a keyset scan reported them (the COPY reads in physical order).
    findings.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { report, findings, candidates };
  }
  throw new Error('unreachable: the text read has no fallback');
}

/**
 * The fast verdict "ok": the stored value decodes to a sealed value, the key the opener holds
 * (holdKey: the current key) opens it with the row's AAD, and the plaintext is UTF-8 — exactly
 * diagnoseValue's "ok" (property-tested in test/unit/copy-paths.test.ts). False means "not
 * decided here", never "failing".
 */
export function opensToUtf8(opener: SealedValueOpener, tuple: CopyTuple, encoding: SealedEncoding = 'hex'): boolean {
  const { buffer, starts, lengths } = tuple;
  const ct = FIELD.ciphertext;
  const nonce = FIELD.nonce;
  const aad = FIELD.aad;
  if (encoding === 'bytes') {
    if (!decodedExactly(tuple)) return false;
    // Ciphertext, nonce and AAD are consecutive fields: one copy into libsodium's heap.
    const consecutive =
      lengths[ct]! >= 0 &&
      lengths[nonce]! >= 0 &&
      starts[nonce] === starts[ct]! + lengths[ct]! + 4 &&
      starts[aad] === starts[nonce]! + lengths[nonce]! + 4;
    if (consecutive) {
      if (!opener.loadTupleFrom(buffer, starts[ct]!, lengths[ct]!, lengths[nonce]!, lengths[aad]!)) return false;
    } else {
      if (!opener.loadBytesFrom(buffer, starts[ct]!, lengths[ct]!, starts[nonce]!, lengths[nonce]!)) return false;
      opener.setAadFrom(buffer, starts[aad]!, lengths[aad]!);
    }
  } else {
    if (!opener.loadHexFrom(buffer, starts[ct]!, lengths[ct]!, starts[nonce]!, lengths[nonce]!)) return false;
    opener.setAadFrom(buffer, starts[aad]!, lengths[aad]!);
  }
  if (!opener.tryHeldKey()) return false;
  return opener.plaintextIsValidUtf8ThenWipe();
}

interface DuplicateGroup {
  project_id: string;
  name: string;
  ids: string[];
}

/**
 * Several rows for one (project, name): the playground picks one of them arbitrarily. Newest
 * first (created_at, there since Laminar's first migration): the hint suggests keeping the newest
 * row that opens, usually the one the user re-added last because the older one broke. Exact,
 * in the transaction's snapshot: for the candidate projects the scan flagged, or for the whole
 * table when there were too many to list.
 */
export async function findDuplicateGroups(trx: LaminarDb, candidates: DuplicateCandidates): Promise<DuplicateGroup[]> {
  if (!candidates.overflow && candidates.projects.size === 0 && !candidates.nullProject) return [];
  const where = candidates.overflow
    ? sql`true`
    : sql`(project_id = any(${[...candidates.projects]}::uuid[]) or (${candidates.nullProject}::boolean and project_id is null))`;
  const groups = await sql<DuplicateGroup>`
    select project_id::text as project_id, name, array_agg(id::text order by created_at desc, id) as ids
    from provider_api_keys where ${where} group by project_id, name having count(*) > 1
    order by project_id, name`.execute(trx);
  return groups.rows;
}

async function describeDuplicates(
  db: LaminarDb,
  store: StoreDefinition,
  groups: DuplicateGroup[],
  options: DoctorOptions,
): Promise<DuplicateWarning[]> {
  if (groups.length === 0) return [];
  const ring = keyRingFor(store, options.secrets, options.candidates);
  const rows = await readRows(
    db,
    store,
    groups.flatMap((group) => group.ids),
  );
  const diagnoses = new Map(rows.map((row: SealedRow) => [row.id, diagnoseValue(store, row, ring)]));
  const idsWhere = (ids: string[], test: (d: ReturnType<typeof diagnoseValue>) => boolean) =>
    ids.filter((id) => {
      const diagnosis = diagnoses.get(id);
      return diagnosis !== undefined && test(diagnosis);
    });
  return groups.map((group) => {
    const openingIds = idsWhere(group.ids, (d) => d.status === 'ok');
    const recoverableIds = idsWhere(group.ids, (d) => d.status === 'wrong_secret' && d.decryptsWith !== null);
    return {
      kind: 'duplicate_name' as const,
      projectId: group.project_id,
      projectName: null,
      workspaceId: null,
      name: group.name,
      ids: group.ids,
      openingIds,
      recoverableIds,
      detail: describeDuplicate({ projectId: group.project_id, name: group.name, ids: group.ids, openingIds, recoverableIds }),
    };
  });
}
