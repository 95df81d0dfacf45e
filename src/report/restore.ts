import type { ChalkInstance } from 'chalk';
import type { RestoreResult } from '../core/restore.js';
import { plural } from './format.js';

export function renderRestore(doc: RestoreResult & { dryRun: boolean; backup: string }, c: ChalkInstance): string {
  const lines = [
    c.bold(doc.dryRun ? `Restore plan from ${doc.backup} (dry run: nothing written)` : `Restore from ${doc.backup}`),
    `  ${plural(doc.total, 'record')}: ${doc.restored} ${doc.dryRun ? 'would be restored' : 'restored'}, ${doc.alreadyRestored} already as in the backup, ${doc.leftAlone.length} left alone`,
  ];
  for (const left of doc.leftAlone) lines.push(`  ${c.yellow('-')} ${left.store} ${left.id}: ${left.reason}`);
  if (doc.incomplete.length > 0) {
    lines.push(c.yellow(`  ${plural(doc.incomplete.length, 'row')} ${doc.dryRun ? 'would be' : 'were'} put back without what was deleted with them:`));
    for (const item of doc.incomplete) lines.push(`  ${c.yellow('!')} ${item.store} ${item.id}: ${item.reason}`);
  }
  return lines.join('\n');
}
