/**
 * Appends a step summary to $GITHUB_STEP_SUMMARY (a file per step that GitHub renders on the
 * run's page). The summary is a courtesy beside the run's real outputs: a file that cannot be
 * written is a warning on stderr, never a changed exit code.
 */
import fs from 'node:fs';
import type { CommandContext } from '../context.js';
import { errorCode } from '../files/file-error.js';
import { renderStepSummary, type StepSummary } from '../report/step-summary.js';

export function appendStepSummary(ctx: CommandContext, summary: () => StepSummary): void {
  const file = ctx.stepSummaryFile;
  if (!file) return;
  try {
    fs.appendFileSync(file, ctx.output.redactor.apply(renderStepSummary(summary())));
  } catch (error) {
    ctx.output.note(`${ctx.output.color.yellow('warning:')} cannot append the step summary to ${file} (${errorCode(error)})`);
  }
}
