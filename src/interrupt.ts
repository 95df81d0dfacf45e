/**
 * Stop requests, the same way for every command: SIGINT (Ctrl-C), SIGTERM (docker stop, a
 * Kubernetes Job's deadline, systemd) and SIGHUP (a closed terminal).
 *
 * - While a write applies its batches (guarded-write.ts) or the demo runs, the first signal is
 *   handed to it: the write stops after the batch in flight, says what was committed, and the
 *   run exits 128 + N. A second signal leaves at once (every batch is its own transaction, so
 *   nothing half-written is ever kept).
 * - Anywhere else (a reading command, a write still planning, waiting for the lock, at a
 *   prompt), nothing is half-done: the run leaves at once, one line on stderr, exit 128 + N,
 *   and under --json still exactly one document (a started one is closed validly).
 * Temporary files register a cleanup, run before any exit by signal.
 */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** 128 + N, what shells report for a process ended by signal N. */
export function exitCodeForSignal(signal: StopSignal): 129 | 130 | 143 {
  return (128 + SIGNAL_NUMBERS[signal]) as 129 | 130 | 143;
}

/** The signal in words, for the one line a stopped run prints. */
export function describeSignal(signal: StopSignal): string {
  if (signal === 'SIGINT') return 'interrupted (Ctrl-C)';
  if (signal === 'SIGTERM') return 'stopped by SIGTERM';
  return 'stopped by SIGHUP (the terminal closed)';
}

/** How a run that leaves at once says so (set by cli.ts: the line, the JSON document). */
let announceLeaving: (signal: StopSignal, note: string | null) => void = () => {};
/** Who takes the first signal instead of leaving (a write applying batches, the demo), and what a later one says. */
let graceful: { onFirst: (signal: StopSignal) => void; leavingNote: () => string | null } | null = null;
/** What a signal after the first says while the stoppable work still runs. */
let leavingNote: (() => string | null) | null = null;
let firstSignal: StopSignal | null = null;
const cleanups = new Set<() => void>();

export function setLeaveAnnouncer(announce: (signal: StopSignal, note: string | null) => void): void {
  announceLeaving = announce;
}

/** A synchronous cleanup run before any exit by signal (a temporary file to remove); returns its removal. */
export function registerCleanup(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the cleanups, says why (`note` replaces the default line), and exits 128 + N. */
export function leaveNow(signal: StopSignal, note: string | null = null): never {
  for (const cleanup of [...cleanups]) {
    try {
      cleanup();
    } catch {
      // Leaving anyway: one failed cleanup must not keep the others from running.
    }
  }
  cleanups.clear();
  try {
    announceLeaving(signal, note);
  } catch {
    // After SIGHUP the terminal may be gone: the exit code still says what happened.
  }
  process.exit(exitCodeForSignal(signal));
}

/**
 * Runs `work` with `onFirstSignal` taking the first stop request (it must make `work` finish
 * soon); a later signal leaves at once. Returns what `work` returns and the first signal seen.
 */
export async function stoppableBy<T>(
  onFirstSignal: (signal: StopSignal) => void,
  work: () => Promise<T>,
  /** The line a second signal leaves with (what was done so far); null: the default line. */
  describeLeaving: () => string | null = () => null,
): Promise<{ value: T; stoppedBy: StopSignal | null }> {
  graceful = { onFirst: onFirstSignal, leavingNote: describeLeaving };
  leavingNote = describeLeaving;
  try {
    const value = await work();
    return { value, stoppedBy: firstSignal };
  } finally {
    graceful = null;
    leavingNote = null;
  }
}

/** The signal that asked the run to stop, if any (the exit code of a write stopped between batches). */
export function stopRequestedBy(): StopSignal | null {
  return firstSignal;
}

/** Installs the handlers for the run; returns their removal. */
export function handleStopSignals(): () => void {
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = () => {
      if (graceful !== null && firstSignal === null) {
        firstSignal = signal;
        graceful.onFirst(signal);
        return;
      }
      leaveNow(firstSignal ?? signal, leavingNote?.() ?? null);
    };
    process.on(signal, handler);
    return () => process.removeListener(signal, handler);
  });
  // With `ulimit -f` exceeded the kernel sends SIGXFSZ, whose default action kills the process
  // before any message: caught, the write fails with EFBIG instead, reported like a full disk.
  const ignoreFileSize = () => {};
  if (process.platform !== 'win32') process.on('SIGXFSZ', ignoreFileSize);
  return () => {
    for (const remove of handlers) remove();
    if (process.platform !== 'win32') process.removeListener('SIGXFSZ', ignoreFileSize);
  };
}
