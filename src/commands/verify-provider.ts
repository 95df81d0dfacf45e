import path from 'node:path';
import { writeReportFile } from '../files/atomic-file.js';
import { nodeFileSystem } from '../files/file-system.js';
import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { keyRingFor } from '../core/keyring.js';
import {
  loadStoredCredentials,
  planVerification,
  runVerification,
  verifySingleKey,
  type ProbeDeps,
  type ProbeSettings,
  type VerifyResult,
  type VerifyStatus,
} from '../core/verify.js';
import { findProvider, PROVIDER_NAMES, type ProviderName } from '../providers/index.js';
import { STORES } from '../stores/stores.js';
import { emit, withProgress } from '../report/output.js';
import { FAILABLE_STATUSES, githubAnnotations, renderJunit, renderVerify, verifyDocument } from '../report/verify.js';
import type { FlagsOf } from './definitions.js';
import { usingLaminarDatabase } from './using-laminar.js';
import { requireUuid } from './uuid-option.js';

function parseProviderMap(entries: string[], flag: string): Partial<Record<ProviderName, string>> {
  const map: Partial<Record<ProviderName, string>> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at);
    if (at < 1 || !findProvider(name))
      throw new UsageError(`${flag} takes PROVIDER=VALUE with PROVIDER one of ${PROVIDER_NAMES.join(', ')}`);
    map[name as ProviderName] = entry.slice(at + 1);
  }
  return map;
}

function parseFailOn(text: string | undefined): Set<VerifyStatus> {
  if (text === undefined) return new Set(FAILABLE_STATUSES);
  const statuses = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const status of statuses) {
    if (!(FAILABLE_STATUSES as string[]).includes(status))
      throw new UsageError(`--fail-on: unknown status ${JSON.stringify(status)}`, `statuses: ${FAILABLE_STATUSES.join(',')}`);
  }
  return new Set(statuses as VerifyStatus[]);
}

export async function verifyProviderCommand(ctx: CommandContext, flags: FlagsOf<'verify-provider'>): Promise<ExitCodeValue> {
  const providers = flags.provider.map((name) => {
    if (!findProvider(name)) throw new UsageError(`unknown provider ${JSON.stringify(name)}`, `providers: ${PROVIDER_NAMES.join(', ')}`);
    return name as ProviderName;
  });
  const projects = flags.project.map((id) => requireUuid(id, '--project', 'doctor and the web UI list project ids'));
  const baseUrls = parseProviderMap(flags.baseUrl, '--base-url');
  for (const [name, url] of Object.entries(baseUrls) as Array<[ProviderName, string]>) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--base-url ${name}=... is not a URL`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`--base-url ${name} must be http(s)`);
    if (!findProvider(name)!.ownHost.test(parsed.hostname))
      ctx.output.note(ctx.output.color.yellow(`warning: ${name} keys will be sent to ${parsed.host}, which is not ${name}'s own API host`));
  }
  const failOn = parseFailOn(flags.failOn);
  const failing = (r: VerifyResult) => failOn.has(r.status);
  const settings: ProbeSettings = {
    probe: flags.probe,
    timeoutMs: flags.timeout,
    concurrency: flags.concurrency,
    baseUrls,
    models: parseProviderMap(flags.model, '--model'),
    maxRetryWaitMs: flags.maxRetryWait,
  };
  const { results, names } = await withProgress(ctx.output, 'Calling providers', async (update) => {
    const deps: ProbeDeps = {
      fetch: globalThis.fetch,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      registerSecret: (secret) => ctx.output.redactor.add(secret),
      onResult: (done, total) => update(`Calling providers: ${done}/${total}`),
    };
    if (flags.key !== undefined) {
      if (providers.length !== 1)
        throw new UsageError('--key needs exactly one --provider', 'e.g. verify-provider --provider openai --key env:OPENAI_API_KEY');
      const adapter = findProvider(providers[0]!)!;
      const key = await ctx.resolveValue(flags.key, '--key');
      const env = ctx.environment().env;
      const companions: Record<string, string> = {};
      for (const companion of adapter.companions) {
        const value = env[companion.name];
        if (value) companions[companion.name] = value.trim();
      }
      return { results: [await verifySingleKey(adapter, { key, companions }, settings, deps)], names: null };
    }
    const secrets = ctx.laminarSecrets();
    const current = requireAeadKey(secrets);
    const target = ctx.databaseTarget();
    await loadCipher();
    const stored = await usingLaminarDatabase(target, (db) => loadStoredCredentials(db, projects));
    const doctorRing = keyRingFor(
      STORES.find((s) => s.name === 'provider_api_keys')!,
      secrets,
      [],
    );
    const jobs = planVerification(stored.rows, { current, doctorRing, providers: providers.length > 0 ? providers : null });
    return { results: await runVerification(jobs, settings, deps), names: stored.names };
  });

  const document = verifyDocument(results, failing);
  if (flags.junit)
    writeReportFile(
      nodeFileSystem,
      path.resolve(ctx.cwd, flags.junit),
      'the JUnit report',
      ctx.output.redactor.apply(renderJunit(results, failing)),
    );
  if (ctx.githubActions) for (const line of githubAnnotations(results, failing)) ctx.output.note(line);
  emit(ctx.output, document, (doc) => renderVerify(doc, names, ctx.output.color, failing, { all: Boolean(flags.all) }));
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
