/**
 * Where output goes. stdout carries results only; progress, prompts, warnings and logs go to
 * stderr. Everything written passes the run's Redactor. This module and its siblings in
 * src/report are the only importers of chalk and ora.
 */
import chalk, { Chalk, type ChalkInstance } from 'chalk';
import { Redactor } from './redact.js';

export interface Output {
  /** Results for humans (not in --json mode). */
  result: (text: string) => void;
  /** The single JSON document of --json mode. */
  json: (document: unknown) => void;
  /** Warnings, notes and progress, always on stderr. */
  note: (text: string) => void;
  debug: (text: string) => void;
  color: ChalkInstance;
  jsonMode: boolean;
  /** Whether the JSON document has been written (there is only one). */
  readonly jsonWritten: boolean;
  /** A spinner is allowed: stderr is a terminal, not --json, not CI. */
  interactive: boolean;
  redactor: Redactor;
}

export interface OutputOptions {
  json: boolean;
  debug: boolean;
  color: boolean;
  ci: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export function createOutput(options: OutputOptions): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const redactor = new Redactor();
  const color = options.color ? chalk : new Chalk({ level: 0 });
  const write = (stream: NodeJS.WritableStream, text: string) => {
    const safe = redactor.apply(text);
    stream.write(safe.endsWith('\n') ? safe : `${safe}\n`);
  };
  let jsonWritten = false;
  return {
    result: (text) => write(stdout, text),
    // Piece by piece (a large document, 200,000 findings, is 100 MB of text: one string of it, then
    // its redacted copy, doubled peak memory); the text is exactly JSON.stringify(document, null, 2).
    json: (document) => {
      jsonWritten = true;
      for (const piece of jsonPieces(document)) stdout.write(redactor.apply(piece));
      stdout.write('\n');
    },
    note: (text) => write(stderr, text),
    debug: (text) => {
      if (options.debug) write(stderr, color.dim(`debug: ${text}`));
    },
    color,
    jsonMode: options.json,
    get jsonWritten() {
      return jsonWritten;
    },
    // A terminal that reports no width (some pseudo-terminals) would send ora's line clearing into a loop.
    interactive: Boolean(stderr.isTTY) && (stderr.columns ?? 0) > 0 && !options.json && !options.ci,
    redactor,
  };
}

export interface Progress {
  update: (text: string) => void;
  stop: () => void;
}

/** A spinner on stderr when interactive; silent otherwise (CI logs stay clean). */
export async function startProgress(output: Output, text: string): Promise<Progress> {
  if (!output.interactive) return { update: () => {}, stop: () => {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: process.stderr }).start();
  return { update: (next) => (spinner.text = next), stop: () => spinner.stop() };
}

/** Prints a command's result: its JSON document in --json mode, its human rendering otherwise. */
export function emit<D>(output: Output, document: D, renderHuman: (document: D) => string): void {
  if (output.jsonMode) output.json(document);
  else output.result(renderHuman(document));
}

/** Runs `work` with a spinner that `work` can update; the spinner always stops. */
export async function withProgress<T>(output: Output, text: string, work: (update: (text: string) => void) => Promise<T>): Promise<T> {
  const progress = await startProgress(output, text);
  try {
    return await work(progress.update);
  } finally {
    progress.stop();
  }
}

/** Arrays longer than this are written element by element. */
const PIECEWISE_ARRAY_LENGTH = 256;

/**
 * JSON.stringify(value, null, 2), cut into pieces: long arrays element by element, everything else
 * whole. A piece is always whole JSON values with their punctuation, so no string (and no secret a
 * redactor must find) is ever split between two pieces. JSON escapes newlines inside strings, so
 * re-indenting a nested value's lines cannot touch its contents.
 */
export function* jsonPieces(value: unknown, indent = ''): Generator<string> {
  const plain = value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
  if (!plain || !containsLongArray(value)) {
    yield (JSON.stringify(value, null, 2) ?? 'null').replace(/\n/g, `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield `${i === 0 ? '' : ','}\n${inner}`;
      // undefined, functions and symbols are null inside arrays, as JSON.stringify writes them.
      const element = value[i] === undefined || typeof value[i] === 'function' || typeof value[i] === 'symbol' ? null : value[i];
      yield* jsonPieces(element, inner);
    }
    yield value.length === 0 ? ']' : `\n${indent}]`;
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol',
  );
  yield '{';
  for (const [index, [key, v]] of entries.entries()) {
    yield `${index === 0 ? '' : ','}\n${inner}${JSON.stringify(key)}: `;
    yield* jsonPieces(v, inner);
  }
  yield entries.length === 0 ? '}' : `\n${indent}}`;
}

function containsLongArray(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > PIECEWISE_ARRAY_LENGTH || value.some(containsLongArray);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsLongArray);
  return false;
}
