/**
 * doctor: tries every stored secret with the current keys and explains every failure.
 * Read-only by construction: everything runs in one READ ONLY, REPEATABLE READ transaction,
 * so the counts describe one consistent snapshot even while Laminar keeps writing.
 */
import { sql } from 'kysely';
import type { LaminarDb } from '../db/connect.js';
import type { CopyTuple } from '../db/copy.js';
import type { SecretCheck, SecretKey } from '../crypto/keys.js';
import { sharedOpener } from '../crypto/opener.js';
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
import {
  assertRowsVisible,
  checkStorePresence,
  lookUpNames,
  placeOfValue,
  readRows,
  type SealedRow,
  type StorePresence,
} from '../stores/scan.js';
import { STORES, type StoreDefinition, type StoreName } from '../stores/stores.js';
import { diagnoseValue, type KeyRing, type ValueStatus } from './diagnose.js';
import { DuplicateCandidates } from './duplicates.js';
import { findEmptiedValues } from '../stores/taken-out.js';
import { findWriterLockHolder, type WriterLockHolder } from '../db/lock.js';
import { FailureTally, type CauseCount, type PlaceCount } from './failure-tally.js';
import { parseUuid, UuidTable, uuidText } from '../util/uuid-table.js';
import { LOAD_FAILED, NOT_OPENED_BY_HELD_KEY, OPENED_UTF8, openWithHeldKey, placeOfTuple, tryFallbacks } from './tuple-verdict.js';
import { PlaceDirectory } from '../stores/name-directory.js';
import { judgeDoctor, type DoctorVerdict } from './doctor-verdict.js';
import { keyRingFor, type LaminarSecrets } from './keyring.js';
import type { Finding } from './findings.js';

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
  /** Values per status (ok and every failing status), zeros left out. */
  byStatus: Partial<Record<ValueStatus, number>>;
  /** Why the store was skipped; null when present. */
  reason?: string | null;
}

// Declared in findings.ts (advice.ts reads it too, and doctor.ts imports advice.ts); still doctor's to export.
export type { Finding } from './findings.js';

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

/** A place failing values live in, named. */
export interface FailingPlace extends PlaceCount {
  projectName: string | null;
  workspaceName: string | null;
}

/** What is kept of the failing values, however many there are: counts, the largest places, the first values. */
export interface FailureSummary {
  /** Failing values per cause (store, status, the key that opens them), largest first. */
  causes: CauseCount[];
  /** The places with the most failing values (projects; workspaces for workspace-level stores), largest first. */
  places: FailingPlace[];
  /** How many distinct places hold failing values. */
  placeCount: number;
  /** The first failing values in (store, id) order: all of them when there are at most SAMPLE_SIZE. */
  sample: Finding[];
}

export interface DoctorReport {
  secrets: SecretReport[];
  stores: StoreReport[];
  summary: { total: number; ok: number; failing: number };
  failures: FailureSummary;
  warnings: DuplicateWarning[];
  takenOut: TakenOutNote[];
  /** An lmnr-keys writer (a rotation...) holding the lock while doctor read: its values are mid-change. */
  writer: WriterLockHolder | null;
  verdict: DoctorVerdict;
}

/** How many failing values are kept whole: a report lists them all up to this many. */
export const SAMPLE_SIZE = 100;
/** How many places the summary names. */
export const TOP_PLACES = 10;

export interface DoctorProgress {
  store: StoreName;
  scanned: number;
  failing: number;
}

export interface DoctorDeps {
  db: LaminarDb;
  onProgress?: (progress: DoctorProgress) => void;
  /**
   * Every failing value, as it is found, in (store, id) order, named: the stores are then read
   * in id order (Postgres orders them) and the names of every project read first. Without it
   * only the summary is kept.
   */
  onFinding?: (finding: Finding) => void;
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
   * give the same report (test/integration/copy.test.ts). Findings streamed in order are
   * always read as text: a value decode() refuses would stop a stream already under way.
   */
  readSealedAs?: SealedEncoding;
}

export function toSecretReport(check: SecretCheck): SecretReport {
  return { name: check.name, status: check.status, fingerprint: check.fingerprint, problem: check.problem };
}

const storeOrder = (name: StoreName) => STORES.findIndex((store) => store.name === name);

export async function runDoctor(deps: DoctorDeps, options: DoctorOptions): Promise<DoctorReport> {
  return deps.db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const stores: StoreReport[] = [];
      const providerStore = STORES.find((store) => store.name === 'provider_api_keys')!;
      const presences = new Map<StoreName, StorePresence>();
      for (const store of STORES) presences.set(store.name, await checkStorePresence(trx, store));
      await assertRowsVisible(trx, [...new Set(STORES.filter((s) => presences.get(s.name)!.present).map((s) => s.table))]);
      const directory = deps.onFinding ? await PlaceDirectory.load(trx) : null;
      // One table of places for every store's count (the directory's when there is one: places held once).
      const tables = directory
        ? { project: directory.projects, workspace: directory.workspaces }
        : { project: new UuidTable(), workspace: new UuidTable() };
      const tally = new FailureTally<Finding>(SAMPLE_SIZE, storeOrder, tables);
      // Duplicate names are spotted during the scan and confirmed in SQL afterwards (duplicates.ts).
      let duplicateCandidates = new DuplicateCandidates();
      for (const store of STORES) {
        const presence = presences.get(store.name)!;
        if (!presence.present) {
          stores.push({ store: store.name, present: false, total: 0, ok: 0, failing: 0, byStatus: {}, reason: presence.reason });
          continue;
        }
        const ring = keyRingFor(store, options.secrets, options.candidates);
        const scanned = await diagnoseStore(trx, store, ring, store === providerStore, tally, directory, deps, options, tables);
        stores.push(scanned.report);
        if (scanned.candidates) duplicateCandidates = scanned.candidates;
      }

      const duplicateGroups = presences.get(providerStore.name)!.present ? await findDuplicateGroups(trx, duplicateCandidates) : [];
      const duplicates = await describeDuplicates(trx, providerStore, duplicateGroups, options);
      const emptied: Array<Omit<TakenOutNote, 'workspaceName'>> = [];
      for (const store of STORES.filter((s) => s.whenTakenOut !== null && presences.get(s.name)!.present)) {
        for (const value of await findEmptiedValues(trx, store)) emptied.push({ store: store.name, ...value, detail: store.whenTakenOut! });
      }

      // Names only for what the report shows: the sample, the largest places, duplicates, notes.
      const sample = tally.sample();
      const places = tally.topPlaces(TOP_PLACES);
      const names = await lookUpNames(
        trx,
        [...new Set([...sample, ...places, ...duplicates].flatMap((f) => (f.projectId ? [f.projectId] : [])))],
        [...new Set([...sample, ...places, ...emptied].flatMap((f) => (f.workspaceId ? [f.workspaceId] : [])))],
      );
      const nameOf = <T extends { projectId: string | null; workspaceId: string | null }>(item: T) => {
        const project = item.projectId ? names.projects.get(item.projectId) : undefined;
        const workspaceId = item.workspaceId ?? project?.workspaceId ?? null;
        return {
          ...item,
          workspaceId,
          workspaceName: workspaceId ? (names.workspaces.get(workspaceId) ?? null) : null,
          projectName: project?.name ?? null,
        };
      };
      const warnings = duplicates.map((warning) => {
        const project = names.projects.get(warning.projectId);
        return { ...warning, projectName: project?.name ?? null, workspaceId: project?.workspaceId ?? null };
      });

      const summary = stores.reduce(
        (sum, store) => ({ total: sum.total + store.total, ok: sum.ok + store.ok, failing: sum.failing + store.failing }),
        { total: 0, ok: 0, failing: 0 },
      );
      const writer = await findWriterLockHolder(trx);
      const secrets = [options.secrets.aead, options.secrets.slack].map(toSecretReport);
      const causes = tally.causeCounts();
      return {
        secrets,
        stores,
        summary,
        failures: { causes, places: places.map(nameOf), placeCount: tally.placeCount, sample: sample.map(nameOf) },
        warnings,
        takenOut: emptied.map((note) => ({
          ...note,
          workspaceName: note.workspaceId ? (names.workspaces.get(note.workspaceId) ?? null) : null,
        })),
        writer,
        verdict: judgeDoctor({ secrets, stores, causes, warnings, writer }, options.strict),
      };
    });
}

/** What the fast path reports for a value no key opens, and for one a fallback key opens (by its position). */
const NOT_OPENED = (ring: KeyRing) =>
  `does not open under the current ${ring.secretVariable} nor any candidate ` +
  `key (sealed with a key that is not available, or with a different AAD)`;
const OPENED_BY = (ring: KeyRing, key: SecretKey) => `sealed with ${key.label}, not the current ${ring.secretVariable}`;

/**
 * One store, one COPY, classified tuple by tuple as the bytes arrive, in the transaction's
 * snapshot. Values that open under the current key to UTF-8 are counted straight from pg's
 * buffer; so are values it does not open (the common case of an incident: a million of them),
 * tried against each fallback key in place. Every other value takes diagnoseValue's path,
 * which explains it. Read as 'bytes' inside a savepoint first; a value decode() refuses sends
 * the store back to be read as text (its counts start again: they are merged only at the end).
 */
async function diagnoseStore(
  trx: LaminarDb,
  store: StoreDefinition,
  ring: KeyRing,
  watchDuplicates: boolean,
  tally: FailureTally<Finding>,
  directory: PlaceDirectory | null,
  deps: DoctorDeps,
  options: DoctorOptions,
  tables: ConstructorParameters<typeof FailureTally>[2],
) {
  const streaming = deps.onFinding !== undefined;
  const workspaceLevel = store.projectIdColumn === null;
  for (let attempt = 0; ; attempt++) {
    // Read as 'bytes' first unless told otherwise; a value decode() refuses means 'hex' (below).
    let encoding: SealedEncoding = attempt === 0 && options.readSealedAs !== 'hex' ? 'bytes' : 'hex';
    const report: StoreReport = { store: store.name, present: true, total: 0, ok: 0, failing: 0, byStatus: {} };
    const byStatus = new Map<ValueStatus, number>();
    const mine = new FailureTally<Finding>(SAMPLE_SIZE, storeOrder, tables);
    const candidates = watchDuplicates ? new DuplicateCandidates(encoding) : null;
    const rereadIds: string[] = [];
    const opener = sharedOpener();
    // The fast path's causes: index 0 opens under no key, index i + 1 under fallback i.
    const fastCauses = [null, ...ring.fallbacks].map((key) =>
      mine.counter({ store: store.name, status: 'wrong_secret', decryptsWith: key?.label ?? null }),
    );
    const fastDetails = [NOT_OPENED(ring), ...ring.fallbacks.map((key) => OPENED_BY(ring, key))];
    let wrongSecret = 0;
    const placeScratch = new Uint8Array(16);
    const idScratch = Buffer.alloc(16);
    // The sample's order: the id's 16 bytes as latin1 (the ids' order, whichever way the scan sends them).
    const sortKey = (id: string) => (parseUuid(id, idScratch) ? idScratch.toString('latin1') : id);
    const placeKind = workspaceLevel ? 'workspace' : 'project';
    const placeOfText = (text: string | null) => (text !== null && parseUuid(text, placeScratch) ? placeScratch : null);
    // One object shape for every finding (a million of them: no spread, fields in Finding's order).
    const report_ = (finding: Omit<Finding, 'workspaceName' | 'projectName'>): Finding => {
      const names = directory?.namesOf(finding.projectId, finding.workspaceId);
      return {
        store: finding.store,
        id: finding.id,
        workspaceId: names?.workspaceId ?? finding.workspaceId,
        workspaceName: names?.workspaceName ?? null,
        projectId: finding.projectId,
        projectName: names?.projectName ?? null,
        name: finding.name,
        status: finding.status,
        decryptsWith: finding.decryptsWith,
        detail: finding.detail,
      };
    };
    const classify = (row: SealedRow) => {
      const diagnosis = diagnoseValue(store, row, ring);
      if (diagnosis.status === 'unset') return;
      report.total += 1;
      byStatus.set(diagnosis.status, (byStatus.get(diagnosis.status) ?? 0) + 1);
      if (diagnosis.status === 'ok') {
        report.ok += 1;
        return;
      }
      report.failing += 1;
      const finding = (): Finding =>
        report_({
          ...placeOfValue(store, row),
          status: diagnosis.status as Finding['status'],
          decryptsWith: diagnosis.decryptsWith,
          detail: diagnosis.detail,
        });
      const made = deps.onFinding ? finding() : null;
      mine.addTo(
        mine.counter({ store: store.name, status: diagnosis.status, decryptsWith: diagnosis.decryptsWith }),
        placeKind,
        placeOfText(workspaceLevel ? row.workspaceId : row.projectId),
        0,
        sortKey(row.id),
        () => made ?? finding(),
      );
      if (made) deps.onFinding!(made);
    };
    /** A loaded value the current key did not open: tried against each fallback in place. */
    const classifyUnopened = (tuple: CopyTuple) => {
      const opened = tryFallbacks(opener, ring);
      report.total += 1;
      report.failing += 1;
      wrongSecret += 1;
      const { buffer, starts, lengths } = tuple;
      const field = workspaceLevel ? FIELD.workspaceId : FIELD.projectId;
      const length = lengths[field]!;
      // The place's 16 bytes as sent, or parsed from its text when the scan reads text.
      const placeBytes =
        length < 0 ? null : encoding === 'bytes' ? buffer : placeOfText(buffer.toString('latin1', starts[field]!, starts[field]! + length));
      const placeStart = encoding === 'bytes' ? starts[field]! : 0;
      const idKey =
        encoding === 'bytes'
          ? buffer.toString('latin1', starts[FIELD.id]!, starts[FIELD.id]! + 16)
          : sortKey(buffer.toString('latin1', starts[FIELD.id]!, starts[FIELD.id]! + lengths[FIELD.id]!));
      let made: Finding | null = null;
      const finding = (): Finding => {
        if (made) return made;
        // Only what a finding names (no strings for the sealed columns: the incident has a million of these).
        return (made = report_({
          ...placeOfValue(store, placeOfTuple(store, tuple, encoding)),
          status: 'wrong_secret',
          decryptsWith: ring.fallbacks[opened - 1]?.label ?? null,
          detail: fastDetails[opened]!,
        }));
      };
      mine.addTo(fastCauses[opened]!, placeKind, placeBytes, placeStart, idKey, finding);
      if (deps.onFinding) deps.onFinding(finding());
    };
    let sinceProgress = 0;
    // Streaming, the last id handed on: where a read that must change its encoding resumes.
    const lastId = Buffer.alloc(64);
    let lastIdLength = 0;
    const onTuple = (tuple: CopyTuple) => {
      // Streaming cannot take findings back: a value only the stored text can judge ends the
      // 'bytes' read here (copyOut drains the rest), and the text read resumes after the last id.
      if (streaming && encoding === 'bytes' && !decodedExactly(tuple)) throw new SwitchToText();
      candidates?.add(tuple);
      const verdict = ring.current === null ? LOAD_FAILED : openWithHeldKey(opener, tuple, encoding);
      if (verdict === OPENED_UTF8) {
        report.total += 1;
        report.ok += 1;
      } else if (verdict === NOT_OPENED_BY_HELD_KEY) {
        classifyUnopened(tuple);
      } else if (encoding === 'bytes' && !decodedExactly(tuple)) {
        // decode() skipped whitespace: only the stored text can be judged (below).
        rereadIds.push(tupleId(tuple, encoding));
      } else {
        classify(sealedRowFromTuple(store, tuple, encoding));
      }
      if (streaming)
        lastIdLength = tuple.buffer.copy(lastId, 0, tuple.starts[FIELD.id]!, tuple.starts[FIELD.id]! + tuple.lengths[FIELD.id]!);
      if (++sinceProgress >= options.batchSize) {
        sinceProgress = 0;
        deps.onProgress?.({ store: store.name, scanned: report.total, failing: report.failing });
      }
    };
    const lastIdText = () =>
      lastIdLength === 0 ? null : encoding === 'bytes' ? uuidText(lastId, 0) : lastId.toString('latin1', 0, lastIdLength);
    if (ring.current !== null) opener.holdKey(ring.current.bytes);
    try {
      if (streaming) {
        for (;;) {
          if (encoding === 'bytes') await sql`savepoint lmnr_keys_scan`.execute(trx);
          try {
            await copyStore(trx, store, { ordered: true, after: lastIdText() }, onTuple, encoding);
            if (encoding === 'bytes') await sql`release savepoint lmnr_keys_scan`.execute(trx);
            break;
          } catch (error) {
            const refused = (error as { code?: unknown }).code === INVALID_HEX_SQLSTATE;
            if (encoding !== 'bytes' || !(refused || error instanceof SwitchToText)) throw error;
            await sql`rollback to savepoint lmnr_keys_scan`.execute(trx);
            const after = lastIdText();
            encoding = 'hex';
            lastIdLength = 0;
            if (after !== null) lastIdLength = lastId.write(after, 0, 'latin1');
            // The duplicate filter hashed ids as bytes so far: the exact look-up settles duplicates instead.
            if (candidates) candidates.overflow = true;
          }
        }
      } else if (encoding === 'bytes') {
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
    // The fast paths count ok and wrong_secret values without the map: their totals go in here.
    byStatus.set('ok', report.ok);
    byStatus.set('wrong_secret', (byStatus.get('wrong_secret') ?? 0) + wrongSecret);
    report.byStatus = Object.fromEntries([...byStatus.entries()].filter(([, count]) => count > 0));
    tally.merge(mine);
    return { report, candidates };
  }
}

/** Thrown from a streamed 'bytes' read to end it where only the stored text can judge a value. */
class SwitchToText extends Error {}

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
