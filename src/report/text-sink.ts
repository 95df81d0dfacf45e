/**
 * Where stdout's text goes. Written synchronously to file descriptor 1, gathered into chunks:
 * a slow reader (`doctor --json | cat`, a CI log collector) then slows lmnr-keys down instead of
 * letting Node queue an unbounded backlog in memory (process.stdout queues what a pipe cannot
 * take yet). While a write blocks, the COPY being read waits in the socket: Postgres is slowed
 * too, and memory stays flat whatever the number of findings.
 *
 * A reader that went away (EPIPE: `| head`) is its choice: the rest is dropped silently. Any
 * other failure (a full disk under `> file`, EIO) is reported once, on stderr, and the run
 * ends with exit 3 (its output is incomplete).
 */
import fs from 'node:fs';

export interface TextSink {
  write: (text: string) => void;
  /** UTF-8 bytes, written before anything gathered after them (`bytes` is the caller's to reuse once this returns). */
  writeBytes: (bytes: Buffer, length: number) => void;
  /** Pushes out what was gathered (before exit, and at the end of each document). */
  flush: () => void;
  /** The error code of a failed write (not EPIPE), once one happened. */
  readonly failure: string | null;
}

/** Gathered text is written once it reaches this many characters. */
const CHUNK_CHARACTERS = 1 << 16;
const pause = new Int32Array(new SharedArrayBuffer(4));

export function fdTextSink(fd: number, onFailure: (code: string) => void): TextSink {
  let pending: string[] = [];
  let pendingLength = 0;
  let closed = false;
  let failure: string | null = null;
  // One buffer, reused for every chunk (a buffer per chunk is hundreds of MB of garbage for the
  // collector when a million findings stream out).
  let bytes = Buffer.allocUnsafe(CHUNK_CHARACTERS * 3);
  const writeAll = (length: number, from: Buffer = bytes) => {
    let offset = 0;
    while (offset < length) {
      try {
        offset += fs.writeSync(fd, from, offset, length - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        if (code === 'EAGAIN') {
          // A non-blocking pipe that is full (something set O_NONBLOCK on it): wait for the reader.
          Atomics.wait(pause, 0, 0, 2);
          continue;
        }
        closed = true;
        if (code !== 'EPIPE') {
          failure = code;
          onFailure(code);
        }
        return;
      }
    }
  };
  const flush = () => {
    if (pendingLength === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    pendingLength = 0;
    if (closed) return;
    const needed = Buffer.byteLength(text, 'utf8');
    if (needed > bytes.length) bytes = Buffer.allocUnsafe(needed);
    writeAll(bytes.write(text, 0, 'utf8'));
  };
  return {
    write: (text) => {
      if (closed) return;
      pending.push(text);
      pendingLength += text.length;
      if (pendingLength >= CHUNK_CHARACTERS) flush();
    },
    writeBytes: (chunk, length) => {
      flush();
      if (!closed) writeAll(length, chunk);
    },
    flush,
    get failure() {
      return failure;
    },
  };
}

/** A sink over a Node stream (tests hand one in). */
export function streamTextSink(stream: NodeJS.WritableStream): TextSink {
  return {
    write: (text) => void stream.write(text),
    writeBytes: (bytes, length) => void stream.write(Buffer.from(bytes.subarray(0, length))),
    flush: () => {},
    failure: null,
  };
}
