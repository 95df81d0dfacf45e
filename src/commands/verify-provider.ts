import path from 'node:path';
import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { keyRingFor } from '../core/keyring.js';
import {
  countResult,
  newVerifySummary,
  verifySingleKey,
  verifyStoredCredentials,
  type ProbeDeps,
  type ProbeSettings,
  type VerifyResult,
  type VerifyStatus,
} from '../core/verify.js';
import { JunitFile } from './junit-file.js';
import { lookUpNames, type NameDirectory } from '../stores/scan.js';
import { findProvider, PROVIDER_NAMES, type ProviderName } from '../providers/index.js';
import { STORES } from '../stores/stores.js';
import { withProgress } from '../report/output.js';
import { verifyMetrics } from '../report/metrics.js';
import { verifyStepSummary } from '../report/step-summary.js';
import { appendStepSummary } from './step-summary-file.js';
import { targetDocument } from '../report/target.js';
import {
  FAILABLE_STATUSES,
  GithubAnnotations,
  JUNIT_TAIL,
  junitHead,
  junitRunFailed,
  junitTestcase,
  renderResultRow,
  renderVerify,
  VerifyReportSample,
  verifyDocumentTail,
  writeVerifyResult,
} from '../report/verify.js';
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
  // Every result is streamed as it is known: the JSON document, --all's lines, the JUnit file, the
  // annotations; the human report keeps counts and the first ones (VerifyReportSample).
  const { output } = ctx;
  const c = output.color;
  const summary = newVerifySummary();
  let failingCount = 0;
  const sample = new VerifyReportSample();
  const annotations = ctx.githubActions ? new GithubAnnotations(failing, (line) => output.note(line)) : null;
  // From here a run that fails still replaces the JUnit report (with one error testcase): a CI
  // workspace kept between runs must never show the last run's results as this one's.
  const junit = flags.junit
    ? new JunitFile(path.resolve(ctx.cwd, flags.junit), (text) => output.redactor.apply(text), junitRunFailed)
    : null;
  const failRunOn = <T>(work: () => T): T => {
    try {
      return work();
    } catch (error) {
      junit?.failRun(error instanceof Error ? error.message : String(error));
      throw error;
    }
  };
  // The database, for a run that reads one (not --key): named before anything is read.
  const target = flags.key === undefined ? failRunOn(() => ctx.databaseTarget()) : null;
  const document = output.documentWanted ? output.jsonDocument('verify-provider') : null;
  if (target) document?.field('target', targetDocument(target));
  document?.beginArray('results');
  const onResult = (result: VerifyResult) => {
    countResult(summary, result);
    if (failing(result)) failingCount += 1;
    sample.add(result);
    document?.itemWith((out) => writeVerifyResult(out, result));
    if (flags.all && !output.jsonMode) output.resultLine(renderResultRow(result, c, true));
    junit?.add(junitTestcase(result, failing));
    annotations?.add(result);
  };
  let names: NameDirectory | null = null;
  try {
    await withProgress(output, 'Calling providers', async (update) => {
      const deps: ProbeDeps = {
        fetch: globalThis.fetch,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        registerSecret: (secret) => output.redactor.add(secret),
        onResult: (done, total) => update(`Calling providers: ${done}/${total}`),
      };
      if (flags.key !== undefined) {
        if (providers.length !== 1)
          throw new UsageError('--key needs exactly one --provider', 'e.g. verify-provider --provider openai --key env:OPENAI_API_KEY');
        const adapter = findProvider(providers[0]!)!;
        const { value: key } = await ctx.resolveValue(flags.key, '--key');
        const env = ctx.environment().env;
        const companions: Record<string, string> = {};
        for (const companion of adapter.companions) {
          const value = env[companion.name];
          if (value) companions[companion.name] = value.trim();
        }
        onResult(await verifySingleKey(adapter, { key, companions }, settings, deps));
        return;
      }
      const secrets = ctx.laminarSecrets();
      const current = requireAeadKey(secrets);
      await loadCipher();
      const doctorRing = keyRingFor(
        STORES.find((s) => s.name === 'provider_api_keys')!,
        secrets,
        [],
      );
      await usingLaminarDatabase(target!, async (db) => {
        await verifyStoredCredentials(
          db,
          { current, doctorRing, providers: providers.length > 0 ? providers : null, projectIds: projects },
          settings,
          deps,
          onResult,
        );
        // Names only for what the human report shows.
        const shown = [...sample.first, ...sample.notOk];
        names = await lookUpNames(db, [...new Set(shown.flatMap((r) => (r.projectId ? [r.projectId] : [])))], []);
      });
    });
  } catch (error) {
    junit?.failRun(error instanceof Error ? error.message : String(error));
    throw error;
  }
  junit?.finish(junitHead(summary.total, failingCount, summary.byStatus.skipped ?? 0), JUNIT_TAIL);
  annotations?.finish(summary);
  const ok = failingCount === 0;
  ctx.recordMetrics(verifyMetrics(summary));
  appendStepSummary(ctx, () => verifyStepSummary(summary, sample.notOk, failingCount, failing));
  if (document) {
    for (const [name, value] of Object.entries(verifyDocumentTail(summary, failingCount))) document.field(name, value);
    document.end(ok);
  }
  if (!output.jsonMode) {
    output.result(
      renderVerify(summary, sample, failingCount, names, c, failing, { all: Boolean(flags.all), streamed: Boolean(flags.all) }),
    );
  }
  return ok ? ExitCode.healthy : ExitCode.problemsFound;
}
