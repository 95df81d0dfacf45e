/**
 * Ctrl-C for every command. Commands that write stop themselves after the batch in flight
 * (guarded-write.ts) and the demo cleans up first (demo.ts): they listen for SIGINT while they
 * run, and then the handler cli.ts installs stays out of their way. Anywhere else (doctor,
 * verify-provider, a write still planning), nothing has been written, and the run leaves at
 * once: one line on stderr, exit 130, and under --json still exactly one document.
 */
let leave: (note: string | null) => void = () => {};

/** Set by cli.ts for the running command: how to say it was interrupted (note, JSON document). */
export function setInterruptedLeave(how: (note: string | null) => void): void {
  leave = how;
}

/** Leaves now with exit 130; `note` replaces the default line (null: the default). */
export function leaveInterrupted(note: string | null): never {
  leave(note);
  process.exit(130);
}

/** Installs the default Ctrl-C handler; returns its removal. */
export function leaveOnInterrupt(): () => void {
  const onInterrupt = () => {
    // A command listening too handles it itself.
    if (process.listenerCount('SIGINT') > 1) return;
    leaveInterrupted(null);
  };
  process.on('SIGINT', onInterrupt);
  return () => process.removeListener('SIGINT', onInterrupt);
}
