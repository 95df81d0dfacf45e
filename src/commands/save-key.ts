import type { CommandContext } from '../context.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../errors.js';
import { documentOf } from '../report/document.js';
import { emit } from '../report/output.js';
import type { ArgsOf, FlagsOf } from './definitions.js';
import { writeKeyFile } from './key-file.js';

/** Copies a key (e.g. the AEAD_SECRET_KEY about to be replaced) into a new 0600 file; prints only its fingerprint. */
export async function saveKeyCommand(ctx: CommandContext, flags: FlagsOf<'save-key'>, [reference]: ArgsOf<'save-key'>): Promise<ExitCodeValue> {
  const [key] = await ctx.resolveKeys([{ text: reference, flag: 'save-key' }]);
  if (!key) throw new UsageError('save-key needs a key reference');
  const file = writeKeyFile(ctx.cwd, flags.out, key.bytes);
  emit(ctx.output, documentOf('save-key', true, { file, fingerprint: key.fingerprint }), () => `Saved the key (fingerprint ${key.fingerprint}) to ${file} (mode 0600). Use it as --from file:${flags.out}; delete it once doctor is healthy.`);
  return ExitCode.healthy;
}
