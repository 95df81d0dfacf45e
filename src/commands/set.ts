import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { readAllStdin, resolveValueReference } from '../config.js';
import { loadCipher } from '../crypto/aead.js';
import { usingDatabase } from '../db/connect.js';
import { withWriterLock } from '../db/lock.js';
import { lockOptionsFrom } from './lock-option.js';
import { setProviderKey } from '../core/repair.js';
import type { BackupSink } from '../core/backup.js';
import { LAMINAR_KEY_NAMES } from '../stores/stores.js';
import { askSecret, confirmOrRefuse } from '../report/prompt.js';
import { displayPath, openBackup } from './backup-option.js';

export interface SetFlags {
  project: string;
  name: string;
  value?: string;
  force?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  backup: string | false | undefined;
  wait?: boolean;
  lockTimeout: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function setCommand(ctx: CommandContext, flags: SetFlags): Promise<ExitCodeValue> {
  if (!UUID.test(flags.project)) throw new UsageError('--project must be a project id (uuid)', 'doctor lists the project ids of failing keys');
  if (!(LAMINAR_KEY_NAMES as readonly string[]).includes(flags.name) && !flags.force) {
    throw new UsageError(`${flags.name} is not a name Laminar uses`, `use one of ${LAMINAR_KEY_NAMES.join(', ')}, or --force`);
  }
  const key = requireAeadKey(ctx.laminarSecrets());
  const io = { env: ctx.environment().env, cwd: process.cwd(), readStdin: readAllStdin, warn: ctx.output.note };
  let value: string;
  if (flags.value !== undefined) value = await resolveValueReference(flags.value, '--value', io);
  else if (ctx.stdinIsTerminal) value = await askSecret(`New value for ${flags.name} (input hidden)`);
  else throw new UsageError('no --value and no terminal to ask for it', 'pass --value env:NAME, --value file:PATH or --value - (stdin)');
  ctx.output.redactor.add(value);
  const dryRun = Boolean(flags.dryRun);
  if (!dryRun) {
    await confirmOrRefuse({
      yes: Boolean(flags.yes),
      stdinIsTerminal: ctx.stdinIsTerminal,
      command: 'set',
      question: `Replace every ${flags.name} row of project ${flags.project} with the new value, sealed under AEAD_SECRET_KEY (${key.fingerprint})?`,
    });
  }
  const target = ctx.databaseTarget();
  await loadCipher();
  let backup: BackupSink | null = null;
  try {
    const result = await usingDatabase(target, {}, ({ db }) =>
      withWriterLock(db, lockOptionsFrom(flags), (conn) => {
        if (!dryRun) backup = openBackup(flags.backup, 'set', target, key.fingerprint);
        return setProviderKey(conn, { projectId: flags.project, name: flags.name, value, key, backup, dryRun });
      }),
    );
    const document = { version: 1, command: 'set', dryRun, ok: true, ...result, backup: displayPath(backup) };
    if (ctx.output.jsonMode) ctx.output.json(document);
    else {
      const replaced = result.replaced.length === 0 ? 'no previous row' : `${result.replaced.length} previous row${result.replaced.length === 1 ? '' : 's'} (${result.replaced.join(', ')})`;
      ctx.output.result(
        dryRun
          ? `Would seal ${flags.name} for project ${flags.project} under AEAD_SECRET_KEY (${key.fingerprint}), replacing ${replaced}.`
          : `Sealed ${flags.name} for project ${flags.project} under AEAD_SECRET_KEY (${key.fingerprint}) as row ${result.newId}, replacing ${replaced}.` +
              (document.backup ? `\nBackup of the replaced rows: ${document.backup}` : ''),
      );
    }
    return ExitCode.healthy;
  } finally {
    (backup as BackupSink | null)?.close();
  }
}
