/**
 * The envelope every --json document shares, built here and nowhere else: each report module
 * declares its document's body and builds it with `documentOf`.
 */
export const DOCUMENT_VERSION = 1;

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

export interface Envelope<C extends CommandName> {
  version: typeof DOCUMENT_VERSION;
  command: C;
  /** True exactly when the command exits 0. */
  ok: boolean;
}

export function documentOf<C extends CommandName, B extends object>(command: C, ok: boolean, body: B): Envelope<C> & B {
  return { version: DOCUMENT_VERSION, command, ok, ...body };
}

/** The document of a run that failed before it could build its own. */
export function errorDocument(command: CommandName, exitCode: number, message: string, hint: string | null) {
  return documentOf(command, false, { error: { exitCode, message, hint } });
}
