/** --allow-public-key: the one way to seal anything under Laminar's public default key. */
import type { CommandContext } from '../context.js';
import { isPublicDefault, type SecretKey } from '../crypto/keys.js';
import { UsageError } from '../errors.js';

/**
 * Anything sealed under the public default key is readable by anyone with the database, so
 * lmnr-keys refuses to seal under it (exit 2) unless told so explicitly, and then says it loudly.
 */
export function refusePublicKey(ctx: CommandContext, key: SecretKey, allowed: boolean, what: string): void {
  if (!isPublicDefault(key)) return;
  if (!allowed) {
    throw new UsageError(
      `${what} is Laminar's PUBLIC default key: anything sealed under it can be read by anyone with a copy of the database`,
      'use a key of your own (lmnr-keys gen-secret --out FILE); to seal under the public key anyway (a ' +
        'throwaway demo), add --allow-public-key',
    );
  }
  ctx.output.note(
    ctx.output.color.red.bold(
      `WARNING: sealing under Laminar's PUBLIC default key (${what}, --allow-public-key): anyone with the database can read these values.`,
    ),
  );
}
