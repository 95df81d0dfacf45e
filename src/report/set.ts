/** The set document and its rendering (plan and result). */
import { invocation } from '../core/advice.js';
import type { ChalkInstance } from 'chalk';
import type { SetPlan, SetResult } from '../core/repair.js';
import { documentOf, type Envelope } from './document.js';
import { plural } from './format.js';

export interface SetDocument extends Envelope<'set'> {
  dryRun: boolean;
  projectId: string;
  name: string;
  /** Every row of the name before the run, and whether it opened under the current key. */
  existing: Array<{ id: string; opensUnderCurrentKey: boolean }>;
  newId: string | null;
  keptId: string | null;
  replaced: string[];
  backup: string | null;
}

export function setDocument(plan: SetPlan, result: SetResult | null, extra: { dryRun: boolean; backup: string | null }): SetDocument {
  const replaced = result?.replaced ?? plan.rows.filter((row) => row.id !== plan.keepId).map((row) => row.id);
  return documentOf('set', true, {
    dryRun: extra.dryRun,
    projectId: plan.projectId,
    name: plan.name,
    existing: plan.rows.map((row) => ({ id: row.id, opensUnderCurrentKey: row.opensUnderCurrentKey })),
    newId: result?.newId ?? null,
    keptId: plan.keepId,
    replaced,
    backup: extra.backup,
  });
}

function describeRows(plan: SetPlan, ids: string[]): string {
  if (ids.length === 0) return 'no previous row';
  const rows = ids.map(
    (id) => `${id} (${plan.rows.find((r) => r.id === id)?.opensUnderCurrentKey ? 'opens' : 'does not open'} under the current key)`,
  );
  return `${plural(ids.length, 'row')}: ${rows.join(', ')}`;
}

/** What set will do, shown before the question and by --dry-run. */
export function renderSetPlan(plan: SetPlan, fingerprint: string, c: ChalkInstance): string {
  const removed = plan.rows.filter((row) => row.id !== plan.keepId).map((row) => row.id);
  const head = plan.keepId
    ? `Keep ${plan.name} row ${plan.keepId} of project ${plan.projectId} and remove the other ${describeRows(plan, removed)}.`
    : `Seal a new ${plan.name} for project ${plan.projectId} under AEAD_SECRET_KEY ` +
      `(fingerprint ${fingerprint}), replacing ${describeRows(plan, removed)}.`;
  return `${c.bold('Set plan')}\n  ${head}`;
}

export function renderSet(
  doc: SetDocument,
  fingerprint: string,
  c: ChalkInstance,
  plan: SetPlan,
  envFiles: readonly string[] = [],
): string {
  if (doc.dryRun) return `${renderSetPlan(plan, fingerprint, c)}\n\nDry run: nothing written. Run again without --dry-run (and with --yes when no terminal is attached) to do it.`;
  const lines = [
    doc.keptId
      ? `Kept ${doc.name} row ${doc.keptId} of project ${doc.projectId}; removed ${describeRows(plan, doc.replaced)}.`
      : `Sealed ${doc.name} for project ${doc.projectId} under AEAD_SECRET_KEY (fingerprint ` +
        `${fingerprint}) as row ${doc.newId}, replacing ${describeRows(plan, doc.replaced)}.`,
  ];
  if (doc.backup)
    lines.push(
      `Backup of the removed rows (mode 0600, ciphertext only): ${doc.backup}  ->  undo with: ${invocation('restore', { envFiles })} ${doc.backup}`,
    );
  return lines.join('\n');
}
