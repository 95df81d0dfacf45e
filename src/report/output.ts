/**
 * Where output goes. stdout carries results only; progress, prompts, warnings and logs go to
 * stderr. Everything written passes the run's Redactor. This module and its siblings in
 * src/report are the only importers of chalk and ora.
 */
import chalk, { Chalk, type ChalkInstance } from 'chalk';
import { Redactor } from './redact.js';
import { fdTextSink, streamTextSink, type TextSink } from './text-sink.js';
import { ByteSegments, JsonDocumentWriter, type DocumentError } from './json-stream.js';
import { DOCUMENT_VERSIONS, type CommandName } from './document.js';
import { ReportFile } from '../files/atomic-file.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';

export interface Output {
  /** Results for humans (not in --json mode). */
  result: (text: string) => void;
  /** One line of a long human result written as it goes (gathered, not flushed line by line). */
  resultLine: (text: string) => void;
  /**
   * A long human result written part by part (a million lines: no string per line); `end()`
   * closes a line. Shares stdout's order with resultLine.
   */
  resultParts: () => { part: (text: string) => void; end: () => void };
  /** The single JSON document of --json mode, written whole. */
  json: (document: unknown) => void;
  /** The single JSON document of --json mode, written as it goes (see json-stream.ts). */
  jsonDocument: (command: CommandName) => JsonDocumentWriter;
  /**
   * Ends the document a failing run owes: a started one is closed with the error, else an error
   * document is written. Nothing when a document already ended.
   */
  jsonError: (command: CommandName, error: DocumentError) => void;
  /** Warnings, notes and progress, always on stderr. */
  note: (text: string) => void;
  debug: (text: string) => void;
  /** Pushes out stdout's gathered text (before the process exits). */
  flush: () => void;
  /** The run is over: a --json-out file no document reached is removed (the previous one stays). */
  close: () => void;
  color: ChalkInstance;
  /** --json: the document on stdout, and no human report. */
  jsonMode: boolean;
  /** The run owes a JSON document: --json (on stdout) or --json-out (to its file, beside the human report). */
  documentWanted: boolean;
  /** Whether the JSON document has been started (there is only one). */
  readonly jsonWritten: boolean;
  /** A write to stdout failed (not EPIPE): the output is incomplete; the run ends with exit 3. */
  readonly stdoutFailure: string | null;
  /** A spinner is allowed: stderr is a terminal, not --json, not CI. */
  interactive: boolean;
  redactor: Redactor;
}

export interface OutputOptions {
  json: boolean;
  debug: boolean;
  color: boolean;
  ci: boolean;
  /** Tests hand in streams; the process writes file descriptor 1 synchronously (text-sink.ts). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /**
   * --json-out FILE: the document goes to FILE (written as it goes into a temporary file beside it,
   * renamed into place when it ends, failed runs included) while stdout carries the human report.
   */
  jsonOut?: { path: string; fs?: FileSystem };
}

export function createOutput(options: OutputOptions): Output {
  const stderr = options.stderr ?? process.stderr;
  const redactor = new Redactor();
  const color = options.color ? chalk : new Chalk({ level: 0 });
  const writeErr = (text: string) => {
    const safe = redactor.apply(text);
    try {
      stderr.write(safe.endsWith('\n') ? safe : `${safe}\n`);
    } catch {
      // A terminal gone after SIGHUP: nothing left to tell.
    }
  };
  const stdout: TextSink = options.stdout
    ? streamTextSink(options.stdout)
    : fdTextSink(1, (code) => writeErr(`error: cannot write to standard output (${code}): the output is incomplete`));
  let started = false;
  let active: JsonDocumentWriter | null = null;
  // Where the document goes: stdout, or --json-out's file. A file that failed once (ENOSPC) takes
  // nothing more: its error is the run's, reported once.
  const documentFile = options.jsonOut
    ? new ReportFile(options.jsonOut.fs ?? nodeFileSystem, options.jsonOut.path, 'the --json-out document')
    : null;
  let documentFileFailed = false;
  const toDocumentFile = (write: () => void) => {
    if (documentFileFailed) return;
    try {
      write();
    } catch (error) {
      documentFileFailed = true;
      throw error;
    }
  };
  const documentSink: Pick<TextSink, 'write' | 'writeBytes' | 'flush'> = documentFile
    ? {
        write: (text) => toDocumentFile(() => documentFile.write(text)),
        writeBytes: (bytes, length) => toDocumentFile(() => documentFile.write(bytes.subarray(0, length))),
        flush: () => toDocumentFile(() => documentFile.commit()),
      }
    : stdout;
  // Each segment is decoded once for the redactor; unchanged (the rule), its bytes go out as they are.
  const emitSegment = (bytes: Buffer, length: number) => {
    const text = bytes.toString('utf8', 0, length);
    const safe = redactor.apply(text);
    if (safe === text) stdout.writeBytes(bytes, length);
    else stdout.write(safe);
  };
  let parts: ByteSegments | null = null;
  const jsonDocument = (command: CommandName) => {
    if (started) throw new Error('a JSON document was already written');
    started = true;
    // Each segment is decoded once for the redactor; unchanged (the rule), its bytes go out as they are.
    active = new JsonDocumentWriter(
      (bytes, length) => {
        const text = bytes.toString('utf8', 0, length);
        const safe = redactor.apply(text);
        if (safe === text) documentSink.writeBytes(bytes, length);
        else documentSink.write(safe);
      },
      command,
      () => {
        active = null;
        documentSink.flush();
      },
    );
    return active;
  };
  return {
    result: (text) => {
      parts?.flush();
      const safe = redactor.apply(text);
      stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
      stdout.flush();
    },
    resultLine: (text) => {
      parts?.flush();
      stdout.write(`${redactor.apply(text)}\n`);
    },
    resultParts: () => {
      const segments = (parts ??= new ByteSegments(emitSegment));
      return {
        part: (text) => segments.write(text),
        end: () => {
          segments.write('\n');
          segments.boundary();
        },
      };
    },
    // Piece by piece, gathered into segments (a large document is hundreds of MB of text: one
    // string of it, then its redacted copy, would double peak memory); the text is exactly
    // JSON.stringify(document, null, 2).
    json: (document) => {
      started = true;
      let segment = '';
      for (const piece of jsonPieces(document)) {
        segment += piece;
        if (segment.length >= 1 << 16) {
          documentSink.write(redactor.apply(segment));
          segment = '';
        }
      }
      documentSink.write(redactor.apply(`${segment}\n`));
      documentSink.flush();
    },
    jsonDocument,
    jsonError: (command, error) => {
      const open = active as JsonDocumentWriter | null;
      if (open !== null) open.fail(error);
      else if (!started) {
        started = true;
        const document = { version: DOCUMENT_VERSIONS[command], command, error, ok: false };
        documentSink.write(redactor.apply(`${JSON.stringify(document, null, 2)}\n`));
        documentSink.flush();
      }
    },
    note: writeErr,
    debug: (text) => {
      if (options.debug) writeErr(color.dim(`debug: ${text}`));
    },
    flush: () => {
      parts?.flush();
      stdout.flush();
    },
    close: () => {
      if (documentFile && !started) documentFile.abandon();
    },
    color,
    jsonMode: options.json,
    documentWanted: options.json || documentFile !== null,
    get jsonWritten() {
      return started;
    },
    get stdoutFailure() {
      return stdout.failure;
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

/** Prints a command's result: its JSON document (--json, --json-out), its human rendering (unless --json). */
export function emit<D>(output: Output, document: D, renderHuman: (document: D) => string): void {
  if (output.documentWanted) output.json(document);
  if (!output.jsonMode) output.result(renderHuman(document));
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
