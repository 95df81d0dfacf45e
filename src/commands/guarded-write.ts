/**
 * The one flow every command that writes sealed values goes through (rotate, set, quarantine,
 * restore), deciding once, in this order:
 *   1. no terminal and no --yes: refused (exit 2) before anything is read;
 *   2. --dry-run: plan in a READ ONLY transaction on a plain connection, no lock (works under
 *      a SELECT-only role), and stop;
 *   3. otherwise: take the writer lock, plan, show the plan and the target, ask (unless
 *      --yes), open the backup (created on the first record only), apply, close.
 * A first Ctrl-C while applying asks the core to stop after the batch in flight; a second one
 * leaves at once (every batch is its own transaction, so either way nothing is half-written).
 */
import { invocation } from '../core/advice.js';
import { leaveInterrupted } from '../interrupt.js';
import fs from 'node:fs';
import type { CommandContext } from '../context.js';
import type { DatabaseTarget } from '../config/database-target.js';
import type { LaminarDb } from '../db/connect.js';
import { usingLaminarDatabase } from './using-laminar.js';
import { withWriterLock } from '../db/lock.js';
import { readDatabaseIdentity } from '../db/identity.js';
import type { BackupHeader, BackupSink } from '../core/backup.js';
import { confirmOrRefuse, refuseWithoutConsent } from '../report/prompt.js';
import { describeTargetFully } from '../report/target.js';
import { lockOptionsFrom } from './lock-option.js';
import { displayPath, openBackup } from './backup-option.js';

export interface WriteFlags {
  dryRun?: boolean;
  yes?: boolean;
  wait?: boolean;
  lockTimeout: number;
  /** --backup FILE (string), --no-backup (false), default (undefined); absent for restore. */
  backup?: string | false;
}

export interface ApplyContext {
  backup: BackupSink | null;
  /** Aborted by a first Ctrl-C: stop after the batch in flight. */
  signal: AbortSignal;
}

export interface GuardedWriteSpec<Plan, Result> {
  command: 'rotate' | 'set' | 'quarantine' | 'restore';
  flags: WriteFlags;
  target: DatabaseTarget;
  /** What the backup records; null when this write keeps none (restore). */
  backup: { operation: BackupHeader['operation']; toFingerprint: string | null } | null;
  /** Reads what would change; never writes. */
  plan: (db: LaminarDb) => Promise<Plan>;
  /** Nothing to do: nothing is asked and no backup is created. */
  nothingToDo: (plan: Plan) => boolean;
  /** The plan as a human reads it before the question, and the question itself. */
  present: (plan: Plan) => { text: string; question: string };
  apply: (conn: LaminarDb, plan: Plan, context: ApplyContext) => Promise<Result>;
  /** What the lock holder shows in pg_stat_activity (doctor reads it): defaults to "lmnr-keys COMMAND". */
  lockPurpose?: string;
  /**
   * With --yes, skip the separate planning pass and hand `apply` the plan `quickPlan` gives
   * (rotate: its apply reads every value anyway; a second full scan of a million rows would
   * only be to print what nobody is there to read).
   */
  quickPlan?: () => Plan;
}

export interface GuardedWriteOutcome<Plan, Result> {
  dryRun: boolean;
  plan: Plan;
  /** null for a dry run or when there was nothing to do. */
  result: Result | null;
  /** The backup file written, as shown to the operator; null when none was written. */
  backup: string | null;
  /** The run was asked to stop (Ctrl-C) and stopped between batches. */
  interrupted: boolean;
}

export async function runGuardedWrite<Plan, Result>(
  ctx: CommandContext,
  spec: GuardedWriteSpec<Plan, Result>,
): Promise<GuardedWriteOutcome<Plan, Result>> {
  const dryRun = Boolean(spec.flags.dryRun);
  const confirmed = Boolean(spec.flags.yes);
  if (!dryRun) refuseWithoutConsent({ yes: confirmed, stdinIsTerminal: ctx.stdinIsTerminal, command: spec.command });
  const where = describeTargetFully(spec.target);
  ctx.output.note(`${dryRun ? 'Planning against' : 'Writing to'} ${where}`);

  if (dryRun) {
    const plan = await usingLaminarDatabase(spec.target, (db) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute((trx) => spec.plan(trx)),
    );
    return { dryRun, plan, result: null, backup: null, interrupted: false };
  }

  // Checked now, before anything is read: an explicit --backup that exists is refused (exit 3).
  // The file itself appears with the first record, so a run that changes nothing leaves none.
  let identity: string | null = null;
  const backup: BackupSink | null = spec.backup
    ? openBackup(ctx, spec.flags.backup, spec.backup.operation, spec.target, spec.backup.toFingerprint, () => identity)
    : null;
  const stop = new AbortController();
  let interruptions = 0;
  const onInterrupt = () => {
    interruptions += 1;
    if (interruptions === 1) {
      ctx.output.note('stopping after the batch in flight (Ctrl-C again to leave at once; nothing half-written is ever kept)');
      stop.abort();
      return;
    }
    const file = backup?.written() ? displayPath(ctx, backup) : null;
    process.removeListener('SIGINT', onInterrupt);
    leaveInterrupted(`interrupted${file ? `: backup at ${file}` : ''}; run the same command again to finish`);
  };
  let failed = true;
  try {
    const outcome = await usingLaminarDatabase(spec.target, (db) =>
      withWriterLock(db, lockOptionsFrom(spec.flags, spec.lockPurpose ?? `lmnr-keys ${spec.command}`), async (conn) => {
        identity = await readDatabaseIdentity(conn);
        const plan = confirmed && spec.quickPlan ? spec.quickPlan() : await spec.plan(conn);
        if (!(confirmed && spec.quickPlan) && spec.nothingToDo(plan)) return { plan, result: null };
        if (!confirmed) {
          const { text, question } = spec.present(plan);
          if (!ctx.output.jsonMode) ctx.output.note(text);
          await confirmOrRefuse({
            yes: false,
            stdinIsTerminal: ctx.stdinIsTerminal,
            command: spec.command,
            question: `${question} (${where})`,
          });
        }
        process.on('SIGINT', onInterrupt);
        return { plan, result: await spec.apply(conn, plan, { backup, signal: stop.signal }) };
      }),
    );
    failed = false;
    return { dryRun, ...outcome, backup: displayPath(ctx, backup), interrupted: stop.signal.aborted };
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    backup?.close();
    if (failed && backup?.written()) explainBackupAfterFailure(ctx, backup);
  }
}

/**
 * A write that failed (a permission, a lost connection, a read-back) may leave a backup. One in
 * which no batch committed holds only changes that were never applied, ciphertexts a reader
 * could still use: it is removed. Otherwise it is named, since it covers what did commit.
 */
function explainBackupAfterFailure(ctx: CommandContext, backup: BackupSink): void {
  if (backup.committedBatches() === 0) {
    try {
      fs.unlinkSync(backup.path);
      ctx.output.note('nothing was changed, so its backup file was removed');
      return;
    } catch {
      // Fall through and name it.
    }
  }
  ctx.output.note(
    `backup of what was changed before the failure: ${displayPath(ctx, backup)} (${invocation('restore', { envFiles: ctx.global.envFile })} puts it back)`,
  );
}
