/** The quarantine document (written as it goes) and its human rendering. */
import { invocation } from '../core/advice.js';
import type { ChalkInstance } from 'chalk';
import { printable } from '../printable.js';
import type { NamedPlace, QuarantineDependents, QuarantinePlan, QuarantineResult, QuarantineTarget } from '../core/quarantine.js';
import { findStore, type StoreName } from '../stores/stores.js';
import { describeDependents } from '../stores/dependents.js';
import { plural } from './format.js';
import type { JsonElementWriter } from './json-stream.js';

const ACTION_WORDS: Record<QuarantineTarget['action'], string> = {
  delete_row: 'delete the row',
  clear_pair: 'empty the value, keep the row',
};

/** Up to this many targets are listed one by one; more are summarised (--all lists them). */
export const LISTED_TARGETS = 20;

/** A target as one compact JSON line (never the ciphertext: CI archives these documents; backups are the place for it). */
export function writeTarget(out: JsonElementWriter, t: QuarantineTarget): void {
  out.raw('{"store":');
  out.string(t.store);
  out.raw(',"id":');
  out.string(t.id);
  out.raw(',"workspaceId":');
  out.string(t.workspaceId);
  out.raw(',"projectId":');
  out.string(t.projectId);
  out.raw(',"name":');
  out.string(t.name);
  out.raw(',"status":');
  out.string(t.status);
  out.raw(',"detail":');
  out.string(t.detail);
  out.raw(',"action":');
  out.string(t.action);
  out.raw('}');
}

/** One target as a line of the human report. */
export function renderTargetLine(t: QuarantineTarget, c: ChalkInstance): string {
  const where = t.projectId ? `project ${t.projectId}` : t.workspaceId ? `workspace ${t.workspaceId}` : '';
  return (
    `  ${c.red('x')} ${printable(t.name)} ${c.dim(`[${t.store} ${t.id}]`)} ${where} ` +
    `${t.status}${t.detail ? ` (${t.detail})` : ''} -> ${ACTION_WORDS[t.action]}`
  );
}

/** The document's fields after the streamed targets. */
export function quarantineDocumentTail(
  plan: QuarantinePlan,
  result: QuarantineResult | null,
  write: { backup: string | null; backupEstimateBytes: number | null; committed: number; backupComplete: boolean; interrupted: boolean },
) {
  return {
    summary: {
      count: plan.count,
      stores: plan.stores,
      causes: plan.causes,
      places: plan.places,
      placeCount: plan.placeCount,
    },
    dependents: plan.dependents,
    removed: result?.removed ?? 0,
    changed: result?.changed ?? [],
    changedCount: result?.changedCount ?? 0,
    leftOver: result?.leftOver ?? 0,
    interrupted: write.interrupted,
    committed: write.committed,
    backup: write.backup,
    backupComplete: write.backupComplete,
    backupEstimateBytes: write.backupEstimateBytes ?? plan.backupEstimateBytes,
  };
}

function placeLabel(place: NamedPlace): string {
  const workspace = place.workspaceName ? `"${printable(place.workspaceName)}"` : (place.workspaceId ?? 'no workspace');
  return place.projectId
    ? `workspace ${workspace} / project ${place.projectName ? `"${printable(place.projectName)}" (${place.projectId})` : place.projectId}`
    : `workspace ${workspace}`;
}

export interface QuarantineRenderOptions {
  dryRun: boolean;
  /** The plan shown before the question on a terminal (not a dry run). */
  confirming?: boolean;
  /** The targets were printed one by one as they were found (--all). */
  streamed?: boolean;
  /** The run's --env-file paths, repeated in the commands printed. */
  envFiles?: readonly string[];
  result?: QuarantineResult | null;
  backup?: string | null;
  stoppedBy?: string | null;
  committed?: number;
  /** The command that takes these values out (the run's flags, --expect, --yes), for a dry run's last line. */
  rerun?: string;
  /** The command that takes out what a stopped run left (its own --expect). */
  finish?: string;
}

export function renderQuarantine(plan: QuarantinePlan, c: ChalkInstance, options: QuarantineRenderOptions): string {
  const envFiles = options.envFiles ?? [];
  if (plan.count === 0) return c.green('Nothing to quarantine: every stored value opens under some available key.');
  const lines = [c.bold(options.dryRun ? `Values no available key opens (${plan.count})` : `Quarantine of ${plural(plan.count, 'value')}`)];
  const listAll = plan.count <= LISTED_TARGETS;
  if (!options.streamed && listAll) for (const t of plan.sample) lines.push(renderTargetLine(t, c));
  if (!listAll) {
    lines.push('  By cause:');
    for (const cause of plan.causes)
      lines.push(
        `    ${String(cause.count).padStart(8)}  ${cause.status} in ${cause.store} -> ${ACTION_WORDS[findStore(cause.store)?.takeOut ?? 'delete_row']}`,
      );
    lines.push(
      `  Where (${plan.placeCount > plan.places.length ? `the ${plan.places.length} largest of ${plan.placeCount} places` : plural(plan.placeCount, 'place')}):`,
    );
    for (const place of plan.places) lines.push(`    ${String(place.count).padStart(8)}  ${placeLabel(place)}`);
    if (!options.streamed) {
      lines.push(`  The first ${LISTED_TARGETS}:`);
      for (const t of plan.sample.slice(0, LISTED_TARGETS)) lines.push(renderTargetLine(t, c));
      lines.push(`  ... and ${plan.count - LISTED_TARGETS} more: list them all with --all, or --json.`);
    }
  }
  for (const d of plan.dependents) lines.push(describeDependentLine(d, c));
  if (!options.dryRun && !options.confirming) {
    const result = options.result;
    lines.push('', `${plural(result?.removed ?? 0, 'value')} taken out.`);
    if (result && result.changedCount > 0)
      lines.push(
        c.yellow(
          `${result.changedCount} changed between read and write and were left alone: ${result.changed.join(', ')}${result.changedCount > result.changed.length ? ', ...' : ''}`,
        ),
      );
    if (result && result.leftOver > 0)
      lines.push(
        c.yellow(
          `${plural(result.leftOver, 'more value')} fail now than the plan counted: left alone; run quarantine again (--dry-run first) to see them.`,
        ),
      );
    if (options.backup)
      lines.push(
        `Backup (mode 0600, ciphertext only): ${options.backup}  ->  undo with: ${invocation('restore', { envFiles })} ${options.backup}`,
      );
    if (options.stoppedBy)
      lines.push(
        c.yellow(
          `Stopped by ${options.stoppedBy} after the batch in flight: ${plural(options.committed ?? 0, 'value')} taken out in committed batches; ` +
            `the rest: ${options.finish ?? 'run quarantine again'} (--dry-run shows what remains).`,
        ),
      );
    lines.push(
      ...howToReenter(
        plan.stores.filter((s) => s.taken > 0).map((s) => s.store),
        envFiles,
      ),
    );
  } else if (!options.confirming) {
    lines.push(
      '',
      options.rerun
        ? `To take them out (a backup first): ${options.rerun}`
        : 'Run again without --dry-run (and with --yes when no terminal is attached) to take them out.',
    );
  }
  return lines.join('\n');
}

function describeDependentLine(d: QuarantineDependents, c: ChalkInstance): string {
  return d.effect === 'kept'
    ? `  ${c.dim('kept:')} ${describeDependents([d])} reference these ${d.store} rows; the rows stay, so they are untouched`
    : c.red(`  blocked: ${describeDependents([d])} reference these ${d.store} rows; lmnr-keys will not delete rows others depend on`);
}

/** What the operator does next for each kind of value taken out. */
function howToReenter(stores: StoreName[], envFiles: readonly string[]): string[] {
  const lines: string[] = [];
  if (stores.includes('provider_api_keys'))
    lines.push(
      `Re-enter the provider keys that matter with \`${invocation('set', { envFiles })} --project ID --name NAME\` or in the project settings.`,
    );
  for (const name of stores) {
    const note = findStore(name)?.whenTakenOut;
    if (note) lines.push(`${name}: ${note}.`);
  }
  if (stores.includes('workspace_deployments.private_key') || stores.includes('workspace_deployments.data_plane_url')) {
    lines.push('Hybrid deployments: set the deployment up again for those workspaces.');
  }
  return lines;
}
