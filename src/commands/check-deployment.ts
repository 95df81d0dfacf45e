import fs from 'node:fs';
import type { CommandContext } from '../context.js';
import { isDatabaseConfigured, readAllStdin, readProcessEnvironment } from '../config.js';
import { CliError, ExitCode, ExitError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { cleanSecretText } from '../crypto/keys.js';
import { usingDatabase } from '../db/connect.js';
import { countValuesByKey, gatherDeployment, judgeDeployment, keysToCount } from '../core/check-deployment.js';
import { runDockerCli } from '../deployment/docker-cli.js';
import { renderCheckDeployment } from '../report/check-deployment.js';
import { startProgress } from '../report/output.js';

export interface CheckDeploymentFlags {
  file: string[];
  projectDirectory?: string;
  /** A file, '-', or false for --no-containers. */
  containers?: string | false;
  service: string[];
  helmValues: string[];
  manifests?: string;
  /** false with --no-database. */
  database: boolean;
  strict?: boolean;
}

export async function checkDeploymentCommand(ctx: CommandContext, flags: CheckDeploymentFlags): Promise<ExitCodeValue> {
  const { output } = ctx;
  const gathered = await gatherDeployment(
    {
      cwd: process.cwd(),
      shellEnv: readProcessEnvironment(),
      readText: (file) => fs.readFileSync(file, 'utf8'),
      isFile: (file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false,
      readStdin: readAllStdin,
      runDocker: runDockerCli,
    },
    {
      composeFiles: flags.file,
      projectDirectory: flags.projectDirectory ?? null,
      serviceFiles: flags.service,
      containers: typeof flags.containers === 'string' ? flags.containers : null,
      noContainers: flags.containers === false,
      helmValues: flags.helmValues,
      manifests: flags.manifests ?? null,
    },
  );
  // Defence in depth: every key value read is known to the redactor, raw and cleaned.
  for (const entry of gathered.received) {
    output.redactor.add(entry.value);
    if (entry.value) output.redactor.add(cleanSecretText(entry.value).value);
  }

  let database: Parameters<typeof judgeDeployment>[1];
  let databaseError: CliError | null = null;
  if (!flags.database) {
    database = { checked: false, reason: 'skipped (--no-database)' };
  } else if (!isDatabaseConfigured(ctx.environment().env, ctx.global.databaseUrl)) {
    database = { checked: false, reason: 'skipped: no database configured (--database-url, DATABASE_URL, or --env-file with Laminar\'s POSTGRES_* settings)' };
  } else {
    const progress = await startProgress(output, 'Trying the keys found on the stored values');
    try {
      const target = ctx.databaseTarget();
      await loadCipher();
      const counts = await usingDatabase(target, {}, ({ db }) => countValuesByKey(db, keysToCount(gathered)));
      database = { checked: true, counts };
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      databaseError = error;
      database = { checked: false, reason: 'failed', error: { exitCode: error.exitCode, message: error.message, hint: error.hint ?? null } };
    } finally {
      progress.stop();
    }
  }

  const report = judgeDeployment(gathered, database, { strict: Boolean(flags.strict) });
  if (output.jsonMode) output.json(report);
  else output.result(renderCheckDeployment(report, output.color));
  if (databaseError) {
    // The file findings are out; the database part failed: its own exit code, explained once.
    if (output.jsonMode) throw new ExitError(databaseError.exitCode);
    throw databaseError;
  }
  return report.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
