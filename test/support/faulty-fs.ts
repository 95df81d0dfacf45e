/**
 * A file layer that fails on purpose, for the writers' unit tests: a short write at byte N
 * followed by an error on the next call (what a filling disk does), an error on write or fsync,
 * the folder removed. Counts bytes across every file it writes, so "the disk fills up at byte
 * N" holds whatever the writer's call pattern.
 */
import fs from 'node:fs';
import { nodeFileSystem, type FileSystem } from '../../src/files/file-system.js';

export interface Faults {
  /** The disk is full after this many bytes in all: the write crossing it is short, the next one fails with `code`. */
  fullAt?: number;
  /** The code of the failing write (ENOSPC by default; EDQUOT, EIO, EFBIG...). */
  code?: string;
  /** Every fsync fails with this code (after `syncsBeforeFailure` successful ones). */
  fsyncFails?: string;
  syncsBeforeFailure?: number;
  /** The folder is removed after this many bytes (files already open become unlinked). */
  removeFolderAt?: { bytes: number; folder: string };
}

export function faultyFileSystem(faults: Faults): FileSystem & { written: () => number } {
  let written = 0;
  let syncs = 0;
  let shortWritten = false;
  const fail = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  return {
    ...nodeFileSystem,
    writeSync: (fd, buffer, offset, length, position) => {
      if (faults.fullAt !== undefined) {
        const room = faults.fullAt - written;
        if (room <= 0 || shortWritten) throw fail(faults.code ?? 'ENOSPC');
        if (length > room) {
          shortWritten = true;
          const count = nodeFileSystem.writeSync(fd, buffer, offset, room, position);
          written += count;
          return count;
        }
      }
      const count = nodeFileSystem.writeSync(fd, buffer, offset, length, position);
      written += count;
      if (faults.removeFolderAt && written >= faults.removeFolderAt.bytes && fs.existsSync(faults.removeFolderAt.folder))
        fs.rmSync(faults.removeFolderAt.folder, { recursive: true, force: true });
      return count;
    },
    fsyncSync: (fd) => {
      if (faults.fsyncFails && syncs++ >= (faults.syncsBeforeFailure ?? 0)) throw fail(faults.fsyncFails);
      nodeFileSystem.fsyncSync(fd);
    },
    written: () => written,
  };
}
