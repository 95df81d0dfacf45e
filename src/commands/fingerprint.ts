import fs from 'node:fs';
import path from 'node:path';
import type { CommandContext } from '../context.js';
import { KEY_REFERENCE_FORMS, parseReference } from '../config/references.js';
import { ConfigError, ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { checkSecret, LAMINAR_DEFAULT_KEY_HEX } from '../crypto/keys.js';
import { fingerprintDocument } from '../report/check-deployment.js';
import { emit } from '../report/output.js';
import type { ArgsOf, FlagsOf } from './definitions.js';

/**
 * Prints the fingerprint of one key, as doctor and check-deployment show it, so a key in any
 * container can be compared without being shown:
 *   docker compose exec -T frontend printenv AEAD_SECRET_KEY | lmnr-keys fingerprint
 * The key is read raw (not cleaned) so that a CR, quotes or spaces around it are reported.
 */
export async function fingerprintCommand(
  ctx: CommandContext,
  _flags: FlagsOf<'fingerprint'>,
  [text = '-']: ArgsOf<'fingerprint'>,
): Promise<ExitCodeValue> {
  const { output } = ctx;
  const ref = parseReference(text, 'fingerprint', 1, 'key');
  const read = async (): Promise<{ raw: string; label: string }> => {
    switch (ref.kind) {
      case 'stdin':
        return { raw: await ctx.readStdin(), label: 'stdin' };
      case 'env': {
        const value = ctx.environment().env[ref.name];
        if (value === undefined)
          throw new ConfigError(`${ref.label}: variable ${ref.name} is not set`, 'export it or add it to an --env-file');
        return { raw: value, label: ref.label };
      }
      case 'file':
        try {
          return { raw: fs.readFileSync(path.resolve(ctx.cwd, ref.path), 'utf8'), label: ref.label };
        } catch (error) {
          throw new UsageError(
            `${ref.label}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
            'check the path and permissions',
          );
        }
      case 'laminar-default':
        return { raw: LAMINAR_DEFAULT_KEY_HEX, label: ref.label };
      case 'literal':
        output.note(
          output.color.yellow(
            'warning: a key was given on the command line; other users of this machine can read process ' +
              'arguments. Prefer a pipe, env:NAME or file:PATH.',
          ),
        );
        return { raw: text, label: 'the argument' };
    }
  };
  const { raw, label } = await read();
  // What printenv or a key file adds: the line break that ends it. Anything else is the key's own,
  // but for one thing: a terminal ends lines with CR LF, so `docker compose exec` without -T (a
  // TTY) hands over the key with a CR. From stdin that CR is the TTY's, not the key's: noted and
  // dropped. From env: or file: it stays a finding (Laminar's Rust server rejects it).
  const fromTty = ref.kind === 'stdin' && /\r\n$/.test(raw);
  const value = (fromTty ? raw.replace(/\r\n$/, '') : raw.replace(/\n$/, '')).split('\n')[0] ?? '';
  if (fromTty)
    output.note(
      output.color.yellow(
        'note: stdin ended in a trailing carriage return, probably from a TTY (docker compose exec without -T): fingerprinted without it',
      ),
    );
  output.redactor.add(value);
  output.redactor.add(value.trim());
  const check = checkSecret('the key', value);
  if (check.key) output.redactor.add(Buffer.from(check.key.bytes).toString('hex'));
  if (check.status === 'missing') {
    throw new ConfigError(
      `no key in ${label}: it is empty`,
      'printenv prints nothing when the variable is not set: that container or pod does not receive it',
    );
  }
  if (check.status === 'invalid')
    throw new ConfigError(`${label}: ${check.problem}`, `a key is 64 hex characters (${KEY_REFERENCE_FORMS})`);
  const ok = check.status === 'ok' || check.status === 'public_default';
  emit(
    output,
    fingerprintDocument(ok, { fingerprint: check.fingerprint, status: check.status, problem: check.problem, ttyLineEnding: fromTty }),
    (doc) => {
      if (check.status === 'public_default') output.note(output.color.yellow("this is Laminar's public default key"));
      if (check.status === 'needs_cleanup') output.note(output.color.red(check.problem!));
      return doc.fingerprint!;
    },
  );
  return ok ? ExitCode.healthy : ExitCode.problemsFound;
}
