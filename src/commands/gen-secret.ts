import { randomBytes } from 'node:crypto';
import type { CommandContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { fingerprintKey } from '../crypto/keys.js';
import { documentOf } from '../report/document.js';
import { emit } from '../report/output.js';
import type { FlagsOf } from './definitions.js';
import { writeKeyFile } from './key-file.js';

/**
 * A fresh key: 32 bytes from the OS random source as 64 hex. With --out it goes to a new 0600
 * file and only its fingerprint is printed; without, this is the one command whose job is to
 * print a key.
 */
export async function genSecretCommand(ctx: CommandContext, flags: FlagsOf<'gen-secret'>): Promise<ExitCodeValue> {
  const bytes = randomBytes(32);
  const fingerprint = fingerprintKey(bytes);
  if (flags.out !== undefined) {
    const file = writeKeyFile(ctx.cwd, flags.out, bytes);
    bytes.fill(0);
    emit(
      ctx.output,
      documentOf('gen-secret', true, { file, fingerprint }),
      () => `New key written to ${file} (mode 0600), fingerprint ${fingerprint}.`,
    );
    ctx.output.note(`Use it as --to file:${flags.out} with lmnr-keys rotate, then set it where Laminar reads AEAD_SECRET_KEY.`);
    return ExitCode.healthy;
  }
  const key = bytes.toString('hex');
  emit(ctx.output, documentOf('gen-secret', true, { key, fingerprint }), () => key);
  ctx.output.note(
    `fingerprint ${fingerprint}; prefer --out FILE (created 0600) to keep it out of terminals and logs; then run lmnr-keys rotate`,
  );
  return ExitCode.healthy;
}
