/**
 * References: how a key (--from, --to, --candidate) or a provider value (--value, --key) is
 * named on the command line without being typed there. One parser and one reader for both;
 * keys additionally accept `laminar-default` and, with a warning, a literal 64-hex key.
 * Errors never repeat the text given, which may be a secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { cleanSecretText, isKeyHex, keyFromHex, laminarDefaultKey, LAMINAR_DEFAULT_LABEL, type SecretKey } from '../crypto/keys.js';
import type { Environment } from './environment.js';

export type Reference =
  | { kind: 'env'; name: string; label: string }
  | { kind: 'file'; path: string; label: string }
  | { kind: 'laminar-default'; label: string }
  | { kind: 'stdin'; label: string }
  | { kind: 'literal'; hex: string; label: string };

/** What a reference names: a 32-byte key, or a provider credential (never given literally). */
export type ReferenceKind = 'key' | 'value';

export const KEY_REFERENCE_FORMS = 'env:NAME, file:PATH, laminar-default, - (stdin) or 64 hex characters';
export const VALUE_REFERENCE_FORMS = 'env:NAME, file:PATH or - (stdin)';

/**
 * Parses a reference. `position` (1-based) names literal and stdin references, whose text must
 * never be echoed.
 */
export function parseReference(text: string, flag: string, position: number, kind: ReferenceKind = 'key'): Reference {
  const forms = kind === 'key' ? KEY_REFERENCE_FORMS : VALUE_REFERENCE_FORMS;
  if (text.startsWith('env:')) {
    const name = text.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`${flag} env:NAME needs a variable name`, `forms: ${forms}`);
    return { kind: 'env', name, label: text };
  }
  if (text.startsWith('file:')) {
    const filePath = text.slice(5);
    if (filePath === '') throw new UsageError(`${flag} file:PATH needs a path`, `forms: ${forms}`);
    return { kind: 'file', path: filePath, label: text };
  }
  const positional = `${flag.replace(/^--/, '')}-${position}`;
  if (text === '-') return { kind: 'stdin', label: positional };
  if (kind === 'key') {
    if (text === LAMINAR_DEFAULT_LABEL) return { kind: 'laminar-default', label: LAMINAR_DEFAULT_LABEL };
    const cleaned = cleanSecretText(text).value;
    if (isKeyHex(cleaned)) return { kind: 'literal', hex: cleaned, label: positional };
    throw new UsageError(`${flag} value #${position} is not a secret reference (${text.length} characters; not echoed)`, `forms: ${forms}`);
  }
  // Provider keys on the command line end up in shell history and `ps`: never accepted.
  throw new UsageError(`${flag} takes ${forms}, not the value itself (not echoed)`, `e.g. ${flag} env:OPENAI_API_KEY`);
}

export interface ReferenceIo {
  env: Environment;
  cwd: string;
  /** All of stdin; the context lets one reference per run read it. */
  readStdin: () => Promise<string>;
  warn: (message: string) => void;
}

/** Files and stdin hold the value on their first line (what `echo KEY > file` writes). */
export function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? '';
}

/** The raw text a reference points at (not yet cleaned). */
/** The reference's text: its first line (keys, cleaned values), or with `whole` all of it (set --raw). */
async function readReference(
  ref: Exclude<Reference, { kind: 'laminar-default' } | { kind: 'literal' }>,
  io: ReferenceIo,
  whole = false,
): Promise<string> {
  const pick = whole ? (text: string) => text : firstLine;
  switch (ref.kind) {
    case 'env': {
      const value = io.env[ref.name];
      if (value === undefined || value.trim() === '')
        throw new ConfigError(`${ref.label}: variable ${ref.name} is not set`, 'export it or add it to an --env-file');
      return value;
    }
    case 'file': {
      try {
        return pick(fs.readFileSync(path.resolve(io.cwd, ref.path), 'utf8'));
      } catch (error) {
        throw new ConfigError(
          `${ref.label}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          'check the path and permissions',
        );
      }
    }
    case 'stdin':
      return pick(await io.readStdin());
  }
}

function describe(ref: Reference): string {
  return ref.kind === 'stdin' ? `${ref.label} (stdin)` : ref.label;
}

/** Turns a reference into a key. */
export async function resolveKey(ref: Reference, io: ReferenceIo): Promise<SecretKey> {
  if (ref.kind === 'laminar-default') return laminarDefaultKey();
  if (ref.kind === 'literal') {
    io.warn(
      `warning: a key was given on the command line (${ref.label}); other users ` +
        `of this machine can read process arguments. Prefer env:NAME or file:PATH.`,
    );
    return keyFromHex(ref.label, ref.hex);
  }
  const cleaned = cleanSecretText(await readReference(ref, io)).value;
  if (!isKeyHex(cleaned)) {
    throw new ConfigError(
      `${describe(ref)} does not hold a 64-hex-character key (${cleaned.length} characters; not echoed)`,
      'generate one with `lmnr-keys gen-secret --out FILE`',
    );
  }
  return keyFromHex(ref.label, cleaned);
}

/** Turns a reference into a provider value (trimmed, unquoted). */
/** What cleaning removed from a value: the words JSON and notes use. */
export type ValueCleaning = 'whitespace' | 'export' | 'quotes';

/**
 * A provider value (set --value, verify-provider --key). Cleaned by default, as a pasted key
 * needs (a trailing newline, quotes, `export `), saying what was removed; with `raw`, exactly
 * what the reference yields (the whole variable, file or stdin), as Laminar's own UI stores
 * what it is given. Empty is refused: stdin that was empty is a usage error (exit 2).
 */
export async function resolveValue(ref: Reference, io: ReferenceIo, raw = false): Promise<{ value: string; cleaned: ValueCleaning[] }> {
  if (ref.kind === 'laminar-default' || ref.kind === 'literal')
    throw new UsageError(`${ref.label} is a key reference, not a value`, `forms: ${VALUE_REFERENCE_FORMS}`);
  const text = await readReference(ref, io, raw);
  const { value, removed } = raw ? { value: text, removed: [] as string[] } : cleanSecretText(text);
  if (value === '' || (raw && value.trim() === '')) {
    if (ref.kind === 'stdin')
      throw new UsageError('stdin was empty: there is no value to use', 'pipe the value in, e.g. `printf %s "$KEY" | lmnr-keys ... -`');
    throw new ConfigError(`${describe(ref)} is empty`, 'put the value there, or name another reference');
  }
  const cleaned = [
    ...new Set(
      removed.map((what): ValueCleaning => (what === 'quotes' ? 'quotes' : what.startsWith('an `export') ? 'export' : 'whitespace')),
    ),
  ];
  return { value, cleaned };
}

/** Several key references at once; stdin may be read by one of them only. */
export async function resolveKeys(refs: Reference[], io: ReferenceIo): Promise<SecretKey[]> {
  if (refs.filter((ref) => ref.kind === 'stdin').length > 1) throw stdinTwice();
  const keys: SecretKey[] = [];
  for (const ref of refs) keys.push(await resolveKey(ref, io));
  return keys;
}

export function stdinTwice(): UsageError {
  return new UsageError(
    'only one reference can read stdin (-), across all flags',
    'put the other keys or values in files (file:PATH) or variables (env:NAME)',
  );
}

/** Reads all of stdin (the process's); refuses a terminal, where it would wait for typing. */
export async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UsageError('a reference is - but stdin is a terminal', 'pipe the value in, e.g. `cat old.key | lmnr-keys ...`');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
