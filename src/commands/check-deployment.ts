import fs from 'node:fs';
import type { CommandContext } from '../context.js';
import { isDatabaseConfigured } from '../config/database-target.js';
import { CliError, ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { cleanSecretText } from '../crypto/keys.js';
import { countValuesByKey, gatherDeployment, judgeDeployment, keysToCount } from '../core/check-deployment.js';
import { externalCommand } from '../deployment/external-command.js';
import { checkDeploymentDocument, renderCheckDeployment } from '../report/check-deployment.js';
import { emit, withProgress } from '../report/output.js';
import { deploymentMetrics } from '../report/metrics.js';
import { deploymentStepSummary } from '../report/step-summary.js';
import { appendStepSummary } from './step-summary-file.js';
import type { FlagsOf } from './definitions.js';
import { usingLaminarDatabase } from './using-laminar.js';

export async function checkDeploymentCommand(ctx: CommandContext, flags: FlagsOf<'check-deployment'>): Promise<ExitCodeValue> {
  const { output } = ctx;
  if (!flags.kubectl && (flags.namespace !== undefined || flags.context !== undefined))
    throw new UsageError('-n/--namespace and --context go with --kubectl', 'add --kubectl to ask the cluster');
  const gathered = await gatherDeployment(
    {
      cwd: ctx.cwd,
      shellEnv: ctx.shellEnvironment,
      readText: (file) => fs.readFileSync(file, 'utf8'),
      isFile: (file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false,
      readStdin: ctx.readStdin,
      runDocker: externalCommand('docker', { timeoutMs: 15_000, maxBytes: 64 * 1024 * 1024 }),
      runKubectl: externalCommand('kubectl', { timeoutMs: 60_000, maxBytes: 256 * 1024 * 1024 }),
    },
    {
      composeFiles: flags.file,
      projectDirectory: flags.projectDirectory ?? null,
      projectName: flags.projectName || null,
      profiles: flags.profile,
      serviceFiles: flags.service,
      containers: typeof flags.containers === 'string' ? flags.containers : null,
      noContainers: flags.containers === false,
      helmValues: flags.helmValues,
      manifests: flags.manifests ?? null,
      kubectl: flags.kubectl ? { namespace: flags.namespace ?? null, context: flags.context ?? null } : null,
    },
  );
  // Defence in depth: every key value read is known to the redactor, raw and cleaned.
  for (const entry of [...gathered.received, ...gathered.pods]) {
    output.redactor.add(entry.value);
    if (entry.value) output.redactor.add(cleanSecretText(entry.value).value);
  }

  let database: Parameters<typeof judgeDeployment>[1];
  let databaseError: CliError | null = null;
  if (!flags.database) {
    database = { checked: false, reason: 'skipped (--no-database)' };
  } else if (!isDatabaseConfigured(ctx.environment().env, ctx.global.databaseUrl)) {
    database = {
      checked: false,
      reason: "skipped: no database configured (--database-url, DATABASE_URL, or --env-file with Laminar's POSTGRES_* settings)",
    };
  } else {
    try {
      const target = ctx.databaseTarget();
      await loadCipher();
      const counts = await withProgress(output, 'Trying the keys found on the stored values', () =>
        usingLaminarDatabase(target, (db) => countValuesByKey(db, keysToCount(gathered))),
      );
      database = { checked: true, counts };
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      databaseError = error;
      database = {
        checked: false,
        reason: 'failed',
        error: { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null },
      };
    }
  }

  const document = checkDeploymentDocument(judgeDeployment(gathered, database, { strict: Boolean(flags.strict) }));
  emit(output, document, (doc) => renderCheckDeployment(doc, output.color));
  ctx.recordMetrics(deploymentMetrics(document.findings));
  appendStepSummary(ctx, () => deploymentStepSummary(document));
  if (databaseError) {
    // The file findings are out; the database part failed: its own exit code, explained once
    // (in the JSON document, or by the entry point on stderr).
    if (output.jsonMode) {
      output.note(`${output.color.red('error:')} ${databaseError.message}`);
      return databaseError.exitCode;
    }
    throw databaseError;
  }
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
