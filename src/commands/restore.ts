import type { CommandContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { usingDatabase } from '../db/connect.js';
import { withWriterLock } from '../db/lock.js';
import { lockOptionsFrom } from './lock-option.js';
import { readBackupFile } from '../core/backup.js';
import { runRestore } from '../core/restore.js';
import { confirmOrRefuse } from '../report/prompt.js';
import { renderRestore } from '../report/restore.js';

export interface RestoreFlags {
  dryRun?: boolean;
  yes?: boolean;
  wait?: boolean;
  lockTimeout: number;
}

export async function restoreCommand(ctx: CommandContext, file: string, flags: RestoreFlags): Promise<ExitCodeValue> {
  const backup = readBackupFile(file);
  const dryRun = Boolean(flags.dryRun);
  if (!dryRun) {
    await confirmOrRefuse({
      yes: Boolean(flags.yes),
      stdinIsTerminal: ctx.stdinIsTerminal,
      command: 'restore',
      question: `Put back ${backup.records.length} values from ${file} (${backup.header.operation} of ${backup.header.createdAt})?`,
    });
  }
  const target = ctx.databaseTarget();
  const result = await usingDatabase(target, {}, ({ db }) =>
    dryRun
      ? runRestore(db, backup.records, { dryRun, batchSize: 500 })
      : withWriterLock(db, lockOptionsFrom(flags), (conn) => runRestore(conn, backup.records, { dryRun, batchSize: 500 })),
  );
  const document = { version: 1 as const, command: "restore" as const, dryRun, ok: result.leftAlone.length === 0 && result.incomplete.length === 0, backup: file, ...result };
  if (ctx.output.jsonMode) ctx.output.json(document);
  else ctx.output.result(renderRestore(document, ctx.output.color));
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}
