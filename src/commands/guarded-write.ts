/**
 * The one flow every command that writes sealed values goes through (rotate, set, quarantine,
 * restore), deciding once, in this order:
 *   1. no terminal and no --yes: refused (exit 2) before anything is read;
 *   2. --dry-run: plan in a READ ONLY transaction on a plain connection, no lock (works under
 *      a SELECT-only role), and stop;
 *   3. otherwise: take the writer lock, plan, show the plan and the target, ask (unless
 *      --yes), check that the backup's disk has room for it, open the backup (created on the
 *      first record only), apply, close.
 * A first stop request (SIGINT, SIGTERM, SIGHUP) while applying asks the core to stop after
 * the batch in flight; a second one leaves at once (every batch is its own transaction, so
 * either way nothing is half-written). Before that, a signal leaves at once: nothing was written.
 *
 * After any failure the run says exactly what was committed and whether the backup holds every
 * value changed (the journal counts both); the JSON error document carries the same facts.
 */
import { invocation } from '../core/advice.js';
import { CliError } from '../errors.js';
import { describeSignal, stoppableBy, type StopSignal } from '../interrupt.js';
import type { CommandContext } from '../context.js';
import type { DatabaseTarget } from '../config/database-target.js';
import type { LaminarDb } from '../db/connect.js';
import { usingLaminarDatabase } from './using-laminar.js';
import { withWriterLock } from '../db/lock.js';
import { readDatabaseIdentity } from '../db/identity.js';
import { WriteJournal, type BackupHeader, type BackupSink } from '../core/backup.js';
import { confirmOrRefuse, refuseWithoutConsent } from '../report/prompt.js';
import { describeTargetFully } from '../report/target.js';
import { lockOptionsFrom } from './lock-option.js';
import { checkBackupRoom, displayPath, openBackup, removeUnusedBackup } from './backup-option.js';
import { plural } from '../report/format.js';

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
  /** Every batch's commit is reported here right after it (and its commit mark written). */
  journal: WriteJournal;
  /** Aborted by a first stop request: stop after the batch in flight. */
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
  /**
   * About how many bytes the backup of this plan takes (compared with the free space of its
   * disk before the first write). `freeBytes` lets an estimate that is only an upper bound
   * (rotate with --yes plans nothing first) measure exactly when the bound does not fit.
   */
  estimateBackupBytes?: (conn: LaminarDb, plan: Plan, freeBytes: number) => Promise<number>;
  apply: (conn: LaminarDb, plan: Plan, context: ApplyContext) => Promise<Result>;
  /** What the lock holder shows in pg_stat_activity (doctor reads it): defaults to "lmnr-keys COMMAND". */
  lockPurpose?: string;
  /**
   * How to finish after a stop or a failure, once `committed` values are done: "run the same
   * command again" by default; quarantine names the --expect the rest needs.
   */
  howToFinish?: (plan: Plan, committed: number) => string;
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
  /** The signal that asked the run to stop between batches (it exits 128 + N), or null. */
  stoppedBy: StopSignal | null;
  /** Values changed in committed batches. */
  committed: number;
  /** Every committed value has its record on disk in the backup. */
  backupComplete: boolean;
  /** The backup's estimated size, checked against its disk's free space before the first write (null: not measured). */
  backupEstimateBytes: number | null;
}

export async function runGuardedWrite<Plan, Result>(
  ctx: CommandContext,
  spec: GuardedWriteSpec<Plan, Result>,
): Promise<GuardedWriteOutcome<Plan, Result>> {
  const dryRun = Boolean(spec.flags.dryRun);
  const confirmed = Boolean(spec.flags.yes);
  if (!dryRun) refuseWithoutConsent({ yes: confirmed, stdinIsTerminal: ctx.stdinIsTerminal, command: spec.command });
  const where = describeTargetFully(spec.target);

  if (dryRun) {
    ctx.output.note(`Planning against ${where}`);
    const plan = await usingLaminarDatabase(spec.target, (db) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute((trx) => spec.plan(trx)),
    );
    return { dryRun, plan, result: null, backup: null, stoppedBy: null, committed: 0, backupComplete: true, backupEstimateBytes: null };
  }

  // Checked now, before anything is read: an explicit --backup that exists is refused (exit 3).
  // The file itself appears with the first record, so a run that changes nothing leaves none.
  let identity: string | null = null;
  const backup: BackupSink | null = spec.backup
    ? openBackup(ctx, spec.flags.backup, spec.backup.operation, spec.target, spec.backup.toFingerprint, () => identity)
    : null;
  const journal = new WriteJournal(backup);
  const stop = new AbortController();
  let planned: { plan: Plan } | null = null;
  const finish = () =>
    planned !== null && spec.howToFinish ? spec.howToFinish(planned.plan, journal.committedValues) : 'run the same command again to finish';
  const committedSoFar = () =>
    `${plural(journal.committedValues, 'value')} changed in committed batches` +
    (backup?.written() ? `, backup at ${displayPath(ctx, backup)}` : '') +
    `; ${finish()}`;
  const onFirstSignal = (signal: StopSignal) => {
    ctx.output.note(
      `${describeSignal(signal)}: stopping after the batch in flight (signal again to leave at once; nothing half-written is ever kept)`,
    );
    stop.abort();
  };
  /**
   * Closes the backup. Stopped or failed before its first batch committed, the file holds only
   * changes never applied: it is removed (and true returned).
   */
  const closeBackup = (sayRemoved: boolean): boolean => {
    backup?.close();
    const unused = journal.committedValues === 0 && backup !== null && backup.written();
    if (unused) removeUnusedBackup(ctx, backup, sayRemoved);
    return unused;
  };
  let announced = false;
  let backupEstimateBytes: number | null = null;
  // Named before anything is read, also when the plan is refused (an --expect that does not match).
  ctx.output.note(`Planning against ${where}`);
  try {
    const outcome = await usingLaminarDatabase(spec.target, (db) =>
      withWriterLock(db, lockOptionsFrom(spec.flags, spec.lockPurpose ?? `lmnr-keys ${spec.command}`), async (conn) => {
        identity = await readDatabaseIdentity(conn);
        const plan = confirmed && spec.quickPlan ? spec.quickPlan() : await spec.plan(conn);
        planned = { plan };
        if (!(confirmed && spec.quickPlan) && spec.nothingToDo(plan)) return { plan, result: null, stoppedBy: null };
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
        if (backup && spec.estimateBackupBytes)
          backupEstimateBytes = await checkBackupRoom(ctx, backup, (free) => spec.estimateBackupBytes!(conn, plan, free));
        ctx.output.note(`Writing to ${where}`);
        announced = true;
        const { value, stoppedBy } = await stoppableBy(
          onFirstSignal,
          () => spec.apply(conn, plan, { backup, journal, signal: stop.signal }),
          () => `left at once: ${committedSoFar()}`,
        );
        if (stoppedBy) ctx.output.note(`${describeSignal(stoppedBy)}: stopped after the batch in flight; ${committedSoFar()}`);
        return { plan, result: value, stoppedBy };
      }),
    );
    const unused = closeBackup(announced);
    return {
      dryRun,
      ...outcome,
      backup: unused ? null : displayPath(ctx, backup),
      committed: journal.committedValues,
      backupComplete: journal.backupComplete(),
      backupEstimateBytes,
    };
  } catch (error) {
    // Its removal is said in the account below.
    const removed = closeBackup(false);
    if (announced) explainAfterFailure(ctx, journal, removed ? null : backup, removed, finish);
    if (error instanceof CliError)
      error.details = {
        ...error.details,
        committed: journal.committedValues,
        backup: removed ? null : displayPath(ctx, backup),
        backupComplete: journal.backupComplete(),
      };
    throw error;
  }
}

/**
 * The account of a write that failed after it started: what was committed (every batch commits
 * whole or not at all), and whether the backup verifiably holds every changed value. "restore
 * puts it back" is said only then.
 */
function explainAfterFailure(
  ctx: CommandContext,
  journal: WriteJournal,
  backup: BackupSink | null,
  backupRemoved: boolean,
  finish: () => string,
): void {
  const committed = journal.committedValues;
  if (committed === 0) {
    ctx.output.note(
      `Nothing was changed: no batch committed${backupRemoved ? ' (its backup file, which held only changes never applied, was removed)' : ''}.`,
    );
    return;
  }
  const again = finish();
  const file = displayPath(ctx, backup);
  const changed = `${plural(committed, 'value')} ${committed === 1 ? 'was' : 'were'} changed before the failure (in ${plural(journal.committedBatches, 'committed batch')}; the rest are as they were)`;
  if (file === null) {
    ctx.output.note(`${changed}; no backup was kept (--no-backup).`);
    return;
  }
  if (journal.backupComplete())
    ctx.output.note(
      `${changed}. The backup ${file} holds every one of them: \`${invocation('restore', { envFiles: ctx.global.envFile })} ${file}\` puts them back; or ${again}.`,
    );
  else
    ctx.output.note(
      `${changed}. The backup ${file} is INCOMPLETE: it holds ${backup!.durableRecords()} records for them; keep it, and run doctor before anything else.`,
    );
}
