import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { runDoctor } from '../core/doctor.js';
import { candidateFlags } from '../core/advice.js';
import { doctorDocument, renderDoctor } from '../report/doctor.js';
import { emit, withProgress } from '../report/output.js';
import type { FlagsOf } from './definitions.js';
import { usingLaminarDatabase } from './using-laminar.js';

export async function doctorCommand(ctx: CommandContext, flags: FlagsOf<'doctor'>): Promise<ExitCodeValue> {
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate.map((text) => ({ text, flag: '--candidate' })));
  const target = ctx.databaseTarget();
  await loadCipher();
  const report = await withProgress(ctx.output, 'Reading stored secrets', (update) =>
    usingLaminarDatabase(target, (db) =>
      runDoctor(
        { db, onProgress: (p) => update(`${p.store}: ${p.scanned} checked, ${p.failing} failing`) },
        { secrets, candidates, batchSize: flags.batchSize, strict: Boolean(flags.strict) },
      ),
    ),
  );
  const document = doctorDocument(report, { envFiles: ctx.global.envFile });
  emit(ctx.output, document, (doc) =>
    renderDoctor(doc, ctx.output.color, {
      all: Boolean(flags.all),
      envFiles: ctx.global.envFile,
      databaseUrlFlag: ctx.global.databaseUrl !== undefined,
      candidates: candidateFlags(candidates.map((key) => key.label)),
    }),
  );
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
