/** --wait and --lock-timeout, shared by every command that writes. */
import type { LockOptions } from '../db/lock.js';

/** A timeout implies waiting; without either, a held lock is reported at once (exit 4). */
export function lockOptionsFrom(flags: { wait?: boolean | undefined; lockTimeout: number }, purpose?: string): LockOptions {
  return { wait: Boolean(flags.wait) || flags.lockTimeout > 0, timeoutMs: flags.lockTimeout, ...(purpose ? { purpose } : {}) };
}
