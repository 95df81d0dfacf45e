import type { CommandContext } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { sameKey } from '../crypto/keys.js';
import { usingDatabase, type LaminarDb } from '../db/connect.js';
import { withWriterLock } from '../db/lock.js';
import { lockOptionsFrom } from './lock-option.js';
import type { BackupSink } from '../core/backup.js';
import { displayPath, openBackup } from './backup-option.js';
import { runRotation, type RotationResult } from '../core/rotate.js';
import { renderRotation, rotationDocument } from '../report/rotate.js';
import { startProgress } from '../report/output.js';
import { confirmOrRefuse, refuseWithoutConsent } from '../report/prompt.js';
import { selectStores } from './stores-option.js';

export interface RotateFlags {
  from: string[];
  to: string;
  store: string[];
  dryRun?: boolean;
  yes?: boolean;
  batchSize: number;
  backup: string | false | undefined;
  wait?: boolean;
  lockTimeout: number;
}

export async function rotateCommand(ctx: CommandContext, flags: RotateFlags): Promise<ExitCodeValue> {
  const stores = selectStores(flags.store, (store) => store.rotatedByDefault);
  if (flags.from.length === 0) throw new UsageError('rotate needs at least one --from key', 'e.g. --from env:AEAD_SECRET_KEY --from laminar-default');
  const from = await ctx.resolveKeys(flags.from, '--from');
  const [to] = await ctx.resolveKeys([flags.to], '--to');
  if (!to) throw new UsageError('rotate needs --to');
  if (from.some((key) => sameKey(key, to))) {
    throw new UsageError('--to is the same key as one of the --from keys', 'the new key must differ from every old one; generate one with `lmnr-keys gen-secret`');
  }
  const dryRun = Boolean(flags.dryRun);
  // No terminal and no --yes: refused before anything is read.
  if (!dryRun) refuseWithoutConsent({ yes: Boolean(flags.yes), stdinIsTerminal: ctx.stdinIsTerminal, command: 'rotate' });
  const target = ctx.databaseTarget();
  await loadCipher();
  const renderContext = { to: to.label, fingerprint: to.fingerprint, rerun: rerunCommand(flags), variables: [...new Set(stores.map((s) => s.secretVariable))] };
  let backup: BackupSink | null = null;
  const rotate = async (conn: LaminarDb, planOnly: boolean): Promise<RotationResult> => {
    const progress = await startProgress(ctx.output, planOnly ? 'Planning rotation' : 'Rotating');
    try {
      return await runRotation(
        { db: conn, backup: planOnly ? null : backup, onProgress: (p) => progress.update(`${p.store}: ${p.scanned} read, ${p.rotated} ${planOnly ? 'to rotate' : 'rotated'}`) },
        { stores, from, to, batchSize: flags.batchSize, dryRun: planOnly },
      );
    } finally {
      progress.stop();
    }
  };
  let result: RotationResult;
  try {
    result = await usingDatabase(target, {}, ({ db }) =>
      dryRun
        ? rotate(db, true)
        : withWriterLock(db, lockOptionsFrom(flags), async (conn) => {
            if (!flags.yes) {
              // On a terminal: plan first, show the plan, then ask.
              const plan = rotationDocument(await rotate(conn, true), { dryRun: true, backup: null });
              if (!ctx.output.jsonMode) ctx.output.note(renderRotation(plan, ctx.output.color, { ...renderContext, confirming: true }));
              await confirmOrRefuse({
                yes: false,
                stdinIsTerminal: ctx.stdinIsTerminal,
                command: 'rotate',
                question: `Re-seal ${plan.summary.rotated} values under ${to.label} (fingerprint ${to.fingerprint})?`,
              });
            }
            // Created once the lock is held and the run confirmed, so a refused run leaves no file behind.
            backup = openBackup(flags.backup, 'rotate', target, to.fingerprint);
            return rotate(conn, false);
          }),
    );
  } finally {
    (backup as BackupSink | null)?.close();
  }
  const document = rotationDocument(result, { dryRun, backup: displayPath(backup) });
  if (ctx.output.jsonMode) ctx.output.json(document);
  else ctx.output.result(renderRotation(document, ctx.output.color, renderContext));
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}

/** The same rotate command, to run again after the restart (never includes literal keys). */
function rerunCommand(flags: RotateFlags): string {
  const ref = (text: string) => (/^(env:|file:|laminar-default$)/.test(text) ? text : '<key>');
  return [
    'lmnr-keys rotate',
    ...flags.store.map((s) => `--store ${s}`),
    ...flags.from.map((f) => `--from ${ref(f)}`),
    `--to ${ref(flags.to)}`,
    '--yes',
  ].join(' ');
}
