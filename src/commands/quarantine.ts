import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { usingDatabase } from '../db/connect.js';
import { withWriterLock } from '../db/lock.js';
import { lockOptionsFrom } from './lock-option.js';
import { planQuarantine, runQuarantine, type QuarantinePlan, type QuarantineResult } from '../core/repair.js';
import type { BackupSink } from '../core/backup.js';
import { confirmOrRefuse, refuseWithoutConsent } from '../report/prompt.js';
import { renderQuarantine } from '../report/quarantine.js';
import { displayPath, openBackup } from './backup-option.js';
import { selectStores } from './stores-option.js';

export interface QuarantineFlags {
  store: string[];
  id: string[];
  candidate: string[];
  dryRun?: boolean;
  yes?: boolean;
  backup: string | false | undefined;
  batchSize: number;
  wait?: boolean;
  lockTimeout: number;
}

export async function quarantineCommand(ctx: CommandContext, flags: QuarantineFlags): Promise<ExitCodeValue> {
  const stores = selectStores(flags.store, () => true);
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate, '--candidate');
  const dryRun = Boolean(flags.dryRun);
  if (!dryRun) refuseWithoutConsent({ yes: Boolean(flags.yes), stdinIsTerminal: ctx.stdinIsTerminal, command: 'quarantine' });
  const target = ctx.databaseTarget();
  await loadCipher();
  let backup: BackupSink | null = null;
  let outcome: { plan: QuarantinePlan; result: QuarantineResult | null };
  try {
    outcome = await usingDatabase(target, {}, async ({ db }) => {
      const makePlan = () => planQuarantine(db, { stores, ids: flags.id, secrets, candidates, batchSize: flags.batchSize });
      if (dryRun) return { plan: await makePlan(), result: null };
      return withWriterLock(db, lockOptionsFrom(flags), async (conn) => {
        const plan = await makePlan();
        if (plan.targets.length === 0) return { plan, result: null };
        // Show the plan before asking; with --yes the result below lists the same values.
        if (!flags.yes && !ctx.output.jsonMode) ctx.output.note(renderQuarantine({ ...plan, dryRun: true, removed: 0, changed: [], backup: null }, ctx.output.color));
        await confirmOrRefuse({
          yes: Boolean(flags.yes),
          stdinIsTerminal: ctx.stdinIsTerminal,
          command: 'quarantine',
          question: `Take out these ${plan.targets.length} values (after writing them to a 0600 backup)?`,
        });
        backup = openBackup(flags.backup, 'quarantine', target, null);
        return { plan, result: await runQuarantine(conn, plan.targets, backup) };
      });
    });
  } finally {
    (backup as BackupSink | null)?.close();
  }
  const document = {
    version: 1 as const,
    command: 'quarantine' as const,
    dryRun,
    ok: true,
    targets: outcome.plan.targets.map(({ ciphertextHex: _c, nonceHex: _n, ...rest }) => rest),
    dependents: outcome.plan.dependents,
    removed: outcome.result?.removed ?? 0,
    changed: outcome.result?.changed ?? [],
    backup: displayPath(backup),
  };
  if (ctx.output.jsonMode) ctx.output.json(document);
  else ctx.output.result(renderQuarantine({ ...document, targets: outcome.plan.targets }, ctx.output.color));
  return ExitCode.healthy;
}
