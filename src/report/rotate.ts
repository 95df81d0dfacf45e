/** Rendering of rotation plans and results. */
import type { ChalkInstance } from 'chalk';
import type { RotationResult, RotationStoreReport, StuckValue } from '../core/rotate.js';
import { plural } from './format.js';

export interface RotationDocument {
  version: 1;
  command: 'rotate';
  dryRun: boolean;
  ok: boolean;
  stores: Array<Omit<RotationStoreReport, 'present'> & { present: boolean }>;
  summary: { total: number; rotated: number; alreadyCurrent: number; stuck: number; retried: number };
  stuck: StuckValue[];
  backup: string | null;
}

export function rotationDocument(result: RotationResult, extra: { dryRun: boolean; backup: string | null }): RotationDocument {
  const summary = result.stores.reduce(
    (sum, s) => ({
      total: sum.total + s.total,
      rotated: sum.rotated + s.rotated,
      alreadyCurrent: sum.alreadyCurrent + s.alreadyCurrent,
      stuck: sum.stuck + s.stuck,
      retried: sum.retried + s.retried,
    }),
    { total: 0, rotated: 0, alreadyCurrent: 0, stuck: 0, retried: 0 },
  );
  return { version: 1, command: 'rotate', dryRun: extra.dryRun, ok: summary.stuck === 0, stores: result.stores, summary, stuck: result.stuck, backup: extra.backup };
}

/** How many more rows the chosen stores' tables held at the end than at the start. */
export function rowsAppeared(doc: Pick<RotationDocument, 'stores'>): number {
  // The two workspace_deployments stores count the same table: once per table.
  const byTable = new Map<string, number>();
  for (const s of doc.stores) {
    const table = s.store.split('.')[0]!;
    byTable.set(table, Math.max(byTable.get(table) ?? 0, (s.rowsAtEnd ?? 0) - (s.rowsAtStart ?? 0)));
  }
  return [...byTable.values()].reduce((sum, n) => sum + Math.max(0, n), 0);
}

export function renderRotation(doc: RotationDocument, c: ChalkInstance, context: { to: string; fingerprint: string; rerun: string; variables: string[]; confirming?: boolean }): string {
  const lines: string[] = [];
  lines.push(c.bold(doc.dryRun ? (context.confirming ? 'Rotation plan' : 'Rotation plan (dry run: nothing written)') : 'Rotation'));
  lines.push(`  ${'store'.padEnd(38)} ${'total'.padStart(7)} ${(doc.dryRun ? 'to rotate' : 'rotated').padStart(9)} ${'current'.padStart(8)} ${'stuck'.padStart(6)} ${'retried'.padStart(8)}`);
  for (const s of doc.stores) {
    if (!s.present) {
      lines.push(`  ${s.store.padEnd(38)} ${c.dim('not present')}`);
      continue;
    }
    lines.push(
      `  ${s.store.padEnd(38)} ${String(s.total).padStart(7)} ${String(s.rotated).padStart(9)} ${String(s.alreadyCurrent).padStart(8)} ${(s.stuck ? c.red : c.green)(String(s.stuck).padStart(6))} ${String(s.retried).padStart(8)}`,
    );
  }
  if (doc.stuck.length > 0) {
    lines.push('', c.bold('Stuck values (left byte-for-byte as they were)'));
    for (const v of doc.stuck) {
      const where = v.projectId ? `project ${v.projectId}` : v.workspaceId ? `workspace ${v.workspaceId}` : '';
      lines.push(`  ${c.red('x')} ${v.name} ${c.dim(`[${v.store} ${v.id}]`)} ${where} ${c.red(v.status)}${v.detail ? `: ${v.detail}` : ''}`);
    }
    lines.push('  Name more keys with --from if you have them; otherwise see `lmnr-keys doctor` for each value\'s next step.');
  }
  if (doc.backup) lines.push('', `Backup (old and new ciphertext, mode 0600): ${doc.backup}  ->  undo with: lmnr-keys restore ${doc.backup}`);
  lines.push('');
  if (doc.dryRun) {
    lines.push(`${plural(doc.summary.rotated, 'value')} would be re-sealed under ${context.to} (fingerprint ${context.fingerprint}).${context.confirming ? '' : ' Run again without --dry-run to do it.'}`);
  } else {
    lines.push(doc.ok ? c.green(`Done: ${plural(doc.summary.rotated, 'value')} re-sealed; every value read now opens under ${context.to}.`) : c.red(`Done with problems: ${doc.summary.stuck} stuck.`));
    // Rows inserted while it ran may not have been read: say so rather than claim every value.
    const appeared = rowsAppeared(doc);
    if (appeared > 0) lines.push(c.yellow(`${plural(appeared, 'row')} appeared while it ran (the platform is writing): run the same command again to cover them.`));
    lines.push('');
    lines.push(c.bold('Next steps'));
    // Re-sealing under the key Laminar already runs with needs no restart.
    const alreadyInUse = context.variables.every((variable) => context.to === `env:${variable}`);
    if (alreadyInUse) {
      lines.push(`  The values are now sealed under the key Laminar already uses (${context.variables.join(', ')}): nothing to restart.`, `  Check: ${c.cyan('lmnr-keys doctor')}`);
    } else {
      lines.push(
        `  1. Set the new key (fingerprint ${context.fingerprint}) as ${context.variables.join(' and ')} for BOTH the web app (frontend) and the server (app-server).`,
        '  2. Restart both (docker compose up -d --force-recreate, or kubectl rollout restart).',
        '  3. Run rotate again to catch values the running platform sealed with the old key meanwhile:',
        `       ${c.cyan(context.rerun)}`,
        `  4. Check: ${c.cyan('lmnr-keys doctor')}`,
      );
    }
  }
  return lines.join('\n');
}
