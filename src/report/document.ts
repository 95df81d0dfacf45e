/**
 * The envelope every --json document shares, built here and nowhere else: each report module
 * declares its document's body and builds it with `documentOf`.
 */
import { EXIT_CODE_MEANINGS } from '../errors.js';

export type CommandName =
  | 'doctor'
  | 'rotate'
  | 'restore'
  | 'set'
  | 'quarantine'
  | 'verify-provider'
  | 'gen-secret'
  | 'save-key'
  | 'fingerprint'
  | 'check-deployment'
  | 'demo'
  | 'lmnr-keys';

/**
 * Each document's contract version: adding a field keeps it; removing or renaming a field, or
 * changing what one means, bumps it (schemas/ and docs/output.md say what each holds).
 */
export const DOCUMENT_VERSIONS = {
  doctor: 1,
  rotate: 1,
  restore: 1,
  set: 1,
  quarantine: 1,
  'verify-provider': 1,
  'gen-secret': 1,
  'save-key': 1,
  fingerprint: 1,
  // 2: a container's `service` is its compose service (was the container's name, now in `container`).
  'check-deployment': 2,
  demo: 1,
  'lmnr-keys': 1,
} as const satisfies Record<CommandName, number>;

export interface Envelope<C extends CommandName> {
  version: (typeof DOCUMENT_VERSIONS)[C];
  command: C;
  /** True exactly when the command exits 0. */
  ok: boolean;
}

/** `version` and `command` first and `ok` last, as in a document written as it goes (json-stream.ts). */
export function documentOf<C extends CommandName, B extends object>(command: C, ok: boolean, body: B): Envelope<C> & B {
  return { version: DOCUMENT_VERSIONS[command], command, ...body, ok };
}

/** A failed run's `error` field (json-stream.ts writes it too, and imports this module). */
export interface DocumentError {
  exitCode: number;
  message: string;
  hint: string | null;
  [extra: string]: unknown;
}

/**
 * The `error` of a failed run's document: its exit code, the one line and hint printed on
 * stderr, what a write had committed when it failed (`extra`), and the table of exit codes.
 */
export function documentError(exitCode: number, message: string, hint: string | null, extra: Record<string, unknown> = {}): DocumentError {
  return { exitCode, message, hint, ...extra, exitCodes: EXIT_CODE_MEANINGS };
}

/** The document with the database it describes (`target`) after its envelope's first fields; `ok` stays last. */
export function withTarget<D extends { version: number; command: string; ok: boolean }>(
  document: D,
  target: object,
): D & { target: object } {
  const { version, command, ok, ...body } = document;
  return { version, command, target, ...body, ok } as unknown as D & { target: object };
}
