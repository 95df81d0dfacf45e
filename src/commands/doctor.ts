import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { usingDatabase } from '../db/connect.js';
import { runDoctor } from '../core/doctor.js';
import { renderDoctor } from '../report/doctor.js';
import { startProgress } from '../report/output.js';
import { loadCipher } from '../crypto/aead.js';

export interface DoctorFlags {
  candidate: string[];
  strict: boolean;
  batchSize: number;
}

export async function doctorCommand(ctx: CommandContext, flags: DoctorFlags): Promise<ExitCodeValue> {
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate, '--candidate');
  const target = ctx.databaseTarget();
  await loadCipher();
  const progress = await startProgress(ctx.output, 'Reading stored secrets');
  const report = await usingDatabase(target, {}, ({ db }) =>
    runDoctor(
      { db, onProgress: (p) => progress.update(`${p.store}: ${p.scanned} checked, ${p.failing} failing`) },
      { secrets, candidates, batchSize: flags.batchSize, strict: flags.strict },
    ),
  ).finally(() => progress.stop());
  if (ctx.output.jsonMode) ctx.output.json(report);
  else ctx.output.result(renderDoctor(report, ctx.output.color, flags.strict));
  return report.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
