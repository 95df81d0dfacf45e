/** The rotate document, its human rendering, and the runbook printed after a rotation. */
import { envFileFlags, invocation, projectDirectoryOf } from '../core/advice.js';
import path from 'node:path';
import type { ChalkInstance } from 'chalk';
import { printable } from '../printable.js';
import { STUCK_LISTED, type RotationResult, type RotationStoreReport, type StuckValue } from '../core/rotate.js';
import type { SecretKey } from '../crypto/keys.js';
import type { StoreDefinition } from '../stores/stores.js';
import { documentOf, type Envelope } from './document.js';
import { plural } from './format.js';

export interface RotationDocument extends Envelope<'rotate'> {
  dryRun: boolean;
  stores: RotationStoreReport[];
  summary: { total: number; rotated: number; alreadyCurrent: number; stuck: number; retried: number };
  stuck: StuckValue[];
  backup: string | null;
  /** The backup holds old ciphertexts sealed under Laminar's public default key: plaintext in effect. */
  publicDefaultInBackup: boolean;
  /** Slack tokens a --from key opens that stay under it because slack_integrations was not rotated. */
  slackLeftUnderFrom: number;
  /** Stopped by a signal between batches: what was done is committed, the rest is for the next run. */
  interrupted: boolean;
  /** Values re-sealed in committed batches (every batch commits whole). */
  committed: number;
  /** Every committed value has its record on disk in the backup. */
  backupComplete: boolean;
  /** The backup's estimated size (checked against its disk's free space before the first write); null when not measured. */
  backupEstimateBytes: number | null;
}

export function rotationDocument(
  result: RotationResult,
  extra: {
    dryRun: boolean;
    backup: string | null;
    slackUnderFrom: number;
    publicDefaultInBackup: boolean;
    interrupted?: boolean;
    committed?: number;
    backupComplete?: boolean;
    backupEstimateBytes?: number | null;
  },
): RotationDocument {
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
  const interrupted = extra.interrupted ?? false;
  return documentOf('rotate', summary.stuck === 0 && !interrupted, {
    dryRun: extra.dryRun,
    stores: result.stores,
    summary,
    stuck: result.stuck,
    backup: extra.backup,
    publicDefaultInBackup: extra.publicDefaultInBackup,
    slackLeftUnderFrom: extra.slackUnderFrom,
    interrupted,
    committed: extra.committed ?? 0,
    backupComplete: extra.backupComplete ?? true,
    backupEstimateBytes: extra.backupEstimateBytes ?? null,
  });
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

/** What to do after a rotation that Laminar's running services do not know about yet. */
export interface Runbook {
  /** True when --to is already the key every service runs with: nothing to restart. */
  alreadyInUse: boolean;
  steps: string[];
}

interface RunbookFlags {
  from: string[];
  to: string;
  store: string[];
}

/** A reference as it can be printed and re-used (never a literal key or stdin). */
function reusable(reference: string): string | null {
  return /^(env:|file:|laminar-default$)/.test(reference) ? reference : null;
}

/**
 * The steps after a rotation. The old key must be kept before it is replaced: the running
 * platform keeps sealing with it until every service is recreated, and the catch-up run
 * (step 4) needs it. That run names the saved file, never `env:` of the variable that step 2
 * changes, and keeps the run's --env-file.
 */
export function buildRunbook(
  flags: RunbookFlags,
  /** The run's `--env-file` paths, repeated in every command. */
  envFiles: readonly string[],
  to: SecretKey,
  stores: StoreDefinition[],
  current: Partial<Record<string, SecretKey | null>>,
  keyFolder: string,
  slackUnderFrom = 0,
): Runbook {
  const variables = [...new Set(stores.map((s) => s.secretVariable))];
  const configFlags = envFileFlags(envFiles);
  const alreadyInUse = variables.every((variable) => current[variable] != null && current[variable]!.fingerprint === to.fingerprint);
  if (alreadyInUse) {
    // Slack tokens a --from key opens were left out (slack_integrations is rotated only when named): their step still applies.
    const steps =
      slackUnderFrom > 0 && !stores.some((store) => store.name === 'slack_integrations')
        ? [
            `Re-seal the ${slackUnderFrom} Slack token${slackUnderFrom === 1 ? '' : 's'} still under a --from key, once ` +
              `SLACK_ENCRYPTION_KEY holds the key Laminar opens them with (on Helm it follows AEAD_SECRET_KEY when unset; ` +
              `set it yourself otherwise): ${[
                'lmnr-keys rotate',
                ...configFlags,
                '--store slack_integrations',
                ...flags.from.map((r) => `--from ${reusable(r) ?? '<the old key>'}`),
                '--to env:SLACK_ENCRYPTION_KEY',
                '--yes',
              ].join(' ')}`,
          ]
        : [];
    return { alreadyInUse, steps };
  }
  const saved = variables
    .filter((variable) => current[variable] != null && current[variable]!.fingerprint !== to.fingerprint)
    .map((variable) => ({ variable, file: path.join(keyFolder, `old-${variable}-${current[variable]!.fingerprint}.key`) }));
  const replaced = new Set(saved.map((s) => `env:${s.variable}`));
  const fromRefs = [
    ...saved.map((s) => `file:${s.file}`),
    ...flags.from.filter((ref) => !replaced.has(ref)).map((ref) => reusable(ref) ?? '<the other old key>'),
  ];
  const toRef = variables.length === 1 ? `env:${variables[0]}` : (reusable(flags.to) ?? '<the new key>');
  const catchUp = [
    'lmnr-keys rotate',
    ...configFlags,
    ...flags.store.map((s) => `--store ${s}`),
    ...[...new Set(fromRefs)].map((r) => `--from ${r}`),
    `--to ${toRef}`,
    '--yes',
  ].join(' ');
  // Slack tokens a --from key opens, left out of this rotation: on Helm SLACK_ENCRYPTION_KEY follows
  // AEAD_SECRET_KEY when unset, so after step 2 the services open Slack tokens with the new key too.
  const slackCatchUp =
    slackUnderFrom > 0 && !stores.some((store) => store.name === 'slack_integrations')
      ? [
          'lmnr-keys rotate',
          ...configFlags,
          '--store slack_integrations',
          ...[...new Set(fromRefs)].map((r) => `--from ${r}`),
          '--to env:SLACK_ENCRYPTION_KEY',
          '--yes',
        ].join(' ')
      : null;
  const steps: string[] = [];
  for (const s of saved) {
    steps.push(
      `Keep the old key before you replace it (a 0600 file; never overwrites): ` +
        `lmnr-keys save-key ${[...configFlags, `env:${s.variable}`].join(' ')} ` +
        `--fingerprint ${current[s.variable]!.fingerprint} --out ${s.file}`,
    );
  }
  steps.push(
    `Set the new key (fingerprint ${to.fingerprint}) as ${variables.join(' and ')} ` +
      `for every Laminar service that reads it: frontend and app-server (and app-server-consumer ` +
      `in Helm).`,
    `Recreate them so they read it: ${['docker compose', ...projectDirectoryOf(envFiles)].join(' ')} up -d --force-recreate (a restart keeps the old ` +
      'environment), or kubectl rollout restart deployment/laminar-frontend deployment/laminar-app-server ' +
      'deployment/laminar-app-server-consumer.',
    `Re-seal what the platform sealed with the old key meanwhile: ${catchUp}` +
      (slackCatchUp
        ? `; and the ${slackUnderFrom} Slack token${slackUnderFrom === 1 ? '' : 's'} ` +
          `under the old key, once SLACK_ENCRYPTION_KEY holds the key Laminar opens ` +
          `them with (on Helm it follows AEAD_SECRET_KEY when unset; set it yourself ` +
          `otherwise): ${slackCatchUp}`
        : ''),
    `Check: ${invocation('check-deployment', { envFiles })} && ${invocation('doctor', { envFiles })}`,
  );
  if (saved.length > 0) steps.push(`Once doctor is healthy, delete the old key file${saved.length > 1 ? 's' : ''} and the backup.`);
  return { alreadyInUse, steps };
}

export interface RotationRenderContext {
  to: string;
  fingerprint: string;
  variables: string[];
  runbook: Runbook;
  confirming?: boolean;
  /** How to run it again: the same command, or with another --backup path when the run named one (it now exists). */
  rerun: string;
  /** The run named its database with --database-url: printed commands need it added (it holds the password, so it is not printed). */
  databaseUrlFlag: boolean;
  /** The run's --env-file flags, repeated in the commands printed. */
  envFiles?: readonly string[];
}

export function renderRotation(doc: RotationDocument, c: ChalkInstance, context: RotationRenderContext): string {
  const lines: string[] = [];
  lines.push(c.bold(doc.dryRun ? (context.confirming ? 'Rotation plan' : 'Rotation plan (dry run: nothing written)') : 'Rotation'));
  lines.push(
    `  ${'store'.padEnd(38)} ${'total'.padStart(7)} ${(doc.dryRun ? 'to rotate' : 'rotated').padStart(9)} ` +
      `${'current'.padStart(8)} ${'stuck'.padStart(6)} ${'retried'.padStart(8)}`,
  );
  for (const s of doc.stores) {
    if (!s.present) {
      lines.push(`  ${s.store.padEnd(38)} ${c.dim('not present')}`);
      continue;
    }
    lines.push(
      `  ${s.store.padEnd(38)} ${String(s.total).padStart(7)} ${String(s.rotated).padStart(9)} ` +
        `${String(s.alreadyCurrent).padStart(8)} ${(s.stuck ? c.red : c.green)(String(s.stuck).padStart(6))} ` +
        `${String(s.retried).padStart(8)}`,
    );
  }
  if (doc.summary.stuck > 0) {
    lines.push('', c.bold('Stuck values (left byte-for-byte as they were)'));
    const shown = doc.stuck.slice(0, 50);
    for (const v of shown) {
      const where = v.projectId ? `project ${v.projectId}` : v.workspaceId ? `workspace ${v.workspaceId}` : '';
      lines.push(
        `  ${c.red('x')} ${printable(v.name)} ${c.dim(`[${v.store} ${v.id}]`)} ${where} ` +
          `${c.red(v.status)}${v.detail ? `: ${v.detail}` : ''}`,
      );
    }
    if (doc.summary.stuck > shown.length)
      lines.push(
        `  ... and ${doc.summary.stuck - shown.length} more (--json lists the first ${STUCK_LISTED}; \`${invocation('doctor', context)} --all\` lists every value that fails)`,
      );
    lines.push(
      `  Name more keys with --from if you have them; otherwise see \`${invocation('doctor', context)}\` for each value's next step.`,
    );
  }
  if (doc.slackLeftUnderFrom > 0) {
    lines.push(
      '',
      c.yellow(
        `${plural(doc.slackLeftUnderFrom, 'Slack token')} open${doc.slackLeftUnderFrom === 1 ? 's' : ''} ` +
          `under a --from key and stay${doc.slackLeftUnderFrom === 1 ? 's' : ''} under ` +
          `it: slack_integrations is rotated only when named ` +
          "(Laminar's Helm chart copies AEAD_SECRET_KEY into SLACK_ENCRYPTION_KEY when that is unset). The next " +
          'steps say how to re-seal them.',
      ),
    );
  }
  if (doc.backup) {
    lines.push(
      '',
      `Backup (old and new ciphertext, mode 0600): ${doc.backup}  ->  undo with: ${invocation('restore', context)} ${doc.backup}`,
    );
    if (doc.publicDefaultInBackup) {
      lines.push(
        c.red.bold('WARNING: ') +
          c.red(
            `this backup holds old values sealed under Laminar's PUBLIC default key: anyone who can read ${doc.backup} can decrypt them. `,
          ) +
          c.red(`Keep it only until doctor says the rotation is healthy, then delete it (rm ${doc.backup}).`),
      );
    }
  } else if (!doc.dryRun && doc.summary.rotated === 0) {
    lines.push('', c.dim('No backup written: nothing was changed.'));
  }
  lines.push('');
  if (doc.interrupted) {
    lines.push(
      c.yellow(
        `Interrupted: ${plural(doc.summary.rotated, 'value')} re-sealed so far (each ` +
          `batch committed whole)${doc.backup ? `, backup at ${doc.backup}` : ''}; ` +
          `${context.rerun} to finish.`,
      ),
    );
    return lines.join('\n');
  }
  if (doc.dryRun) {
    lines.push(
      `${plural(doc.summary.rotated, 'value')} would be re-sealed under ${context.to} ` +
        `(fingerprint ${context.fingerprint}).${context.confirming ? '' : ' Run again without --dry-run (and with --yes when no terminal is attached) to do it.'}`,
    );
    return lines.join('\n');
  }
  lines.push(
    doc.ok
      ? c.green(`Done: ${plural(doc.summary.rotated, 'value')} re-sealed; every value read opens under ${context.to}.`)
      : c.red(`Done with problems: ${doc.summary.stuck} stuck.`),
  );
  // Rows inserted while it ran may not have been read: say so rather than claim every value.
  const appeared = rowsAppeared(doc);
  if (appeared > 0)
    lines.push(c.yellow(`${plural(appeared, 'row')} appeared while it ran (the platform is writing): ${context.rerun} to cover them.`));
  lines.push('');
  lines.push(c.bold('Next steps'));
  if (context.runbook.alreadyInUse) {
    lines.push(
      `  The values are sealed under the key lmnr-keys was given as ${context.variables.join(' and ')}. If every Laminar ` +
        `service runs with that key, there is nothing to restart; \`${invocation('check-deployment', context)}\` shows what each holds.`,
    );
    context.runbook.steps.forEach((step) => lines.push(`  ${step}`));
    lines.push(`  Check: ${c.cyan(invocation('doctor', context))}`);
  } else {
    context.runbook.steps.forEach((step, index) => lines.push(`  ${index + 1}. ${step}`));
    if (context.databaseUrlFlag)
      lines.push(c.dim('  (Add the --database-url you gave to these commands: it is not printed, since it holds the password.)'));
  }
  return lines.join('\n');
}
