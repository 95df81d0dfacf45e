import { invocation } from '../core/advice.js';
import type { ChalkInstance } from 'chalk';
import { printable } from '../printable.js';
import type { QuarantineDependents, QuarantinePlan, QuarantineResult, QuarantineTarget } from '../core/repair.js';
import { documentOf, type Envelope } from './document.js';
import { findStore } from '../stores/stores.js';
import { describeDependents } from '../stores/dependents.js';
import { plural } from './format.js';

const ACTION_WORDS: Record<QuarantineTarget['action'], string> = {
  delete_row: 'delete the row',
  clear_pair: 'empty the value, keep the row',
};

export interface QuarantineDocument extends Envelope<'quarantine'> {
  dryRun: boolean;
  /** What is (or would be) taken out; never the ciphertext itself. */
  targets: Array<Omit<QuarantineTarget, 'ciphertextHex' | 'nonceHex'>>;
  dependents: QuarantineDependents[];
  removed: number;
  changed: string[];
  backup: string | null;
}

/** The document never carries ciphertext: it is archived by CI jobs, backups are the place for it. */
export function quarantineDocument(
  plan: QuarantinePlan,
  result: QuarantineResult | null,
  extra: { dryRun: boolean; backup: string | null },
): QuarantineDocument {
  return documentOf('quarantine', true, {
    dryRun: extra.dryRun,
    targets: plan.targets.map(({ ciphertextHex: _ciphertext, nonceHex: _nonce, ...rest }) => rest),
    dependents: plan.dependents,
    removed: result?.removed ?? 0,
    changed: result?.changed ?? [],
    backup: extra.backup,
  });
}

/** `envFiles`: the run's --env-file paths, repeated in the commands printed. */
/** `confirming`: the plan shown before the question on a terminal (not a dry run). */
export function renderQuarantine(doc: QuarantineDocument, c: ChalkInstance, envFiles: readonly string[] = [], confirming = false): string {
  if (doc.targets.length === 0) return c.green('Nothing to quarantine: every stored value opens under some available key.');
  const lines = [c.bold(doc.dryRun ? `Values no available key opens (${doc.targets.length})` : 'Quarantine')];
  for (const t of doc.targets) {
    const where = t.projectId ? `project ${t.projectId}` : t.workspaceId ? `workspace ${t.workspaceId}` : '';
    lines.push(
      `  ${c.red('x')} ${printable(t.name)} ${c.dim(`[${t.store} ${t.id}]`)} ${where} ` +
        `${t.status}${t.detail ? ` (${t.detail})` : ''} -> ${ACTION_WORDS[t.action]}`,
    );
  }
  for (const d of doc.dependents) {
    lines.push(
      d.effect === 'kept'
        ? `  ${c.dim('kept:')} ${describeDependents([d])} reference these ${d.store} rows; the rows stay, so they are untouched`
        : c.red(`  blocked: ${describeDependents([d])} reference these ${d.store} rows; lmnr-keys will not delete rows others depend on`),
    );
  }
  if (!doc.dryRun) {
    lines.push('', `${plural(doc.removed, 'value')} taken out.`);
    if (doc.changed.length > 0)
      lines.push(c.yellow(`${doc.changed.length} changed since the plan and were left alone: ${doc.changed.join(', ')}`));
    if (doc.backup)
      lines.push(`Backup (mode 0600, ciphertext only): ${doc.backup}  ->  undo with: ${invocation('restore', { envFiles })} ${doc.backup}`);
    lines.push(...howToReenter(doc.targets, envFiles));
  } else if (!confirming) {
    lines.push('', 'Run again without --dry-run (and with --yes when no terminal is attached) to take them out.');
  }
  return lines.join('\n');
}

/** What the operator does next for each kind of value taken out. */
function howToReenter(targets: Array<Pick<QuarantineTarget, 'store'>>, envFiles: readonly string[]): string[] {
  const stores = new Set(targets.map((t) => t.store));
  const lines: string[] = [];
  if (stores.has('provider_api_keys'))
    lines.push(
      `Re-enter the provider keys that matter with \`${invocation('set', { envFiles })} --project ID --name NAME\` or in the project settings.`,
    );
  for (const name of stores) {
    const note = findStore(name)?.whenTakenOut;
    if (note) lines.push(`${name}: ${note}.`);
  }
  if (stores.has('workspace_deployments.private_key') || stores.has('workspace_deployments.data_plane_url')) {
    lines.push('Hybrid deployments: set the deployment up again for those workspaces.');
  }
  return lines;
}
