import type { ChalkInstance } from 'chalk';
import type { RestoreResult } from '../core/restore.js';
import { plural } from './format.js';

export function renderRestore(doc: RestoreResult & { dryRun: boolean; backup: string }, c: ChalkInstance): string {
  const lines = [
    c.bold(doc.dryRun ? `Restore plan from ${doc.backup} (dry run: nothing written)` : `Restore from ${doc.backup}`),
    `  ${plural(doc.total, 'record')}: ${doc.restored} ${doc.dryRun ? 'would be restored' : 'restored'}, ${doc.alreadyRestored} already as in the backup, ${doc.leftAlone.length} left alone`,
  ];
  for (const left of doc.leftAlone) lines.push(`  ${c.yellow('-')} ${left.store} ${left.id}: ${left.reason}`);
  return lines.join('\n');
}
