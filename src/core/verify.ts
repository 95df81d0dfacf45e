/**
 * verify-provider: decrypts each stored credential and makes one cheap call to its provider,
 * telling a decode problem from an invalid key, an exhausted quota, a rate limit, an outage.
 * A value that does not decrypt is never sent anywhere.
 */
import { encodeAad, isValidUtf8 } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { SealedRow } from '../stores/scan.js';
import { STORES } from '../stores/stores.js';
import { diagnoseValue, loadShape, type KeyRing, type ValueStatus } from './diagnose.js';
import { adviseOnFinding } from './advice.js';
import { COMPANION_NAMES, PROVIDERS, providerForKeyName, type ProviderAdapter, type ProviderName } from '../providers/index.js';
import type { LaminarDb } from '../db/connect.js';
import { ConfigError, UsageError } from '../errors.js';
import { assertRowsVisible, checkStorePresence, lookUpNames, readRows } from '../stores/scan.js';
import { copyStore, FIELD, fieldText, sealedRowFromTuple, tupleId } from '../stores/copy-reader.js';
import type { CopyTuple } from '../db/copy.js';
import { sharedOpener } from '../crypto/opener.js';
import { PlaceDirectory } from '../stores/name-directory.js';
import { NOT_OPENED_BY_HELD_KEY, OPENED_UTF8, openWithHeldKey, tryFallbacks } from './tuple-verdict.js';
import { classifyGenerically, classifySuccess, retryAfterSeconds } from '../providers/answer.js';
import { PROBE_STATUSES, type Credential, type ProbeKind, type ProbeStatus, type ProviderAnswer } from '../providers/types.js';
import { printable } from '../printable.js';

/** Every status verify-provider gives a credential (metrics write each, zeros included). */
export const VERIFY_STATUSES = [...PROBE_STATUSES, 'decode_failed', 'incomplete_credentials', 'skipped'] as const;
export type VerifyStatus = (typeof VERIFY_STATUSES)[number];

export interface VerifyResult {
  projectId: string | null;
  workspaceId: string | null;
  /** provider_api_keys row id of the credential (null for --key). */
  id: string | null;
  name: string;
  provider: ProviderName | null;
  status: VerifyStatus;
  httpStatus: number | null;
  retryAfterSeconds: number | null;
  detail: string | null;
}

export interface ProbeSettings {
  probe: ProbeKind;
  timeoutMs: number;
  concurrency: number;
  baseUrls: Partial<Record<ProviderName, string>>;
  models: Partial<Record<ProviderName, string>>;
  /** Longest wait honoured from a retry-after before the single retry. */
  maxRetryWaitMs: number;
}

export interface ProbeDeps {
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Called with every plaintext about to be sent, so output can redact any echo of it. */
  registerSecret: (secret: string) => void;
  onResult?: (done: number, total: number) => void;
}

interface ProbeOutcome {
  status: ProbeStatus;
  httpStatus: number | null;
  retryAfterSeconds: number | null;
  detail: string | null;
}

const RETRYABLE = new Set<ProbeStatus>(['rate_limited', 'provider_error', 'network_error']);

/** What is read of a provider's answer: error bodies are small; a gateway's endless page is not read to the end. */
export const MAX_BODY_BYTES = 64 * 1024;
/** What is kept of a provider's message for reports. */
const MAX_DETAIL_CHARS = 400;

/**
 * Removes the key and any masked echo of it (e.g. "sk-abc***xyz") from a provider's message.
 * Linear in the message length (a whitespace-token scan, no backtracking regex): a 5 MB body
 * from a hostile gateway costs milliseconds, not minutes.
 */
export function redactEcho(message: string, secrets: string[]): string {
  let result = message;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  return result
    .split(/(\s+)/)
    .map((token) => (token.includes('***') ? '[redacted]' : token))
    .join('');
}

/** Reads at most `limit` bytes of a body, then stops the transfer; the caller's signal bounds the time. */
async function readBodyPrefix(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

async function callOnce(
  adapter: ProviderAdapter,
  credential: Credential,
  settings: ProbeSettings,
  deps: ProbeDeps,
): Promise<{ outcome: ProbeOutcome; answer: ProviderAnswer | null; quotaChecked: boolean }> {
  const baseUrl = settings.baseUrls[adapter.name] ?? adapter.defaultBaseUrl(credential);
  const model = settings.models[adapter.name] ?? adapter.defaultModel;
  const request = await adapter.buildRequest(credential, { probe: settings.probe, baseUrl, model });
  let response: Response;
  let text: string;
  try {
    response = await deps.fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      signal: AbortSignal.timeout(settings.timeoutMs),
      redirect: 'manual',
    });
    text = await readBodyPrefix(response, MAX_BODY_BYTES);
  } catch (error) {
    return {
      outcome: {
        status: 'network_error',
        httpStatus: null,
        retryAfterSeconds: null,
        detail: describeNetworkError(error, settings.timeoutMs),
      },
      answer: null,
      quotaChecked: request.quotaChecked,
    };
  }
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  const answer: ProviderAnswer = { status: response.status, headers: response.headers, text, json };
  // A 2xx proves the key only in the provider's own success shape for the probe made.
  const classification =
    response.status >= 200 && response.status < 300
      ? classifySuccess(answer, adapter.name, new URL(request.url).host, request.quotaChecked ? 'generate' : 'auth', adapter.provesSuccess)
      : (classifyGenerically(answer) ?? adapter.classify(answer));
  return {
    outcome: {
      status: classification.status,
      httpStatus: response.status,
      retryAfterSeconds: classification.status === 'ok' ? null : retryAfterSeconds(answer),
      detail: classification.message,
    },
    answer,
    quotaChecked: request.quotaChecked,
  };
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `no HTTP response (${cause.code})`;
  if (cause?.message) return `no HTTP response (${cause.message})`;
  return `no HTTP response (${(error as Error).message ?? 'network error'})`;
}

/** One call, and one retry for transient answers, honouring retry-after up to the cap. */
export async function probeCredential(
  adapter: ProviderAdapter,
  credential: Credential,
  settings: ProbeSettings,
  deps: ProbeDeps,
): Promise<ProbeOutcome> {
  // The key and the companions that are secrets; a resource name or a region stays readable in errors.
  const secrets = [credential.key, ...adapter.companions.filter((c) => c.secret).flatMap((c) => credential.companions[c.name] ?? [])];
  for (const secret of secrets) deps.registerSecret(secret);
  let first = await callOnce(adapter, credential, settings, deps);
  // One retry, honouring the provider's retry-after; when it asks for longer than
  // --max-retry-wait, retrying earlier would only be refused again: report it as it stands.
  const askedMs = first.outcome.retryAfterSeconds === null ? null : first.outcome.retryAfterSeconds * 1000;
  // A 2xx that is not the provider's answer (a proxy, a portal) is not an outage: the key is not sent there twice.
  const notTheProvider = first.outcome.httpStatus !== null && first.outcome.httpStatus >= 200 && first.outcome.httpStatus < 300;
  if (RETRYABLE.has(first.outcome.status) && !notTheProvider && (askedMs === null || askedMs <= settings.maxRetryWaitMs)) {
    await deps.sleep(askedMs ?? Math.min(500, settings.maxRetryWaitMs));
    first = await callOnce(adapter, credential, settings, deps);
  }
  const { outcome, quotaChecked } = first;
  let detail = outcome.detail ? printable(redactEcho(outcome.detail.slice(0, MAX_BODY_BYTES), secrets)).slice(0, MAX_DETAIL_CHARS) : null;
  if (!quotaChecked && outcome.status === 'ok') detail = 'key accepted; quota not checked (--probe auth)';
  else if (!quotaChecked && detail) detail = `${detail} (quota not checked: --probe auth)`;
  return { ...outcome, detail };
}

const providerStore = STORES.find((s) => s.name === 'provider_api_keys')!;

function resultFor(row: SealedRow, provider: ProviderName | null, status: VerifyStatus, detail: string | null): VerifyResult {
  return {
    projectId: row.projectId,
    workspaceId: row.workspaceId,
    id: row.id,
    name: row.name,
    provider,
    status,
    httpStatus: null,
    retryAfterSeconds: null,
    detail,
  };
}

/** Opens a stored value under the current key; on failure says why, in doctor's words. */
function openStored(row: SealedRow, current: SecretKey, doctorRing: KeyRing): { ok: true; value: string } | { ok: false; cause: string } {
  const shape = loadShape(providerStore, row);
  if (shape.kind === 'loaded' && shape.opener.open(current.bytes, encodeAad(row.aad))) {
    const plaintext = shape.opener.takePlaintext();
    const value = isValidUtf8(plaintext) ? new TextDecoder().decode(plaintext) : null;
    plaintext.fill(0);
    if (value !== null) return { ok: true, value };
  }
  const diagnosis = diagnoseValue(providerStore, row, doctorRing);
  if (diagnosis.status === 'ok' || diagnosis.status === 'unset') return { ok: false, cause: 'cannot be decrypted' };
  return { ok: false, cause: causeOf(diagnosis as CauseOfFailure, row.name, row.projectId) };
}

type CauseOfFailure = { status: Exclude<ValueStatus, 'ok'>; decryptsWith: string | null; detail: string | null };

/**
 * A failing value's cause in doctor's words. It depends on the diagnosis alone (advice's cause
 * never names the row): said once per kind, since a million rows may fail alike.
 */
function causeOf(diagnosis: CauseOfFailure, name: string, projectId: string | null): string {
  const key = `${diagnosis.status}\u0000${diagnosis.decryptsWith ?? ''}\u0000${diagnosis.detail ?? ''}`;
  const known = causes.get(key);
  if (known !== undefined) return known;
  const advice = adviseOnFinding({
    store: 'provider_api_keys',
    id: '',
    workspaceId: null,
    workspaceName: null,
    projectId,
    projectName: null,
    name,
    status: diagnosis.status,
    decryptsWith: diagnosis.decryptsWith,
    detail: diagnosis.detail,
  });
  const cause = `${diagnosis.status}: ${advice.cause}`;
  if (causes.size < 1000) causes.set(key, cause);
  return cause;
}

/** openStored's causes, by diagnosis. */
const causes = new Map<string, string>();

/** Counts of a run, kept whatever the number of credentials (the results themselves are streamed). */
export interface VerifySummary {
  total: number;
  byStatus: Partial<Record<VerifyStatus, number>>;
  /** Per provider ('none' for rows that are no provider's), per status. */
  byProvider: Record<string, Partial<Record<VerifyStatus, number>>>;
}

export function newVerifySummary(): VerifySummary {
  return { total: 0, byStatus: {}, byProvider: {} };
}

export function countResult(summary: VerifySummary, result: VerifyResult): void {
  summary.total += 1;
  summary.byStatus[result.status] = (summary.byStatus[result.status] ?? 0) + 1;
  const provider = (summary.byProvider[result.provider ?? 'none'] ??= {});
  provider[result.status] = (provider[result.status] ?? 0) + 1;
}

export interface StoredVerification {
  current: SecretKey;
  /** What doctor tries on a value the current key does not open, to explain why (never to send it). */
  doctorRing: KeyRing;
  providers: ProviderName[] | null;
  projectIds: string[];
}

/** Rows to probe read back per query. */
const ROWS_PER_READ = 500;

/**
 * Verifies every stored credential, `onResult` receiving each result as it is known. The scan
 * (one COPY in id order, in one READ ONLY transaction) judges each value in place, as doctor
 * does: what needs no request is streamed at once — a value the current key does not open
 * (decode_failed: nothing is ever sent for it, whatever other key would open it), a row that is
 * no provider's. Only the ids of the credentials to probe and the companion rows (Azure's
 * resource, Bedrock's secret and region...) are kept; the probes run after the transaction,
 * with bounded concurrency, each credential read and opened again just before its request. In
 * the incident (a million values no key opens) memory holds nothing per credential.
 */
export async function verifyStoredCredentials(
  db: LaminarDb,
  options: StoredVerification,
  settings: ProbeSettings,
  deps: ProbeDeps,
  onResult: (result: VerifyResult) => void,
): Promise<VerifySummary> {
  const summary = newVerifySummary();
  const emit = (result: VerifyResult) => {
    countResult(summary, result);
    onResult(result);
  };
  const wanted = (adapter: ProviderAdapter) => options.providers === null || options.providers.includes(adapter.name);
  const toProbe: string[] = [];
  /** Companion rows, by project; and the owner key names each project stores (for companions alone). */
  const companionRows = new Map<string, SealedRow[]>();
  const ownersStored = new Map<string, Set<string>>();
  const ownerNames = new Set(PROVIDERS.filter((p) => p.companions.length > 0).map((p) => p.keyName));
  const projectFilter = options.projectIds.length > 0 ? new Set(options.projectIds) : null;
  let directory: PlaceDirectory | null = null;
  const workspaceOf = (projectId: string | null) => (projectId === null ? null : (directory?.namesOf(projectId, null).workspaceId ?? null));
  await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const presence = await checkStorePresence(trx, providerStore);
      if (!presence.present)
        throw new ConfigError(
          `this Laminar database has no provider keys to verify: ${presence.reason}`,
          'an older Laminar stores no provider keys; doctor shows which stores exist',
        );
      await assertRowsVisible(trx, ['provider_api_keys', 'projects']);
      if (options.projectIds.length > 0) {
        const found = await lookUpNames(trx, options.projectIds, []);
        const missing = options.projectIds.filter((id) => !found.projects.has(id));
        if (missing.length > 0) throw new UsageError(`no such project: ${missing.join(', ')}`, 'doctor and the web UI list project ids');
      }
      const places = await PlaceDirectory.load(trx);
      directory = places;
      const opener = sharedOpener();
      opener.holdKey(options.current.bytes);
      const fastDetails = [
        NOT_OPENED_DETAIL(options.doctorRing),
        ...options.doctorRing.fallbacks.map((key) => OPENED_BY_DETAIL(options.doctorRing, key)),
      ];
      const onTuple = (tuple: CopyTuple) => {
        const name = fieldText(tuple, FIELD.aad) ?? '';
        const projectId = fieldText(tuple, FIELD.projectId);
        if (projectFilter && (projectId === null || !projectFilter.has(projectId))) return;
        if (ownerNames.has(name)) {
          let owners = ownersStored.get(projectId ?? '');
          if (!owners) ownersStored.set(projectId ?? '', (owners = new Set()));
          owners.add(name);
        }
        const adapter = providerForKeyName(name);
        if (adapter) {
          if (!wanted(adapter)) return;
          const verdict = openWithHeldKey(opener, tuple, 'hex');
          if (verdict === OPENED_UTF8) {
            toProbe.push(tupleId(tuple));
            return;
          }
          if (verdict === NOT_OPENED_BY_HELD_KEY) {
            // The incident's case, judged in place: doctor's words for why, and nothing sent.
            const opened = tryFallbacks(opener, options.doctorRing);
            const decryptsWith = options.doctorRing.fallbacks[opened - 1]?.label ?? null;
            emit({
              projectId,
              workspaceId: workspaceOf(projectId),
              id: tupleId(tuple),
              name,
              provider: adapter.name,
              status: 'decode_failed',
              httpStatus: null,
              retryAfterSeconds: null,
              detail: `${causeOf({ status: 'wrong_secret', decryptsWith, detail: fastDetails[opened]! }, name, projectId)}; nothing was sent`,
            });
            return;
          }
          const row = sealedRowFromTuple(providerStore, tuple);
          const key = openStored(row, options.current, options.doctorRing);
          if (key.ok) toProbe.push(row.id);
          else
            emit(
              resultFor({ ...row, workspaceId: workspaceOf(projectId) }, adapter.name, 'decode_failed', `${key.cause}; nothing was sent`),
            );
          return;
        }
        if (COMPANION_NAMES.has(name)) {
          const row = sealedRowFromTuple(providerStore, tuple);
          const held = companionRows.get(projectId ?? '');
          if (held) held.push(row);
          else companionRows.set(projectId ?? '', [row]);
          return;
        }
        if (options.providers !== null) return;
        emit({
          projectId,
          workspaceId: workspaceOf(projectId),
          id: tupleId(tuple),
          name,
          provider: null,
          status: 'skipped',
          httpStatus: null,
          retryAfterSeconds: null,
          detail: 'not an LLM provider credential (not probed)',
        });
      };
      try {
        await copyStore(trx, providerStore, { ordered: true }, onTuple, 'hex');
      } finally {
        opener.releaseKey();
      }
    });
  // Companions whose owner key this project does not store: reported, never probed.
  if (options.providers === null) {
    for (const [project, rows] of companionRows) {
      for (const row of rows) {
        const owner = PROVIDERS.find((p) => p.companions.some((c) => c.name === row.name))!;
        if (ownersStored.get(project)?.has(owner.keyName)) continue;
        emit(
          resultFor(
            { ...row, workspaceId: workspaceOf(row.projectId) },
            owner.name,
            'skipped',
            `belongs to ${owner.keyName}, which this project does not store`,
          ),
        );
      }
    }
  }
  // The probes: rows read again and opened just before their request (plaintexts are not held meanwhile).
  let done = 0;
  for (let start = 0; start < toProbe.length; start += ROWS_PER_READ) {
    const rows = await readRows(db, providerStore, toProbe.slice(start, start + ROWS_PER_READ));
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next++;
        if (index >= rows.length) return;
        const row = { ...rows[index]!, workspaceId: workspaceOf(rows[index]!.projectId) };
        const adapter = providerForKeyName(row.name)!;
        const credential = assembleCredential(adapter, row, companionRows.get(row.projectId ?? '') ?? [], options);
        if ('result' in credential) emit(credential.result);
        else {
          const outcome = await probeCredential(adapter, credential, settings, deps);
          credential.key = '';
          emit({
            ...resultFor(row, adapter.name, outcome.status, outcome.detail),
            httpStatus: outcome.httpStatus,
            retryAfterSeconds: outcome.retryAfterSeconds,
          });
        }
        deps.onResult?.(++done, toProbe.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(settings.concurrency, rows.length)) }, worker));
  }
  return summary;
}

const NOT_OPENED_DETAIL = (ring: KeyRing) =>
  `does not open under the current ${ring.secretVariable} nor any candidate ` +
  `key (sealed with a key that is not available, or with a different AAD)`;
const OPENED_BY_DETAIL = (ring: KeyRing, key: SecretKey) => `sealed with ${key.label}, not the current ${ring.secretVariable}`;

/** The credential of a stored key that opens: the key and its companions, or the result that says why it cannot be probed. */
function assembleCredential(
  adapter: ProviderAdapter,
  row: SealedRow,
  projectCompanions: SealedRow[],
  options: StoredVerification,
): Credential | { result: VerifyResult } {
  const key = openStored(row, options.current, options.doctorRing);
  if (!key.ok) return { result: resultFor(row, adapter.name, 'decode_failed', `${key.cause}; nothing was sent`) };
  const companions: Record<string, string> = {};
  const problems: string[] = [];
  let incomplete = false;
  for (const companion of adapter.companions) {
    const candidates = projectCompanions.filter((r) => r.name === companion.name);
    if (candidates.length === 0) {
      if (companion.required) {
        incomplete = true;
        problems.push(`${companion.name} is not stored for this project`);
      }
      continue;
    }
    const opened = candidates.map((r) => openStored(r, options.current, options.doctorRing));
    const good = opened.find((o): o is { ok: true; value: string } => o.ok);
    if (good) companions[companion.name] = good.value;
    else problems.push(`${companion.name} cannot be decrypted (${(opened[0] as { cause: string }).cause})`);
  }
  if (problems.length > 0)
    return {
      result: resultFor(
        row,
        adapter.name,
        incomplete && problems.every((p) => p.endsWith('not stored for this project')) ? 'incomplete_credentials' : 'decode_failed',
        `${problems.join('; ')}; nothing was sent`,
      ),
    };
  return { key: key.value, companions };
}

/** The --key form: one credential from the operator, no database. */
export async function verifySingleKey(
  adapter: ProviderAdapter,
  credential: Credential,
  settings: ProbeSettings,
  deps: ProbeDeps,
): Promise<VerifyResult> {
  const missing = adapter.companions.filter((c) => c.required && !credential.companions[c.name]).map((c) => c.name);
  const base = {
    projectId: null,
    workspaceId: null,
    id: null,
    name: adapter.keyName,
    provider: adapter.name,
    httpStatus: null,
    retryAfterSeconds: null,
  };
  if (missing.length > 0)
    return { ...base, status: 'incomplete_credentials', detail: `set ${missing.join(' and ')} in the environment; nothing was sent` };
  const outcome = await probeCredential(adapter, credential, settings, deps);
  return {
    ...base,
    status: outcome.status,
    httpStatus: outcome.httpStatus,
    retryAfterSeconds: outcome.retryAfterSeconds,
    detail: outcome.detail,
  };
}
