/**
 * Files that are whole or absent. Both kinds are written to a temporary file in the target's
 * own folder (same file system, so the last step is atomic), written whole and fsynced first:
 *   - reports (`--junit`, metrics, summaries): renamed into place, replacing the previous one,
 *     so a reader (a CI upload, node_exporter's textfile collector) never sees half a file;
 *   - key files (`gen-secret --out`, `save-key --out`): read back and compared, then linked
 *     into place, which fails if the target exists: a key file is never overwritten.
 * The temporary file is removed on every failure path, signals included (registerCleanup).
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FileSystem } from './file-system.js';
import { DurableFile } from './durable-file.js';
import { errorCode, localFileError } from './file-error.js';
import { registerCleanup } from '../interrupt.js';
import { LocalFileError } from '../errors.js';

function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
}

function removeQuietly(fs: FileSystem, file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or the folder went with it.
  }
}

/** Makes the rename or link itself durable (best effort: some file systems refuse to open a folder). */
function syncFolder(fs: FileSystem, folder: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(folder, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not every file system lets a folder be fsynced; the file's own data is already on disk.
  } finally {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        // Nothing more to do.
      }
    }
  }
}

/**
 * A report written as it goes: `write` pieces, then `commit` (fsync, rename into place) or
 * `abandon` (the temporary file removed, the previous report untouched).
 */
export class ReportFile {
  private readonly file: DurableFile;
  private readonly forget: () => void;
  private done = false;

  constructor(
    private readonly fs: FileSystem,
    readonly target: string,
    private readonly what: string,
    mode = 0o644,
  ) {
    const temporary = temporaryBeside(target);
    this.file = DurableFile.createExclusive(fs, temporary, what, mode);
    this.forget = registerCleanup(() => {
      this.file.closeQuietly();
      removeQuietly(fs, temporary);
    });
  }

  write(text: string | Uint8Array): void {
    try {
      this.file.write(text);
    } catch (error) {
      this.abandon();
      throw retarget(error, this.file.path, this.target, `write ${this.what} ${this.target}`);
    }
  }

  commit(): void {
    if (this.done) return;
    try {
      this.file.sync();
      this.file.close();
      this.fs.renameSync(this.file.path, this.target);
    } catch (error) {
      this.abandon();
      throw retarget(error, this.file.path, this.target, `write ${this.what} ${this.target}`);
    }
    this.done = true;
    this.forget();
    syncFolder(this.fs, path.dirname(this.target));
  }

  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.file.closeQuietly();
    removeQuietly(this.fs, this.file.path);
    this.forget();
  }
}

/** Writes a whole report file atomically (temporary file, fsync, rename). */
export function writeReportFile(fs: FileSystem, target: string, what: string, text: string, mode = 0o644): void {
  const report = new ReportFile(fs, target, what, mode);
  report.write(text);
  report.commit();
}

/**
 * Writes a key file that is whole or absent, never overwriting: temporary file (0600), fsync,
 * read back and compare, link into place (EEXIST: refused), temporary file removed.
 */
export function writeNewKeyFile(fs: FileSystem, target: string, content: string): void {
  const temporary = temporaryBeside(target);
  let file: DurableFile | null = null;
  const forget = registerCleanup(() => {
    file?.closeQuietly();
    removeQuietly(fs, temporary);
  });
  try {
    file = DurableFile.createExclusive(fs, temporary, 'the key file', 0o600);
    file.write(content);
    file.sync();
    file.close();
    let readBack: Buffer;
    try {
      readBack = fs.readFileSync(temporary);
    } catch (error) {
      throw localFileError(error, `read back the key file written for ${target}`, target);
    }
    const same = readBack.equals(Buffer.from(content, 'utf8'));
    readBack.fill(0);
    if (!same)
      throw new LocalFileError(
        `the key file written for ${target} did not read back as written`,
        'the disk may be failing: choose another place',
        {
          path: target,
          code: 'EIO',
        },
      );
    try {
      fs.linkSync(temporary, target);
    } catch (error) {
      if (errorCode(error) === 'EEXIST')
        throw new LocalFileError(
          `${target} already exists; lmnr-keys never overwrites a key file`,
          'choose another --out path (or move the old file away yourself)',
          {
            cause: error,
            path: target,
            code: 'EEXIST',
          },
        );
      throw localFileError(error, `create the key file ${target}`, target);
    }
    removeQuietly(fs, temporary);
    syncFolder(fs, path.dirname(target));
  } catch (error) {
    file?.closeQuietly();
    removeQuietly(fs, temporary);
    throw retarget(error, temporary, target, `write the key file ${target}`);
  } finally {
    forget();
  }
}

/** An error about the temporary file is reported against the file the operator named. */
function retarget(error: unknown, temporary: string, target: string, doing: string): unknown {
  if (error instanceof LocalFileError && error.path === temporary) return localFileError(error.cause ?? error, doing, target);
  if (error instanceof LocalFileError) return error;
  return localFileError(error, doing, target);
}
