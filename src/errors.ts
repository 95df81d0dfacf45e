/**
 * Typed errors thrown deep down and mapped to exit codes in one place (src/cli.ts).
 * Every message must be safe to print: no key, plaintext or password ever goes into one.
 */

/** The documented exit codes, shared by every command. */
export const ExitCode = {
  healthy: 0,
  problemsFound: 1,
  usage: 2,
  /** Configuration or the local environment: an env file, a key file, the backup disk, a tool. */
  configuration: 3,
  database: 4,
  /** Stopped by signal N exits 128 + N, as shells report it: SIGHUP (a closed terminal). */
  hangup: 129,
  /** SIGINT: Ctrl-C. */
  interrupted: 130,
  /** SIGTERM: docker stop, a Kubernetes Job's deadline, systemd. */
  terminated: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The one table of exit codes: `--help` prints it, every JSON error document carries it, and
 * npm run docs writes it into README.md and docs/output.md. Keys are the codes as text (JSON object keys).
 */
export const EXIT_CODE_MEANINGS: Readonly<Record<string, string>> = {
  '0': 'healthy',
  '1': 'problems found',
  '2': 'usage error or refused',
  '3': 'configuration or local environment (a file, a disk, a tool)',
  '4': 'database',
  '129': 'stopped by SIGHUP (128 + 1)',
  '130': 'stopped by SIGINT, Ctrl-C (128 + 2)',
  '143': 'stopped by SIGTERM (128 + 15)',
};

export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** One line telling the operator what to do next. */
  readonly hint: string | undefined;
  /**
   * Facts the JSON error document carries beside the message: what a write had committed when
   * it failed (`committed`, `backup`, `backupComplete`). Set by the layer that knows them.
   */
  details: Record<string, unknown> = {};
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

/**
 * A local file could not be written, synced, read or created: the backup, a key file, a report.
 * Always exit 3 and never blamed on Postgres; the message names the path and the error code.
 */
export class LocalFileError extends ConfigError {
  readonly path: string;
  readonly code: string;
  constructor(message: string, hint: string | undefined, options: { cause?: unknown; path: string; code: string }) {
    super(message, hint, { cause: options.cause });
    this.path = options.path;
    this.code = options.code;
  }
}

/** A safety check failed mid-operation (e.g. a read-back did not match): rolled back, exit 1. */
export class IntegrityError extends CliError {
  readonly exitCode = ExitCode.problemsFound;
}
