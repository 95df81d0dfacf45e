/**
 * The one way lmnr-keys writes a file whose bytes a promise depends on (a backup record, a key,
 * a report). Every write is whole: `write(2)` may write fewer bytes than asked when the disk
 * fills up, and only a later call reports ENOSPC, so short writes are looped. `sync` forces the
 * bytes to disk. Any error (ENOSPC, EDQUOT, EIO, EROFS, EFBIG, the folder removed) becomes a
 * LocalFileError (exit 3) naming the file: callers let it propagate before the transaction the
 * bytes protect commits, so no commit ever follows a failed write.
 */
import type { FileSystem } from './file-system.js';
import { localFileError } from './file-error.js';

export class DurableFile {
  private fd: number | null;
  /** Bytes handed to the kernel so far (all of them: short writes are looped). */
  written = 0;
  /** Bytes known to be on disk (the last successful fsync). */
  synced = 0;
  /** A failed write left bytes that could not be cut off: nothing more may be appended. */
  private broken = false;

  private constructor(
    private readonly fs: FileSystem,
    readonly path: string,
    private readonly what: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Creates `path` exclusively (an existing file is an error: nothing is ever overwritten) with
   * `mode` from the first byte. `what` names it in messages ("the backup file").
   */
  static createExclusive(fs: FileSystem, path: string, what: string, mode = 0o600): DurableFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'wx', mode);
    } catch (error) {
      throw localFileError(error, `create ${what} ${path}`, path);
    }
    const file = new DurableFile(fs, path, what, fd);
    try {
      // umask cannot widen the mode, but a file system may ignore it: make it explicit.
      fs.fchmodSync(fd, mode);
    } catch (error) {
      file.closeQuietly();
      throw localFileError(error, `set the mode of ${what} ${path}`, path);
    }
    return file;
  }

  /** Text is encoded here, reused from write to write (a buffer per write is garbage the collector frees late). */
  private scratch: Buffer | null = null;

  /** Writes all of `data` (looping short writes), or throws. Not yet on disk: see `sync`. */
  write(data: Uint8Array | string): void {
    let bytes: Uint8Array;
    if (typeof data === 'string') {
      const needed = Buffer.byteLength(data, 'utf8');
      if (this.scratch === null || this.scratch.length < needed) this.scratch = Buffer.allocUnsafe(Math.max(needed, 1 << 16));
      bytes = this.scratch.subarray(0, this.scratch.write(data, 0, 'utf8'));
    } else bytes = data;
    const fd = this.openFd();
    if (this.broken)
      throw localFileError(
        Object.assign(new Error('unusable'), { code: 'EIO' }),
        `write ${this.what} ${this.path} (an earlier write failed)`,
        this.path,
      );
    let offset = 0;
    try {
      while (offset < bytes.length) {
        // Positioned: after a failed write is cut off (below), the next one continues where the file ends.
        const count = this.fs.writeSync(fd, bytes, offset, bytes.length - offset, this.written + offset);
        // A write that makes no progress and reports no error would loop forever: treat it as a full disk.
        if (count <= 0) throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' });
        offset += count;
      }
    } catch (error) {
      // A record cut in the middle would make the next line (a commit mark written after the
      // commit) unreadable: the partial bytes are cut off, or no further write is allowed.
      if (offset > 0) {
        try {
          this.fs.ftruncateSync(fd, this.written);
        } catch {
          this.broken = true;
        }
      }
      throw localFileError(error, `write ${this.what} ${this.path}`, this.path);
    }
    this.written += offset;
  }

  /**
   * Forces everything written so far to disk, or throws. A file whose folder was removed still
   * takes writes (it lives on, unlinked, until closed) but will be gone: that is a failure too.
   */
  sync(): void {
    const fd = this.openFd();
    try {
      this.fs.fsyncSync(fd);
    } catch (error) {
      throw localFileError(error, `force ${this.what} ${this.path} to disk`, this.path);
    }
    let links: number;
    try {
      links = this.fs.linkCount(fd);
    } catch (error) {
      throw localFileError(error, `check ${this.what} ${this.path}`, this.path);
    }
    if (links === 0)
      throw localFileError(
        Object.assign(new Error('removed'), { code: 'ENOENT' }),
        `keep ${this.what} ${this.path} (it was removed while being written)`,
        this.path,
      );
    this.synced = this.written;
  }

  /** Writes and syncs: the bytes are on disk when this returns. */
  writeDurably(data: Uint8Array | string): void {
    this.write(data);
    this.sync();
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      this.fs.closeSync(fd);
    } catch (error) {
      throw localFileError(error, `close ${this.what} ${this.path}`, this.path);
    }
  }

  /** Closes without reporting (on a path that is already failing). */
  closeQuietly(): void {
    try {
      this.close();
    } catch {
      // The first error is the one worth reporting.
    }
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  private openFd(): number {
    if (this.fd === null) throw localFileError(Object.assign(new Error('closed'), { code: 'EBADF' }), `write ${this.what}`, this.path);
    return this.fd;
  }
}
