import type { ChalkInstance } from 'chalk';
import type { RestoreResult } from '../core/restore.js';
import { documentOf, type Envelope } from './document.js';
import { plural } from './format.js';

export interface RestoreDocument extends Envelope<'restore'>, RestoreResult {
  dryRun: boolean;
  backup: string;
  /** What wrote the backup: rotate, set or quarantine. */
  operation: string;
  /** The backup's last line was cut short and ignored. */
  truncatedLastLine: boolean;
}

/** ok only when every record was restored whole (or already was): a partial restore is never full success. */
export function restoreDocument(
  result: RestoreResult,
  extra: { dryRun: boolean; backup: string; operation: string; truncatedLastLine: boolean },
): RestoreDocument {
  return documentOf('restore', result.leftAloneCount === 0 && result.incompleteCount === 0 && !result.stopped, { ...extra, ...result });
}

/** `confirming`: the plan shown before the question on a terminal (not a dry run). */
export function renderRestore(doc: RestoreDocument, c: ChalkInstance, confirming = false): string {
  const plan = confirming ? `Restore plan from ${doc.backup}` : `Restore plan from ${doc.backup} (dry run: nothing written)`;
  const lines = [
    c.bold(doc.dryRun ? plan : `Restore from ${doc.backup}`),
    `  ${plural(doc.total, 'record')}: ${doc.restored} ${doc.dryRun ? 'would be restored' : 'restored'}, ` +
      `${doc.alreadyRestored} already as in the backup, ${doc.leftAloneCount} ` +
      `left alone`,
  ];
  if (doc.stopped)
    lines.push(
      c.yellow('  stopped after the batch in flight: the records not reached are untouched; run the same command again to finish'),
    );
  if (doc.truncatedLastLine) lines.push(c.yellow('  the last line was cut short (a crash while writing it) and was ignored'));
  if (doc.notApplied > 0)
    lines.push(
      `  ${plural(doc.notApplied, 'record')} of a batch that never committed: those values were never changed, nothing to put back`,
    );
  for (const left of doc.leftAlone.slice(0, 50)) lines.push(`  ${c.yellow('-')} ${left.store} ${left.id}: ${left.reason}`);
  if (doc.leftAloneCount > 50)
    lines.push(`  ... and ${doc.leftAloneCount - 50} more left alone (--json lists up to ${doc.leftAlone.length})`);
  if (doc.restored > 0 && !doc.dryRun) {
    if (doc.operation === 'rotate')
      lines.push(
        '  These values are sealed under the keys they had before the rotation again: Laminar opens them only ' +
          'while it runs with those keys.',
      );
    if (doc.operation === 'set')
      lines.push(
        '  The replaced rows are back beside the value set sealed: the name is duplicated again (doctor shows ' +
          'it; `lmnr-keys set --keep ID` keeps one).',
      );
  }
  if (doc.incompleteCount > 0) {
    lines.push(
      c.yellow(`  ${plural(doc.incompleteCount, 'row')} ${doc.dryRun ? 'would be' : 'were'} put back without what was deleted with them:`),
    );
    for (const item of doc.incomplete.slice(0, 50)) lines.push(`  ${c.yellow('!')} ${item.store} ${item.id}: ${item.reason}`);
  }
  return lines.join('\n');
}
