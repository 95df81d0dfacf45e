/** Interactive questions, on stderr, only when a terminal is attached. */
import { RefusedError } from '../errors.js';

interface Consent {
  yes: boolean;
  stdinIsTerminal: boolean;
  command: string;
}

/**
 * The first half of the gate in front of every destructive write, checked before anything
 * is read: no terminal and no --yes is refused, exit 2, nothing written.
 */
export function refuseWithoutConsent(options: Consent): void {
  if (options.yes || options.stdinIsTerminal) return;
  throw new RefusedError(
    `refusing to ${options.command} without --yes: no terminal is attached to confirm`,
    'run it with --dry-run first to see the plan, then again with --yes',
  );
}

/** The whole gate: --yes passes; a terminal gets a yes/no question (default no); otherwise refused. */
export async function confirmOrRefuse(options: Consent & { question: string }): Promise<void> {
  refuseWithoutConsent(options);
  if (options.yes) return;
  const { default: prompts } = await import('prompts');
  let cancelled = false;
  const answer = await prompts(
    { type: 'confirm', name: 'go', message: options.question, initial: false, stdout: process.stderr },
    { onCancel: () => (cancelled = true) },
  );
  if (cancelled || answer.go !== true) throw new RefusedError(`${options.command}: not confirmed, nothing written`);
}

/** Reads a secret with hidden input (for `set` without --value). */
export async function askSecret(message: string): Promise<string> {
  const { default: prompts } = await import('prompts');
  let cancelled = false;
  const answer = await prompts(
    { type: 'password', name: 'value', message, stdout: process.stderr },
    { onCancel: () => (cancelled = true) },
  );
  if (cancelled || typeof answer.value !== 'string' || answer.value === '') throw new RefusedError('no value entered, nothing written');
  return answer.value;
}
