import fs from 'node:fs';
import path from 'node:path';
import type { CommandContext } from '../context.js';
import { withTarget } from '../report/document.js';
import { targetDocument } from '../report/target.js';
import { exitCodeForSignal, type StopSignal } from '../interrupt.js';
import { estimateBackupBytes, type WriteJournal } from '../core/backup.js';
import { checkStorePresence, measureSealedValues, type SealedSizes } from '../stores/scan.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { sameKey } from '../crypto/keys.js';
import { runRotation, type RotationResult } from '../core/rotate.js';
import { findSlackTokensOpeningUnder } from '../core/slack-under-aead.js';
import { buildRunbook, renderRotation, rotationDocument, type RotationDocument } from '../report/rotate.js';
import { emit, withProgress } from '../report/output.js';
import { refusePublicKey } from './public-key-option.js';
import { runGuardedWrite } from './guarded-write.js';
import type { FlagsOf } from './definitions.js';
import { selectStores } from './stores-option.js';

const NO_SIZES: SealedSizes = { values: 0, ciphertextBytes: 0, nonceBytes: 0 };

interface RotationPlan {
  rotation: RotationResult | null;
  /** Slack tokens a --from key opens while slack_integrations is not being rotated. */
  slackUnderFrom: number;
}

export async function rotateCommand(ctx: CommandContext, flags: FlagsOf<'rotate'>): Promise<ExitCodeValue> {
  const stores = selectStores(flags.store, (store) => store.rotatedByDefault);
  if (flags.from.length === 0)
    throw new UsageError('rotate needs at least one --from key', 'e.g. --from env:AEAD_SECRET_KEY --from laminar-default');
  const [to, ...from] = await ctx.resolveKeys([{ text: flags.to, flag: '--to' }, ...flags.from.map((text) => ({ text, flag: '--from' }))]);
  if (!to) throw new UsageError('rotate needs --to');
  if (from.some((key) => sameKey(key, to))) {
    throw new UsageError(
      '--to is the same key as one of the --from keys',
      'the new key must differ from every old one; generate one with `lmnr-keys gen-secret --out FILE`',
    );
  }
  refusePublicKey(ctx, to, Boolean(flags.allowPublicKey), '--to');
  const target = ctx.databaseTarget({ announce: false });
  await loadCipher();
  const options = { stores, from, to, batchSize: flags.batchSize };
  const slackLeftBehind = async (db: Parameters<typeof runRotation>[0]['db']) =>
    stores.some((store) => store.name === 'slack_integrations') ? 0 : findSlackTokensOpeningUnder(db, from, ctx.laminarSecrets().slack.key);
  const rotate = (
    db: Parameters<typeof runRotation>[0]['db'],
    dryRun: boolean,
    backup: Parameters<typeof runRotation>[0]['backup'],
    signal?: AbortSignal,
    journal?: WriteJournal,
  ) =>
    withProgress(ctx.output, dryRun ? 'Planning rotation' : 'Rotating', (update) =>
      runRotation(
        {
          db,
          backup,
          signal,
          journal: journal ?? null,
          onProgress: (p) => update(`${p.store}: ${p.scanned} read, ${p.rotated} ${dryRun ? 'to rotate' : 'rotated'}`),
        },
        { ...options, dryRun },
      ),
    );
  const document = (
    result: RotationResult,
    dryRun: boolean,
    backup: string | null,
    slackUnderFrom: number,
    write: { stoppedBy?: StopSignal | null; committed?: number; backupComplete?: boolean; backupEstimateBytes?: number | null } = {},
  ): RotationDocument =>
    rotationDocument(result, {
      dryRun,
      backup,
      slackUnderFrom,
      publicDefaultInBackup: backup !== null && result.stores.some((store) => store.fromPublicDefault > 0),
      interrupted: Boolean(write.stoppedBy),
      committed: write.committed ?? 0,
      backupComplete: write.backupComplete ?? true,
      backupEstimateBytes: write.backupEstimateBytes ?? (dryRun ? estimateRotationBackup(result) : null),
    });
  // Sizes of the stores' sealed values, measured once per run (the room check, a dry run's estimate).
  let sizes: Map<string, SealedSizes> | null = null;
  const measure = async (db: Parameters<typeof runRotation>[0]['db']) => {
    if (sizes === null) {
      sizes = new Map();
      for (const store of stores)
        if ((await checkStorePresence(db, store)).present) sizes.set(store.name, await measureSealedValues(db, store));
    }
    return sizes;
  };
  const estimateRotationBackup = (result: RotationResult) =>
    sizes === null
      ? null
      : result.stores.reduce((sum, store) => sum + estimateBackupBytes('update', store.rotated, sizes!.get(store.store) ?? NO_SIZES), 0);

  const outcome = await runGuardedWrite<RotationPlan, RotationPlan>(ctx, {
    command: 'rotate',
    flags,
    target,
    backup: { operation: 'rotate', toFingerprint: to.fingerprint },
    plan: async (db) => {
      await measure(db);
      return { rotation: await rotate(db, true, null), slackUnderFrom: await slackLeftBehind(db) };
    },
    quickPlan: () => ({ rotation: null, slackUnderFrom: 0 }),
    nothingToDo: (plan) => plan.rotation !== null && plan.rotation.stores.every((store) => store.rotated === 0),
    present: (plan) => ({
      text: renderRotation(document(plan.rotation!, true, null, plan.slackUnderFrom), ctx.output.color, {
        ...renderContext(plan.slackUnderFrom),
        confirming: true,
      }),
      question:
        `Re-seal ${plan.rotation!.stores.reduce((n, s) => n + s.rotated, 0)} values ` +
        `under ${to.label} (fingerprint ${to.fingerprint})?`,
    }),
    // With --yes nothing was planned: every stored value is the upper bound, and when that does
    // not fit, a planning pass counts exactly what would be re-sealed (a catch-up run re-seals few).
    estimateBackupBytes: async (conn, plan, free) => {
      const measured = await measure(conn);
      if (plan.rotation !== null) return estimateRotationBackup(plan.rotation)!;
      const bound = stores.reduce((sum, store) => {
        const size = measured.get(store.name) ?? NO_SIZES;
        return sum + estimateBackupBytes('update', size.values, size);
      }, 0);
      if (bound <= free * 0.8) return bound;
      ctx.output.note('Counting exactly what needs re-sealing (the largest possible backup would not fit comfortably)...');
      return estimateRotationBackup(await rotate(conn, true, null))!;
    },
    apply: async (conn, plan, { backup, signal, journal }) => ({
      rotation: await rotate(conn, false, backup, signal, journal),
      slackUnderFrom: plan.rotation === null ? await slackLeftBehind(conn) : plan.slackUnderFrom,
    }),
  });
  function renderContext(slackUnderFrom: number) {
    const secrets = ctx.laminarSecrets();
    const current = { AEAD_SECRET_KEY: secrets.aead.key, SLACK_ENCRYPTION_KEY: secrets.slack.key };
    return {
      to: to!.label,
      fingerprint: to!.fingerprint,
      variables: [...new Set(stores.map((s) => s.secretVariable))],
      runbook: buildRunbook(flags, ctx.global.envFile, to!, stores, current, ctx.keyFolder(), slackUnderFrom),
      // A --backup file that now exists cannot be named again (never overwritten).
      rerun:
        typeof flags.backup === 'string' && fs.existsSync(path.resolve(ctx.cwd, flags.backup))
          ? 'run the same command again with another --backup path (that one now exists)'
          : 'run the same command again',
      databaseUrlFlag: ctx.global.databaseUrl !== undefined,
      envFiles: ctx.global.envFile,
    };
  }
  const final = outcome.result ?? outcome.plan;
  // Nothing to re-seal reads as a finished run, not as a plan: the database is already where the run would leave it.
  const doc = document(final.rotation!, outcome.dryRun, outcome.backup, final.slackUnderFrom, outcome);
  emit(ctx.output, withTarget(doc, targetDocument(target)), (d) =>
    renderRotation(d, ctx.output.color, renderContext(d.slackLeftUnderFrom)),
  );
  if (outcome.stoppedBy) return exitCodeForSignal(outcome.stoppedBy);
  return doc.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
