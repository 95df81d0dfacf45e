import type { ChalkInstance } from 'chalk';
import type { QuarantineTarget } from '../core/repair.js';
import { plural } from './format.js';

export function renderQuarantine(
  doc: { targets: Array<Omit<QuarantineTarget, 'ciphertextHex' | 'nonceHex'>>; dryRun: boolean; removed: number; changed: string[]; backup: string | null },
  c: ChalkInstance,
): string {
  if (doc.targets.length === 0) return c.green('Nothing to quarantine: every stored value opens under some available key.');
  const lines = [c.bold(doc.dryRun ? `Values no available key opens (${doc.targets.length})` : 'Quarantine')];
  for (const t of doc.targets) {
    const action = t.store.startsWith('workspace_deployments') ? 'clear the pair' : 'delete the row';
    const where = t.projectId ? `project ${t.projectId}` : t.workspaceId ? `workspace ${t.workspaceId}` : '';
    lines.push(`  ${c.red('x')} ${t.name} ${c.dim(`[${t.store} ${t.id}]`)} ${where} ${t.status}${t.detail ? ` (${t.detail})` : ''} -> ${action}`);
  }
  if (!doc.dryRun) {
    lines.push('', `${plural(doc.removed, 'value')} taken out.`);
    if (doc.changed.length > 0) lines.push(c.yellow(`${doc.changed.length} changed since the plan and were left alone: ${doc.changed.join(', ')}`));
    if (doc.backup) lines.push(`Backup (mode 0600, ciphertext only): ${doc.backup}  ->  undo with: lmnr-keys restore ${doc.backup}`);
    lines.push('Re-enter the keys that matter with `lmnr-keys set --project ID --name NAME` or in the web UI.');
  } else {
    lines.push('', 'Run again without --dry-run (and with --yes when no terminal is attached) to take them out.');
  }
  return lines.join('\n');
}
