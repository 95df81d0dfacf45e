import type { CommandContext } from '../context.js';
import { withTarget } from '../report/document.js';
import { targetDocument } from '../report/target.js';
import { requireAeadKey } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { loadCipher } from '../crypto/aead.js';
import { applySet, planSet } from '../core/repair.js';
import { LAMINAR_KEY_NAMES } from '../stores/stores.js';
import { askSecret } from '../report/prompt.js';
import { emit } from '../report/output.js';
import { renderSet, renderSetPlan, setDocument } from '../report/set.js';
import type { FlagsOf } from './definitions.js';
import type { ValueCleaning } from '../config/references.js';
import { runGuardedWrite } from './guarded-write.js';
import { refusePublicKey } from './public-key-option.js';
import { requireUuid } from './uuid-option.js';

export async function setCommand(ctx: CommandContext, flags: FlagsOf<'set'>): Promise<ExitCodeValue> {
  requireUuid(flags.project, '--project', 'doctor lists the project ids of failing keys');
  if (flags.keep !== undefined) requireUuid(flags.keep, '--keep', 'doctor lists the ids of duplicate rows');
  if (!(LAMINAR_KEY_NAMES as readonly string[]).includes(flags.name) && !flags.force) {
    throw new UsageError(`${flags.name} is not a name Laminar uses`, `use one of ${LAMINAR_KEY_NAMES.join(', ')}, or --force`);
  }
  if (flags.keep !== undefined && flags.value !== undefined)
    throw new UsageError('--keep and --value exclude each other', '--keep keeps an existing row; --value seals a new one');
  if (flags.keep !== undefined && flags.raw)
    throw new UsageError('--raw and --keep exclude each other', '--raw says how a new --value is stored; --keep keeps an existing row');
  const key = requireAeadKey(ctx.laminarSecrets());
  const keepId = flags.keep ?? null;
  if (keepId === null) refusePublicKey(ctx, key, Boolean(flags.allowPublicKey), 'AEAD_SECRET_KEY (the key set seals under)');
  let value: string | null = null;
  let cleaned: ValueCleaning[] = [];
  if (keepId === null && !flags.dryRun) {
    if (flags.value !== undefined) ({ value, cleaned } = await ctx.resolveValue(flags.value, '--value', Boolean(flags.raw)));
    else if (ctx.stdinIsTerminal) value = await askSecret(`New value for ${flags.name} (input hidden)`);
    else throw new UsageError('no --value and no terminal to ask for it', 'pass --value env:NAME, --value file:PATH or --value - (stdin)');
    ctx.output.redactor.add(value);
    if (!flags.raw && /[\r\n]/.test(value))
      ctx.output.note(
        ctx.output.color.yellow(
          'warning: the value holds a line break inside it: a provider key with one is almost certainly broken (check what was pasted; --raw if it is meant)',
        ),
      );
  }
  const target = ctx.databaseTarget({ announce: false });
  await loadCipher();
  const outcome = await runGuardedWrite(ctx, {
    command: 'set',
    flags,
    target,
    backup: { operation: 'set', toFingerprint: key.fingerprint },
    plan: (db) => planSet(db, { projectId: flags.project, name: flags.name, key, keepId }),
    nothingToDo: (plan) => plan.keepId !== null && plan.rows.length === 1,
    present: (plan) => ({
      text: renderSetPlan(plan, key.fingerprint, ctx.output.color),
      question: keepId
        ? `Keep row ${keepId} and remove the others?`
        : `Replace the ${flags.name} rows of project ${flags.project} with the new value?`,
    }),
    apply: (conn, plan, { backup, journal }) => applySet(conn, plan, { value, key, backup, journal }),
  });
  const document = { ...setDocument(outcome.plan, outcome.result, { dryRun: outcome.dryRun, backup: outcome.backup }), cleaned };
  emit(ctx.output, withTarget(document, targetDocument(target)), (doc) =>
    renderSet(doc, key.fingerprint, ctx.output.color, outcome.plan, ctx.global.envFile),
  );
  return ExitCode.healthy;
}
