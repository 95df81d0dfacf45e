import fs from 'node:fs';
import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { readAllStdin, resolveValueReference } from '../config.js';
import { loadCipher } from '../crypto/aead.js';
import { usingDatabase } from '../db/connect.js';
import { assertRowsVisible, lookUpNames, readProviderKeys, type NameDirectory } from '../stores/scan.js';
import { STORES } from '../stores/stores.js';
import { keyRingFor } from '../core/keyring.js';
import { planVerification, runVerification, verifySingleKey, type ProbeDeps, type ProbeSettings, type VerifyResult, type VerifyStatus } from '../core/verify.js';
import { findProvider, PROVIDER_NAMES, type ProviderName } from '../providers/index.js';
import { githubAnnotations, renderJunit, renderVerify, summarize, STATUS_WORDS, type VerifyDocument } from '../report/verify.js';
import { startProgress } from '../report/output.js';

export interface VerifyFlags {
  project: string[];
  provider: string[];
  probe: 'generate' | 'auth';
  concurrency: number;
  timeout: number;
  baseUrl: string[];
  model: string[];
  failOn?: string;
  junit?: string;
  key?: string;
  maxRetryWait: number;
}

const FAILABLE: VerifyStatus[] = (Object.keys(STATUS_WORDS) as VerifyStatus[]).filter((s) => s !== 'ok' && s !== 'skipped');

function parseProviderMap(entries: string[], flag: string): Partial<Record<ProviderName, string>> {
  const map: Partial<Record<ProviderName, string>> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at);
    if (at < 1 || !findProvider(name)) throw new UsageError(`${flag} takes PROVIDER=VALUE with PROVIDER one of ${PROVIDER_NAMES.join(', ')}`);
    map[name as ProviderName] = entry.slice(at + 1);
  }
  return map;
}

/** The provider's own hosts; anything else is a gateway the operator chose, and keys will go there. */
const OWN_HOSTS: Record<ProviderName, RegExp> = {
  openai: /^api\.openai\.com$/,
  anthropic: /^api\.anthropic\.com$/,
  gemini: /^generativelanguage\.googleapis\.com$/,
  groq: /^api\.groq\.com$/,
  mistral: /^api\.mistral\.ai$/,
  azure: /\.openai\.azure\.com$/,
  bedrock: /^bedrock-runtime\.[a-z0-9-]+\.amazonaws\.com$/,
};

export async function verifyProviderCommand(ctx: CommandContext, flags: VerifyFlags): Promise<ExitCodeValue> {
  if (flags.probe !== 'generate' && flags.probe !== 'auth') throw new UsageError('--probe is generate or auth');
  const providers = flags.provider.map((name) => {
    if (!findProvider(name)) throw new UsageError(`unknown provider ${JSON.stringify(name)}`, `providers: ${PROVIDER_NAMES.join(', ')}`);
    return name as ProviderName;
  });
  const baseUrls = parseProviderMap(flags.baseUrl, '--base-url');
  for (const [name, url] of Object.entries(baseUrls) as Array<[ProviderName, string]>) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--base-url ${name}=... is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`--base-url ${name} must be http(s)`);
    if (!OWN_HOSTS[name].test(parsed.hostname)) ctx.output.note(ctx.output.color.yellow(`warning: ${name} keys will be sent to ${parsed.host}, which is not ${name}'s own API host`));
  }
  const failOn = new Set<VerifyStatus>(
    flags.failOn === undefined
      ? FAILABLE
      : flags.failOn.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
          if (!FAILABLE.includes(s as VerifyStatus)) throw new UsageError(`--fail-on: unknown status ${JSON.stringify(s)}`, `statuses: ${FAILABLE.join(',')}`);
          return s as VerifyStatus;
        }),
  );
  const failing = (r: VerifyResult) => failOn.has(r.status);
  const settings: ProbeSettings = {
    probe: flags.probe,
    timeoutMs: flags.timeout,
    concurrency: flags.concurrency,
    baseUrls,
    models: parseProviderMap(flags.model, '--model'),
    maxRetryWaitMs: flags.maxRetryWait,
  };
  const progress = await startProgress(ctx.output, 'Calling providers');
  const deps: ProbeDeps = {
    fetch: globalThis.fetch,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    registerSecret: (secret) => ctx.output.redactor.add(secret),
    onResult: (done, total) => progress.update(`Calling providers: ${done}/${total}`),
  };

  let results: VerifyResult[];
  let names: NameDirectory = { projects: new Map(), workspaces: new Map() };
  try {
    if (flags.key !== undefined) {
      if (providers.length !== 1) throw new UsageError('--key needs exactly one --provider', 'e.g. verify-provider --provider openai --key env:OPENAI_API_KEY');
      const adapter = findProvider(providers[0]!)!;
      const env = ctx.environment().env;
      const key = await resolveValueReference(flags.key, '--key', { env, cwd: process.cwd(), readStdin: readAllStdin, warn: ctx.output.note });
      const companions: Record<string, string> = {};
      for (const companion of adapter.companions) {
        const value = env[companion.name];
        if (value) companions[companion.name] = value.trim();
      }
      results = [await verifySingleKey(adapter, { key, companions }, settings, deps)];
    } else {
      const secrets = ctx.laminarSecrets();
      const current = requireAeadKey(secrets);
      const target = ctx.databaseTarget();
      await loadCipher();
      const providerStore = STORES.find((s) => s.name === 'provider_api_keys')!;
      const doctorRing = keyRingFor(providerStore, secrets, []);
      const loaded = await usingDatabase(target, {}, ({ db }) =>
        db.transaction().setAccessMode('read only').execute(async (trx) => {
          await assertRowsVisible(trx, ['provider_api_keys', 'projects']);
          const rows = await readProviderKeys(trx, flags.project.length > 0 ? flags.project : null);
          const directory = await lookUpNames(trx, [...new Set(rows.flatMap((r) => (r.projectId ? [r.projectId] : [])))], []);
          return { rows, directory };
        }),
      );
      names = loaded.directory;
      const jobs = planVerification(loaded.rows, { current, doctorRing, providers: providers.length > 0 ? providers : null });
      results = await runVerification(jobs, settings, deps);
    }
  } finally {
    progress.stop();
  }

  const document: VerifyDocument = { version: 1, command: 'verify-provider', ok: !results.some(failing), results, summary: summarize(results) };
  if (flags.junit) fs.writeFileSync(flags.junit, ctx.output.redactor.apply(renderJunit(results, failing)), { mode: 0o644 });
  if (ctx.githubActions) for (const line of githubAnnotations(results, failing)) ctx.output.note(line);
  if (ctx.output.jsonMode) ctx.output.json(document);
  else ctx.output.result(renderVerify(document, names, ctx.output.color, failing));
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
