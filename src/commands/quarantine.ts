import type { CommandContext } from '../context.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { applyQuarantine, planQuarantine, type QuarantinePlan, type QuarantineTarget } from '../core/quarantine.js';
import { candidateFlags, invocation, shellWord } from '../core/advice.js';
import { exitCodeForSignal } from '../interrupt.js';
import { quarantineDocumentTail, renderQuarantine, renderTargetLine, writeTarget } from '../report/quarantine.js';
import type { FlagsOf } from './definitions.js';
import { targetDocument } from '../report/target.js';
import { runGuardedWrite } from './guarded-write.js';
import { selectStores } from './stores-option.js';
import { requireUuid } from './uuid-option.js';

/**
 * quarantine. The values are streamed, never held: with --json into the document's `targets`
 * (a dry run's plan, or what a real run took out, batch by batch), with --all as lines; the
 * human report otherwise shows counts by cause and place and the first values.
 */
export async function quarantineCommand(ctx: CommandContext, flags: FlagsOf<'quarantine'>): Promise<ExitCodeValue> {
  const stores = selectStores(flags.store, () => true);
  const ids = flags.id.map((id) => requireUuid(id, '--id', 'doctor lists the ids of failing values'));
  const secrets = ctx.laminarSecrets();
  requireAeadKey(secrets);
  const candidates = await ctx.resolveKeys(flags.candidate.map((text) => ({ text, flag: '--candidate' })));
  const target = ctx.databaseTarget({ announce: false });
  await loadCipher();
  const { output } = ctx;
  const c = output.color;
  const options = { stores, ids, secrets, candidates, batchSize: flags.batchSize };
  const dryRun = Boolean(flags.dryRun);
  const document = output.jsonMode ? output.jsonDocument('quarantine') : null;
  let stream: ((target: QuarantineTarget) => void) | undefined;
  if (document) {
    document.field('target', targetDocument(target));
    document.field('dryRun', dryRun);
    document.beginArray('targets');
    stream = (t) => document.itemWith((out) => writeTarget(out, t));
  } else if (flags.all) {
    stream = (t) => output.resultLine(renderTargetLine(t, c));
  }
  // The flags a printed quarantine or doctor must repeat to give the same answer.
  const sameAnswer = [
    ...flags.store.map((s) => `--store ${shellWord(s)}`),
    ...flags.id.map((id) => `--id ${id}`),
    ...candidateFlags(candidates.map((key) => key.label)),
  ];
  /** quarantine as the operator runs it again: the same answer, taking out `count` values (no terminal needed). */
  const quarantineFor = (count: number) =>
    [invocation('quarantine', { envFiles: ctx.global.envFile }), ...sameAnswer, `--expect ${count}`, '--yes'].join(' ');
  const plan = async (db: Parameters<typeof planQuarantine>[0]): Promise<QuarantinePlan> => {
    const made = await planQuarantine(db, options, dryRun ? stream : undefined);
    refuseSurprises(made, ids, flags.expect, dryRun, (message) => output.note(c.yellow(message)), {
      quarantine: quarantineFor(made.count),
      doctor: [invocation('doctor', { envFiles: ctx.global.envFile }), ...sameAnswer.filter((f) => f.startsWith('--candidate'))].join(' '),
    });
    return made;
  };
  const outcome = await runGuardedWrite(ctx, {
    command: 'quarantine',
    flags,
    target,
    backup: { operation: 'quarantine', toFingerprint: null },
    plan,
    nothingToDo: (made) => made.count === 0,
    present: (made) => ({
      text: renderQuarantine(made, c, { dryRun: false, confirming: true, envFiles: ctx.global.envFile }),
      question: `Take out these ${made.count} values (after writing them to a 0600 backup)?`,
    }),
    estimateBackupBytes: async (_conn, made) => made.backupEstimateBytes,
    // What remains after a stop or a failure needs its own --expect: the same command would be refused.
    howToFinish: (made, committed) =>
      `run \`${quarantineFor(Math.max(0, made.count - committed))}\` to take out the rest (\`--dry-run\` shows it first)`,
    apply: (conn, made, { backup, journal, signal }) =>
      applyQuarantine(conn, made, options, { backup, journal, signal, ...(stream ? { onTaken: stream } : {}) }),
  });
  const write = {
    backup: outcome.backup,
    backupEstimateBytes: outcome.backupEstimateBytes,
    committed: outcome.committed,
    backupComplete: outcome.backupComplete,
    interrupted: outcome.stoppedBy !== null,
  };
  const ok = (outcome.result?.leftOver ?? 0) === 0 && outcome.stoppedBy === null;
  if (document) {
    for (const [name, value] of Object.entries(quarantineDocumentTail(outcome.plan, outcome.result, write))) document.field(name, value);
    document.end(ok);
  } else {
    output.result(
      renderQuarantine(outcome.plan, c, {
        rerun: quarantineFor(outcome.plan.count),
        finish: quarantineFor(Math.max(0, outcome.plan.count - outcome.committed)),
        dryRun: outcome.dryRun,
        streamed: Boolean(flags.all),
        envFiles: ctx.global.envFile,
        result: outcome.result,
        backup: outcome.backup,
        stoppedBy: outcome.stoppedBy,
        committed: outcome.committed,
      }),
    );
  }
  if (outcome.stoppedBy) return exitCodeForSignal(outcome.stoppedBy);
  return ok ? ExitCode.healthy : ExitCode.problemsFound;
}

/** Taking out more than this many values needs --expect with the exact count. */
const EXPECT_ABOVE_VALUES = 100;
/** ...or more than this share of a store that holds at least EXPECT_STORE_SIZE values. */
const EXPECT_ABOVE_SHARE = 0.01;
const EXPECT_STORE_SIZE = 1000;

/**
 * Before anything is taken out: every --id must name a value that no key opens; a large take-out
 * needs --expect with the exact count (more than 100 values, more than 1% of a store of 1,000 or
 * more, or more than half of any store of 3 or more: nearly everything failing usually means the
 * key is wrong, and values an older key opens are a rotation away from working, not garbage);
 * and an --expect given must match the count.
 */
function refuseSurprises(
  plan: QuarantinePlan,
  ids: string[],
  expect: number | undefined,
  dryRun: boolean,
  warn: (message: string) => void,
  commands: { quarantine: string; doctor: string },
): void {
  if (plan.requested.length > 0) {
    throw new UsageError(
      `nothing to quarantine for ${plan.requested.map((r) => `${r.id} (${r.why})`).join(', ')}`,
      'quarantine only takes out values no available key opens; doctor lists them',
    );
  }
  const count = plan.count;
  // --expect, when given, is a promise about the count: a different count means the database is
  // not what the operator looked at, whether or not the count would have needed it.
  if (expect !== undefined && expect !== count) {
    const message = `--expect ${expect} was given, but this run would take out ${count} value${count === 1 ? '' : 's'}`;
    const hint = 'look at the plan again (--dry-run), then pass the count it shows';
    if (dryRun) return warn(`warning: ${message}; ${hint}`);
    throw new UsageError(`refusing: ${message}`, hint);
  }
  if (ids.length > 0 || expect === count) return;
  const why = largeTakeOut(plan);
  if (why === null) return;
  const message =
    `this run would take out ${count} value${count === 1 ? '' : 's'} (${why}), which needs --expect ${count}: ` +
    `when many values fail, the key is usually wrong, or an older key opens them (a rotation away from working)`;
  const hint =
    `first try the old keys you have: \`${commands.doctor} --candidate file:OLD.key\` (and check-deployment); ` +
    `if you are sure, run \`${commands.quarantine}\``;
  // A dry run shows the plan and says what the real run will need; the real run refuses.
  if (dryRun) return warn(`warning: ${message}; ${hint}`);
  throw new UsageError(`refusing: ${message}`, hint);
}

/** Why a take-out counts as large, or null. */
function largeTakeOut(plan: QuarantinePlan): string | null {
  if (plan.count > EXPECT_ABOVE_VALUES) return `more than ${EXPECT_ABOVE_VALUES}`;
  for (const store of plan.stores) {
    if (store.total >= EXPECT_STORE_SIZE && store.taken > store.total * EXPECT_ABOVE_SHARE)
      return `${store.taken} of the ${store.total} in ${store.store}, more than ${EXPECT_ABOVE_SHARE * 100}%`;
    // A store of one or two values says nothing about the key; from three on, most of it failing does.
    if (store.total >= 3 && store.taken * 2 > store.total) return `${store.taken} of the ${store.total} in ${store.store}, more than half`;
  }
  return null;
}
