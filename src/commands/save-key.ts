import type { CommandContext } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { documentOf } from '../report/document.js';
import { emit } from '../report/output.js';
import type { ArgsOf, FlagsOf } from './definitions.js';
import { writeKeyFile } from './key-file.js';

/** Copies a key (e.g. the AEAD_SECRET_KEY about to be replaced) into a new 0600 file; prints only its fingerprint. */
export async function saveKeyCommand(
  ctx: CommandContext,
  flags: FlagsOf<'save-key'>,
  [reference]: ArgsOf<'save-key'>,
): Promise<ExitCodeValue> {
  const [key] = await ctx.resolveKeys([{ text: reference, flag: 'save-key' }]);
  if (!key) throw new UsageError('save-key needs a key reference');
  if (flags.fingerprint !== undefined && flags.fingerprint.toLowerCase() !== key.fingerprint) {
    throw new UsageError(
      `${reference} is the key with fingerprint ${key.fingerprint}, not ${flags.fingerprint}: ` +
        `it was already replaced, or is another key; nothing was written`,
      'find the key with that fingerprint (a backup of your .env or Secret, `lmnr-keys fingerprint`) and save it from there',
    );
  }
  const file = writeKeyFile(ctx.cwd, flags.out, key.bytes);
  emit(
    ctx.output,
    documentOf('save-key', true, { file, fingerprint: key.fingerprint }),
    () =>
      `Saved the key (fingerprint ${key.fingerprint}) to ${file} (mode 0600). ` +
      `Use it as --from file:${flags.out}; delete it once doctor is healthy.`,
  );
  return ExitCode.healthy;
}
