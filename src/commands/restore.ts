import type { CommandContext } from '../context.js';
import { withTarget } from '../report/document.js';
import { targetDocument } from '../report/target.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { describeTarget } from '../config/database-target.js';
import { openBackupFile, type BackupFile } from '../core/backup.js';
import { exitCodeForSignal } from '../interrupt.js';
import { runRestore, type RestoreResult } from '../core/restore.js';
import { readDatabaseIdentity } from '../db/identity.js';
import type { LaminarDb } from '../db/connect.js';
import { findStore, STORES } from '../stores/stores.js';
import { emit } from '../report/output.js';
import { renderRestore, restoreDocument } from '../report/restore.js';
import type { ArgsOf, FlagsOf } from './definitions.js';
import { runGuardedWrite } from './guarded-write.js';

export async function restoreCommand(ctx: CommandContext, flags: FlagsOf<'restore'>, [file]: ArgsOf<'restore'>): Promise<ExitCodeValue> {
  const backup = openBackupFile(file, (name) => findStore(name) !== undefined);
  const tables = [...new Set(STORES.map((store) => store.table))];
  if (backup.truncatedLastLine)
    ctx.output.note(ctx.output.color.yellow(`warning: the last line of ${file} was cut short (a crash while writing it) and is ignored`));
  const target = ctx.databaseTarget({ announce: false });
  const plan = async (db: LaminarDb): Promise<RestoreResult> => {
    await refuseOtherDatabase(db, backup, describeTarget(target), target.database, Boolean(flags.force));
    return runRestore(db, backup.newestFirst(), tables, { dryRun: true, batchSize: 500, database: describeTarget(target) });
  };
  const outcome = await runGuardedWrite(ctx, {
    command: 'restore',
    flags,
    target,
    backup: null,
    plan,
    nothingToDo: (planned) => planned.restored === 0,
    present: (planned) => ({
      text: renderRestore(
        restoreDocument(planned, {
          dryRun: true,
          backup: file,
          operation: backup.header.operation,
          truncatedLastLine: backup.truncatedLastLine,
        }),
        ctx.output.color,
        true,
      ),
      question: `Put back ${planned.restored} values from ${file} (${backup.header.operation} of ${backup.header.createdAt})?`,
    }),
    apply: (conn, _plan, { journal, signal }) =>
      runRestore(conn, backup.newestFirst(), tables, { dryRun: false, batchSize: 500, journal, signal, database: describeTarget(target) }),
  });
  const document = restoreDocument(outcome.result ?? outcome.plan, {
    dryRun: outcome.dryRun,
    backup: file,
    operation: backup.header.operation,
    truncatedLastLine: backup.truncatedLastLine,
  });
  emit(ctx.output, withTarget(document, targetDocument(target)), (doc) => renderRestore(doc, ctx.output.color));
  if (outcome.stoppedBy) return exitCodeForSignal(outcome.stoppedBy);
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}

/**
 * A backup belongs to one database. Compared by identity (cluster system identifier and
 * database name) when the backup recorded it, else by database name; --force overrides.
 */
async function refuseOtherDatabase(db: LaminarDb, backup: BackupFile, here: string, databaseName: string, force: boolean): Promise<void> {
  const identity = await readDatabaseIdentity(db);
  const recorded = backup.header.databaseIdentity ?? null;
  const same =
    recorded !== null && identity !== null ? recorded === identity : backup.header.database.split('/').slice(1).join('/') === databaseName;
  if (same || force) return;
  throw new UsageError(
    `this backup was taken from another database (${backup.header.database}${recorded ? `, id ${recorded}` : ''}); ` +
      `this is ${here}${identity ? `, id ${identity}` : ''}`,
    'point --database-url at the database the backup came from, or add --force if it really is the same data (e.g. a restored copy)',
  );
}
