import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { planQuarantine, runQuarantine, type QuarantinePlan } from '../core/repair.js';
import { emit } from '../report/output.js';
import { quarantineDocument, renderQuarantine } from '../report/quarantine.js';
import type { FlagsOf } from './definitions.js';
import { runGuardedWrite } from './guarded-write.js';
import { selectStores } from './stores-option.js';
import { requireUuid } from './uuid-option.js';

export async function quarantineCommand(ctx: CommandContext, flags: FlagsOf<'quarantine'>): Promise<ExitCodeValue> {
  const stores = selectStores(flags.store, () => true);
  const ids = flags.id.map((id) => requireUuid(id, '--id', 'doctor lists the ids of failing values'));
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate.map((text) => ({ text, flag: '--candidate' })));
  const target = ctx.databaseTarget();
  await loadCipher();
  const plan = async (db: Parameters<typeof planQuarantine>[0]): Promise<QuarantinePlan> => {
    const made = await planQuarantine(db, { stores, ids, secrets, candidates, batchSize: flags.batchSize });
    refuseSurprises(made, ids, flags.expect, Boolean(flags.dryRun), (message) => ctx.output.note(ctx.output.color.yellow(message)));
    return made;
  };
  const outcome = await runGuardedWrite(ctx, {
    command: 'quarantine',
    flags,
    target,
    backup: { operation: 'quarantine', toFingerprint: null },
    plan,
    nothingToDo: (made) => made.targets.length === 0,
    present: (made) => ({
      text: renderQuarantine(quarantineDocument(made, null, { dryRun: true, backup: null }), ctx.output.color, ctx.global.envFile, true),
      question: `Take out these ${made.targets.length} values (after writing them to a 0600 backup)?`,
    }),
    apply: (conn, made, { backup }) => runQuarantine(conn, made.targets, backup),
  });
  const document = quarantineDocument(outcome.plan, outcome.result, { dryRun: outcome.dryRun, backup: outcome.backup });
  emit(ctx.output, document, (doc) => renderQuarantine(doc, ctx.output.color, ctx.global.envFile));
  return document.ok ? ExitCode.healthy : ExitCode.problemsFound;
}

/**
 * Before anything is taken out: every --id must name a value that no key opens; taking out
 * more than half of a store needs --expect with the exact count (nearly everything failing
 * usually means the key is wrong, not the values); and an --expect given must match the count.
 */
function refuseSurprises(
  plan: QuarantinePlan,
  ids: string[],
  expect: number | undefined,
  dryRun: boolean,
  warn: (message: string) => void,
): void {
  const planned = new Set(plan.targets.map((t) => t.id));
  const notTaken = plan.requested.filter((r) => !planned.has(r.id));
  if (notTaken.length > 0) {
    throw new UsageError(
      `nothing to quarantine for ${notTaken.map((r) => `${r.id} (${r.why})`).join(', ')}`,
      'quarantine only takes out values no available key opens; doctor lists them',
    );
  }
  const count = plan.targets.length;
  // --expect, when given, is a promise about the count: a different count means the database is
  // not what the operator looked at, whether or not the count would have needed it.
  if (expect !== undefined && expect !== count) {
    const message = `--expect ${expect} was given, but this run would take out ${count} value${count === 1 ? '' : 's'}`;
    const hint = 'look at the plan again (--dry-run), then pass the count it shows';
    if (dryRun) return warn(`warning: ${message}; ${hint}`);
    throw new UsageError(`refusing: ${message}`, hint);
  }
  if (ids.length > 0 || expect === count) return;
  for (const store of plan.stores) {
    // A store of one or two values says nothing about the key; from three on, most of it failing does.
    if (store.total < 3 || store.taken * 2 <= store.total) continue;
    const message =
      `this run would take out ${count} value${count === 1 ? '' : 's'}, among them ${store.taken} of the ` +
      `${store.total} in ${store.store}, which needs --expect ${count}: when nearly everything fails, the key ` +
      `is usually wrong, not the values`;
    const hint = `check the key first (lmnr-keys check-deployment, lmnr-keys doctor); if you are sure, run again with --expect ${count}`;
    // A dry run shows the plan and says what the real run will need; the real run refuses.
    if (dryRun) return warn(`warning: ${message}; ${hint}`);
    throw new UsageError(`refusing: ${message}`, hint);
  }
}
