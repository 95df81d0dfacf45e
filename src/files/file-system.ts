/**
 * The file operations lmnr-keys's writers use, as one small interface: the real one is Node's
 * `fs`; tests pass one that fails on purpose (a short write at byte N, ENOSPC, EIO or EDQUOT on
 * write or fsync, the folder removed) to prove that no database commit follows a failed write.
 */
import fs from 'node:fs';

export interface FileSystem {
  openSync(path: string, flags: string, mode?: number): number;
  /** May write fewer bytes than asked (a disk filling up): callers loop (see durable-file.ts). At `position` in the file. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, length: number): void;
  fchmodSync(fd: number, mode: number): void;
  closeSync(fd: number): void;
  /** Links to the open file: 0 once its folder or the file itself was removed. */
  linkCount(fd: number): number;
  readFileSync(path: string): Buffer;
  linkSync(existing: string, created: string): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  /** Never recursive: Node's recursive mkdir spins forever where the kernel refuses a folder (/proc). */
  mkdirSync(path: string, mode: number): void;
  statfsSync(path: string): { bavail: number; bsize: number };
  isDirectory(path: string): boolean;
}

export const nodeFileSystem: FileSystem = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fchmodSync: (fd, mode) => fs.fchmodSync(fd, mode),
  closeSync: (fd) => fs.closeSync(fd),
  linkCount: (fd) => fs.fstatSync(fd).nlink,
  readFileSync: (path) => fs.readFileSync(path),
  linkSync: (existing, created) => fs.linkSync(existing, created),
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  mkdirSync: (path, mode) => void fs.mkdirSync(path, { mode }),
  statfsSync: (path) => {
    const stats = fs.statfsSync(path);
    return { bavail: Number(stats.bavail), bsize: Number(stats.bsize) };
  },
  isDirectory: (path) => {
    try {
      return fs.statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};
