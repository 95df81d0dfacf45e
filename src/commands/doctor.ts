import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { runDoctor, toSecretReport, type Finding } from '../core/doctor.js';
import { candidateFlags } from '../core/advice.js';
import {
  doctorDocumentTail,
  writeFinding,
  renderDoctor,
  renderDoctorHead,
  FindingLines,
  renderFindingsHeading,
  type DoctorRenderOptions,
} from '../report/doctor.js';
import { withProgress } from '../report/output.js';
import { doctorMetrics } from '../report/metrics.js';
import { doctorStepSummary } from '../report/step-summary.js';
import { appendStepSummary } from './step-summary-file.js';
import { targetDocument } from '../report/target.js';
import type { FlagsOf } from './definitions.js';
import { usingLaminarDatabase } from './using-laminar.js';

/**
 * doctor. With --json the document is written as the scan goes (findings in store and id order,
 * then the counts); with --all every failing value is printed as it is found. Either way memory
 * holds counts and the first values, never the whole list.
 */
export async function doctorCommand(ctx: CommandContext, flags: FlagsOf<'doctor'>): Promise<ExitCodeValue> {
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate.map((text) => ({ text, flag: '--candidate' })));
  const target = ctx.databaseTarget();
  await loadCipher();
  const { output } = ctx;
  const renderOptions: DoctorRenderOptions = {
    all: Boolean(flags.all),
    envFiles: ctx.global.envFile,
    databaseUrlFlag: ctx.global.databaseUrl !== undefined,
    candidates: candidateFlags(candidates.map((key) => key.label)),
    doctorFlags: flags.strict ? ['--strict'] : [],
  };
  const secretReports = [secrets.aead, secrets.slack].map(toSecretReport);
  // Streamed findings: the JSON document's array, or --all's lines (named by quarantine advice the
  // verdict decides only at the end: each line advises as if quarantine were advisable, and the
  // verdict above the summary says when it is not).
  // With --json-out, both: the document to its file and the human report (--all's lines too) to stdout.
  const streams: Array<(finding: Finding) => void> = [];
  const document = output.documentWanted ? output.jsonDocument('doctor') : null;
  if (document) {
    document.field('target', targetDocument(target));
    document.field('secrets', secretReports);
    document.beginArray('findings');
    streams.push((finding) => document.itemWith((out) => writeFinding(out, finding)));
  }
  if (!output.jsonMode && flags.all) {
    output.resultLine(renderDoctorHead(secretReports, output.color));
    let first = true;
    const context = { quarantineAdvisable: false, envFiles: ctx.global.envFile, candidates: renderOptions.candidates ?? [] };
    const lines = new FindingLines(output.color, context, output.resultParts());
    streams.push((finding) => {
      if (first) output.resultLine(renderFindingsHeading(output.color));
      first = false;
      lines.write(finding);
    });
  }
  const [only, second] = streams;
  const onFinding: ((finding: Finding) => void) | undefined = second
    ? (finding) => {
        only!(finding);
        second(finding);
      }
    : only;
  const report = await withProgress(output, 'Reading stored secrets', (update) =>
    usingLaminarDatabase(target, (db) =>
      runDoctor(
        { db, onProgress: (p) => update(`${p.store}: ${p.scanned} checked, ${p.failing} failing`), ...(onFinding ? { onFinding } : {}) },
        { secrets, candidates, batchSize: flags.batchSize, strict: Boolean(flags.strict) },
      ),
    ),
  );
  if (document) {
    for (const [name, value] of Object.entries(doctorDocumentTail(report, { envFiles: ctx.global.envFile }))) document.field(name, value);
    document.end(report.verdict.ok);
  }
  if (!output.jsonMode) output.result(renderDoctor(report, output.color, renderOptions, Boolean(flags.all)));
  ctx.recordMetrics(doctorMetrics(report));
  appendStepSummary(ctx, () =>
    doctorStepSummary(report, {
      quarantineAdvisable: report.verdict.quarantineAdvisable,
      envFiles: ctx.global.envFile,
      candidates: renderOptions.candidates ?? [],
    }),
  );
  return report.verdict.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
