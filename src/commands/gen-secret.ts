import { randomBytes } from 'node:crypto';
import type { CommandContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { fingerprintKey } from '../crypto/keys.js';

/** Prints a fresh key: 32 bytes from the OS random source as 64 hex. This is the one command whose job is to print a key. */
export async function genSecretCommand(ctx: CommandContext): Promise<ExitCodeValue> {
  const bytes = randomBytes(32);
  const key = bytes.toString('hex');
  if (ctx.output.jsonMode) ctx.output.json({ version: 1, command: 'gen-secret', ok: true, key, fingerprint: fingerprintKey(bytes) });
  else ctx.output.result(key);
  ctx.output.note(`fingerprint ${fingerprintKey(bytes)}; store it where Laminar reads AEAD_SECRET_KEY, then run lmnr-keys rotate`);
  return ExitCode.healthy;
}
