/**
 * verify-provider: decrypts each stored credential and makes one cheap call to its provider,
 * telling a decode problem from an invalid key, an exhausted quota, a rate limit, an outage.
 * A value that does not decrypt is never sent anywhere.
 */
import { encodeAad, isValidUtf8 } from '../crypto/aead.js';
import type { SecretKey } from '../crypto/keys.js';
import type { SealedRow } from '../stores/scan.js';
import { STORES } from '../stores/stores.js';
import { diagnoseValue, loadShape, type KeyRing } from './diagnose.js';
import { adviseOnFinding } from './advice.js';
import { COMPANION_NAMES, PROVIDERS, providerForKeyName, type ProviderAdapter, type ProviderName } from '../providers/index.js';
import type { LaminarDb } from '../db/connect.js';
import { ConfigError, UsageError } from '../errors.js';
import { assertRowsVisible, checkStorePresence, lookUpNames, readProviderKeys, type NameDirectory } from '../stores/scan.js';
import { classifyGenerically, retryAfterSeconds } from '../providers/answer.js';
import type { Credential, ProbeKind, ProbeStatus, ProviderAnswer } from '../providers/types.js';
import { printable } from '../printable.js';

export type VerifyStatus = ProbeStatus | 'decode_failed' | 'incomplete_credentials' | 'skipped';

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
  const classification = classifyGenerically(answer) ?? adapter.classify(answer);
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
  const secrets = [credential.key, ...Object.values(credential.companions)];
  for (const secret of secrets) deps.registerSecret(secret);
  let first = await callOnce(adapter, credential, settings, deps);
  // One retry, honouring the provider's retry-after; when it asks for longer than
  // --max-retry-wait, retrying earlier would only be refused again: report it as it stands.
  const askedMs = first.outcome.retryAfterSeconds === null ? null : first.outcome.retryAfterSeconds * 1000;
  if (RETRYABLE.has(first.outcome.status) && (askedMs === null || askedMs <= settings.maxRetryWaitMs)) {
    await deps.sleep(askedMs ?? Math.min(500, settings.maxRetryWaitMs));
    first = await callOnce(adapter, credential, settings, deps);
  }
  const { outcome, quotaChecked } = first;
  let detail = outcome.detail ? printable(redactEcho(outcome.detail.slice(0, MAX_BODY_BYTES), secrets)).slice(0, MAX_DETAIL_CHARS) : null;
  if (!quotaChecked && outcome.status === 'ok') detail = 'key accepted; quota not checked (--probe auth)';
  else if (!quotaChecked && detail) detail = `${detail} (quota not checked: --probe auth)`;
  return { ...outcome, detail };
}

/** A credential to probe, or a verdict reached without any request. */
type Job = { kind: 'probe'; adapter: ProviderAdapter; row: SealedRow; credential: Credential } | { kind: 'done'; result: VerifyResult };

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
  const advice = adviseOnFinding({
    store: 'provider_api_keys',
    id: row.id,
    workspaceId: row.workspaceId,
    workspaceName: null,
    projectId: row.projectId,
    projectName: null,
    name: row.name,
    status: diagnosis.status,
    decryptsWith: diagnosis.decryptsWith,
    detail: diagnosis.detail,
  });
  return { ok: false, cause: `${diagnosis.status}: ${advice.cause}` };
}

export interface StoredCredentials {
  rows: SealedRow[];
  names: NameDirectory;
}

/**
 * Reads the stored provider keys (optionally of some projects) in one READ ONLY transaction.
 * A project that does not exist is a usage error, not "nothing stored".
 */
export async function loadStoredCredentials(db: LaminarDb, projectIds: string[]): Promise<StoredCredentials> {
  return db
    .transaction()
    .setAccessMode('read only')
    .execute(async (trx) => {
      const presence = await checkStorePresence(trx, providerStore);
      if (!presence.present)
        throw new ConfigError(
          `this Laminar database has no provider keys to verify: ${presence.reason}`,
          'an older Laminar stores no provider keys; doctor shows which stores exist',
        );
      await assertRowsVisible(trx, ['provider_api_keys', 'projects']);
      if (projectIds.length > 0) {
        const found = await lookUpNames(trx, projectIds, []);
        const missing = projectIds.filter((id) => !found.projects.has(id));
        if (missing.length > 0) throw new UsageError(`no such project: ${missing.join(', ')}`, 'doctor and the web UI list project ids');
      }
      const rows = await readProviderKeys(trx, projectIds.length > 0 ? projectIds : null);
      const names = await lookUpNames(trx, [...new Set(rows.flatMap((r) => (r.projectId ? [r.projectId] : [])))], []);
      return { rows, names };
    });
}

/** Folds each project's rows into credentials (companions joined to their key). */
export function planVerification(
  rows: SealedRow[],
  options: { current: SecretKey; doctorRing: KeyRing; providers: ProviderName[] | null },
): Job[] {
  const jobs: Job[] = [];
  const byProject = new Map<string, SealedRow[]>();
  for (const row of rows) {
    const key = row.projectId ?? '';
    byProject.set(key, [...(byProject.get(key) ?? []), row]);
  }
  const wanted = (adapter: ProviderAdapter) => options.providers === null || options.providers.includes(adapter.name);
  for (const projectRows of byProject.values()) {
    const names = new Set(projectRows.map((r) => r.name));
    for (const row of projectRows) {
      const adapter = providerForKeyName(row.name);
      if (adapter) {
        if (!wanted(adapter)) continue;
        const key = openStored(row, options.current, options.doctorRing);
        if (!key.ok) {
          jobs.push({ kind: 'done', result: resultFor(row, adapter.name, 'decode_failed', `${key.cause}; nothing was sent`) });
          continue;
        }
        const companions: Record<string, string> = {};
        const problems: string[] = [];
        let incomplete = false;
        for (const companion of adapter.companions) {
          const candidates = projectRows.filter((r) => r.name === companion.name);
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
        if (problems.length > 0) {
          jobs.push({
            kind: 'done',
            result: resultFor(
              row,
              adapter.name,
              incomplete && problems.every((p) => p.endsWith('not stored for this project')) ? 'incomplete_credentials' : 'decode_failed',
              `${problems.join('; ')}; nothing was sent`,
            ),
          });
          continue;
        }
        jobs.push({ kind: 'probe', adapter, row, credential: { key: key.value, companions } });
        continue;
      }
      if (options.providers !== null) continue;
      if (COMPANION_NAMES.has(row.name)) {
        const owner = PROVIDERS.find((p) => p.companions.some((c) => c.name === row.name))!;
        if (names.has(owner.keyName)) continue; // folded into its credential
        jobs.push({
          kind: 'done',
          result: resultFor(row, owner.name, 'skipped', `belongs to ${owner.keyName}, which this project does not store`),
        });
        continue;
      }
      jobs.push({ kind: 'done', result: resultFor(row, null, 'skipped', 'not an LLM provider credential (not probed)') });
    }
  }
  return jobs;
}

/** Runs probes with bounded concurrency; results keep the jobs' order. */
export async function runVerification(jobs: Job[], settings: ProbeSettings, deps: ProbeDeps): Promise<VerifyResult[]> {
  const results: VerifyResult[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= jobs.length) return;
      const job = jobs[index]!;
      if (job.kind === 'done') results[index] = job.result;
      else {
        const outcome = await probeCredential(job.adapter, job.credential, settings, deps);
        job.credential.key = '';
        results[index] = {
          ...resultFor(job.row, job.adapter.name, outcome.status, outcome.detail),
          httpStatus: outcome.httpStatus,
          retryAfterSeconds: outcome.retryAfterSeconds,
        };
      }
      deps.onResult?.(++done, jobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(settings.concurrency, jobs.length)) }, worker));
  return results;
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
