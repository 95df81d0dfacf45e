/**
 * Typed errors thrown deep down and mapped to exit codes in one place (src/cli.ts).
 * Every message must be safe to print: no key, plaintext or password ever goes into one.
 */

/** The documented exit codes, shared by every command. */
export const ExitCode = {
  healthy: 0,
  problemsFound: 1,
  usage: 2,
  configuration: 3,
  database: 4,
  /** Stopped by Ctrl-C (128 + SIGINT, what shells report for it). */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** One line telling the operator what to do next. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** Bad flags or arguments, or an operation the operator has to confirm and did not. */
export class UsageError extends CliError {
  readonly exitCode = ExitCode.usage;
}

/** A refused destructive operation (no terminal and no --yes, or the answer was no). */
export class RefusedError extends CliError {
  readonly exitCode = ExitCode.usage;
}

/** Missing or invalid configuration: secrets, env files, database settings. */
export class ConfigError extends CliError {
  readonly exitCode = ExitCode.configuration;
}

/** The database is unreachable, refused us, lacks a privilege, or a lock is held. */
export class DatabaseError extends CliError {
  readonly exitCode = ExitCode.database;
  readonly pgCode: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown; pgCode?: string }) {
    super(message, hint, options);
    this.pgCode = options?.pgCode;
  }
}

/** A safety check failed mid-operation (e.g. a read-back did not match): rolled back, exit 1. */
export class IntegrityError extends CliError {
  readonly exitCode = ExitCode.problemsFound;
}

/** The command already reported what happened; just leave with this code. */
export class ExitError extends Error {
  constructor(readonly exitCode: ExitCodeValue) {
    super(`exit ${exitCode}`);
    this.name = 'ExitError';
  }
}
