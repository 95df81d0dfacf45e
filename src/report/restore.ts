import type { ChalkInstance } from 'chalk';
import type { RestoreResult } from '../core/restore.js';
import { documentOf, type Envelope } from './document.js';
import { plural } from './format.js';

export interface RestoreDocument extends Envelope<'restore'>, RestoreResult {
  dryRun: boolean;
  backup: string;
  /** The backup's last line was cut short and ignored. */
  truncatedLastLine: boolean;
}

/** ok only when every record was restored whole (or already was): a partial restore is never full success. */
export function restoreDocument(result: RestoreResult, extra: { dryRun: boolean; backup: string; truncatedLastLine: boolean }): RestoreDocument {
  return documentOf('restore', result.leftAlone.length === 0 && result.incomplete.length === 0, { ...extra, ...result });
}

export function renderRestore(doc: RestoreDocument, c: ChalkInstance): string {
  const lines = [
    c.bold(doc.dryRun ? `Restore plan from ${doc.backup} (dry run: nothing written)` : `Restore from ${doc.backup}`),
    `  ${plural(doc.total, 'record')}: ${doc.restored} ${doc.dryRun ? 'would be restored' : 'restored'}, ${doc.alreadyRestored} already as in the backup, ${doc.leftAlone.length} left alone`,
  ];
  if (doc.truncatedLastLine) lines.push(c.yellow('  the last line was cut short (a crash while writing it) and was ignored'));
  for (const left of doc.leftAlone) lines.push(`  ${c.yellow('-')} ${left.store} ${left.id}: ${left.reason}`);
  if (doc.incomplete.length > 0) {
    lines.push(c.yellow(`  ${plural(doc.incomplete.length, 'row')} ${doc.dryRun ? 'would be' : 'were'} put back without what was deleted with them:`));
    for (const item of doc.incomplete) lines.push(`  ${c.yellow('!')} ${item.store} ${item.id}: ${item.reason}`);
  }
  return lines.join('\n');
}
