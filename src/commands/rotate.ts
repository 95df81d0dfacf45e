import type { CommandContext } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { sameKey } from '../crypto/keys.js';
import { usingDatabase } from '../db/connect.js';
import { withWriterLock } from '../db/lock.js';
import type { BackupSink } from '../core/backup.js';
import { displayPath, openBackup } from './backup-option.js';
import { runRotation, type RotationResult } from '../core/rotate.js';
import { renderRotation, rotationDocument } from '../report/rotate.js';
import { startProgress } from '../report/output.js';
import { confirmOrRefuse } from '../report/prompt.js';
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
  if (!dryRun) {
    await confirmOrRefuse({
      yes: Boolean(flags.yes),
      stdinIsTerminal: ctx.stdinIsTerminal,
      command: 'rotate',
      question: `Re-seal every value in ${stores.map((s) => s.name).join(', ')} that opens under ${from.map((k) => k.label).join(', ')} under ${to.label} (fingerprint ${to.fingerprint})?`,
    });
  }
  const target = ctx.databaseTarget();
  await loadCipher();
  const progress = await startProgress(ctx.output, dryRun ? 'Planning rotation' : 'Rotating');
  let backup: BackupSink | null = null;
  let result: RotationResult;
  try {
    result = await usingDatabase(target, {}, async ({ db }) => {
      const run = (conn: typeof db) => {
        // Created once the lock is held, so a refused run leaves no file behind.
        if (!dryRun) backup = openBackup(flags.backup, 'rotate', target, to.fingerprint);
        return runRotation(
          { db: conn, backup, onProgress: (p) => progress.update(`${p.store}: ${p.scanned} read, ${p.rotated} ${dryRun ? 'to rotate' : 'rotated'}`) },
          { stores, from, to, batchSize: flags.batchSize, dryRun },
        );
      };
      return dryRun ? run(db) : withWriterLock(db, { wait: Boolean(flags.wait) || flags.lockTimeout > 0, timeoutMs: flags.lockTimeout }, run);
    });
  } finally {
    progress.stop();
    (backup as BackupSink | null)?.close();
  }
  const document = rotationDocument(result, { dryRun, backup: displayPath(backup) });
  if (ctx.output.jsonMode) ctx.output.json(document);
  else ctx.output.result(renderRotation(document, ctx.output.color, { to: to.label, fingerprint: to.fingerprint, rerun: rerunCommand(flags), variables: [...new Set(stores.map((s) => s.secretVariable))] }));
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
