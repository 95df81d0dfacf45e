import fs from 'node:fs';
import path from 'node:path';
import type { CommandContext } from '../context.js';
import { parseSecretReference, readAllStdin, SECRET_REFERENCE_FORMS } from '../config.js';
import { ConfigError, ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { checkSecret, LAMINAR_DEFAULT_KEY_HEX } from '../crypto/keys.js';

/**
 * Prints the fingerprint of one key, as doctor and check-deployment show it, so a key in any
 * container can be compared without being shown:
 *   docker compose exec frontend printenv AEAD_SECRET_KEY | lmnr-keys fingerprint
 */
export async function fingerprintCommand(ctx: CommandContext, _flags: unknown, args: string[]): Promise<ExitCodeValue> {
  const { output } = ctx;
  const text = args[0] ?? '-';
  const ref = parseSecretReference(text, 'fingerprint', 1);
  let raw: string;
  let label: string;
  switch (ref.kind) {
    case 'stdin':
      raw = await readAllStdin();
      label = 'stdin';
      break;
    case 'env': {
      const value = ctx.environment().env[ref.name];
      if (value === undefined) throw new ConfigError(`${ref.label}: variable ${ref.name} is not set`, 'export it or add it to an --env-file');
      raw = value;
      label = ref.label;
      break;
    }
    case 'file':
      try {
        raw = fs.readFileSync(path.resolve(process.cwd(), ref.path), 'utf8');
      } catch (error) {
        throw new UsageError(`${ref.label}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path and permissions');
      }
      label = ref.label;
      break;
    case 'laminar-default':
      raw = LAMINAR_DEFAULT_KEY_HEX;
      label = ref.label;
      break;
    case 'literal':
      output.note(output.color.yellow('warning: a key was given on the command line; other users of this machine can read process arguments. Prefer a pipe, env:NAME or file:PATH.'));
      raw = text;
      label = 'the argument';
      break;
  }
  // What printenv or a key file adds: the line break that ends it. Anything else is the key's own.
  const value = raw.replace(/\n$/, '').split('\n')[0] ?? '';
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
  if (check.status === 'invalid') throw new ConfigError(`${label}: ${check.problem}`, `a key is 64 hex characters (${SECRET_REFERENCE_FORMS})`);
  const ok = check.status === 'ok' || check.status === 'public_default';
  if (output.jsonMode) {
    output.json({ version: 1, command: 'fingerprint', ok, fingerprint: check.fingerprint, status: check.status, problem: check.problem });
  } else {
    output.result(check.fingerprint!);
    if (check.status === 'public_default') output.note(output.color.yellow("this is Laminar's public default key"));
    if (check.status === 'needs_cleanup') output.note(output.color.red(check.problem!));
  }
  return ok ? ExitCode.healthy : ExitCode.problemsFound;
}
