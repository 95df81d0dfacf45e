/**
 * Every file writer against a file layer that fails on purpose: a short write followed by
 * ENOSPC at byte N, EDQUOT and EIO on write, EIO on fsync, the folder removed. Each failure is
 * a LocalFileError (exit 3) naming the file, never a half-written file where a whole one is
 * promised, and never a backup line cut in the middle.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableFile } from '../../src/files/durable-file.js';
import { ReportFile, writeNewKeyFile, writeReportFile } from '../../src/files/atomic-file.js';
import { makeFolders } from '../../src/files/folders.js';
import { nodeFileSystem } from '../../src/files/file-system.js';
import { createBackupFile, openBackupFile, WriteJournal, type BackupHeader, type BackupRecord } from '../../src/core/backup.js';
import { ExitCode, LocalFileError } from '../../src/errors.js';
import { faultyFileSystem, type Faults } from '../support/faulty-fs.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-durable-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const header = (): BackupHeader => ({
  type: 'header',
  version: 1,
  tool: 'lmnr-keys',
  operation: 'quarantine',
  createdAt: '2026-12-06T00:00:00.000Z',
  database: 'h:1/db',
  databaseIdentity: null,
  toFingerprint: null,
});

const record = (i: number, size: number): BackupRecord => ({
  type: 'update',
  store: 'provider_api_keys',
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  oldNonceHex: 'ab'.repeat(24),
  oldCiphertextHex: 'cd'.repeat(size),
  newNonceHex: '',
  newCiphertextHex: '',
  batch: i,
});

/** The faults every writer is tried against (the folder one needs the folder: made per test). */
const FAULTS = (folder: string): Array<[string, Faults, string]> => [
  ['a short write, then ENOSPC', { fullAt: 700 }, 'ENOSPC'],
  ['EDQUOT on write', { fullAt: 0, code: 'EDQUOT' }, 'EDQUOT'],
  ['EIO on write', { fullAt: 300, code: 'EIO' }, 'EIO'],
  ['EIO on fsync', { fsyncFails: 'EIO' }, 'EIO'],
  ['the folder removed', { removeFolderAt: { bytes: 1, folder } }, 'ENOENT'],
];

function expectLocalFileError(error: unknown, code: string, file: string): void {
  expect(error).toBeInstanceOf(LocalFileError);
  const failure = error as LocalFileError;
  expect(failure.exitCode).toBe(ExitCode.configuration);
  expect(failure.code).toBe(code);
  expect(failure.message).toContain(path.basename(file));
  expect(failure.message).toContain(`(${code})`);
  expect(failure.message).not.toMatch(/Postgres/);
}

const leftovers = (folder: string) => (fs.existsSync(folder) ? fs.readdirSync(folder).filter((name) => name.includes('.tmp-')) : []);

describe('DurableFile', () => {
  it('loops short writes, and cuts a write that failed halfway off the file', () => {
    const file = path.join(dir, 'f');
    const durable = DurableFile.createExclusive(faultyFileSystem({ fullAt: 150 }), file, 'the test file');
    durable.write('a'.repeat(100));
    let caught: unknown;
    try {
      durable.write('b'.repeat(100));
    } catch (error) {
      caught = error;
    }
    expectLocalFileError(caught, 'ENOSPC', file);
    durable.closeQuietly();
    // The 50 bytes of the failed write that did land were cut off: the file ends where the last whole write did.
    expect(fs.readFileSync(file, 'utf8')).toBe('a'.repeat(100));
  });

  it('never overwrites: an existing file is refused', () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    expect(() => DurableFile.createExclusive(nodeFileSystem, file, 'the test file')).toThrow(/already exists \(EEXIST\)/);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('the backup', () => {
  it.each(FAULTS('FOLDER'))('%s: LocalFileError, exit 3, and what is on disk reads back whole', (_what, faults, code) => {
    const folder = path.join(dir, 'backups');
    fs.mkdirSync(folder);
    if (faults.removeFolderAt) faults.removeFolderAt.folder = folder;
    const file = path.join(folder, 'b.jsonl');
    const sink = createBackupFile(file, header, faultyFileSystem(faults));
    const journal = new WriteJournal(sink);
    let caught: unknown;
    let appended = 0;
    try {
      for (let i = 1; i <= 20; i++) {
        sink.append([record(i, 40)]);
        appended += 1;
        journal.committed(i, 1);
      }
    } catch (error) {
      caught = error;
    }
    expectLocalFileError(caught, code, file);
    sink.close();
    // What the journal says is in the backup is what a restore reads from it.
    expect(sink.durableRecords()).toBeLessThanOrEqual(appended);
    if (fs.existsSync(file)) {
      const records = [...openBackupFile(file, () => true).newestFirst()];
      expect(records.length).toBeGreaterThanOrEqual(sink.durableRecords());
    }
  });

  it('property: a disk filling up at any byte never leaves a line cut in the middle before a later line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 20_000 }),
        (sizes, fullAt) => {
          const file = path.join(dir, `p-${fullAt}-${sizes.length}-${Math.random()}.jsonl`);
          const sink = createBackupFile(file, header, faultyFileSystem({ fullAt }));
          let whole = 0;
          try {
            for (const [i, size] of sizes.entries()) {
              sink.append([record(i + 1, size)]);
              whole += 1;
              // The commit mark: written after the commit; when it fails the run stops.
              sink.markCommitted(i + 1, 1);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(LocalFileError);
          }
          sink.close();
          if (!fs.existsSync(file)) return;
          const text = fs.readFileSync(file, 'utf8');
          const lines = text.split('\n');
          // Every line but a last one without its newline is whole JSON.
          for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
          expect(lines.at(-1)).toBe('');
          if (text.length > 0 && sink.written()) {
            const records = [...openBackupFile(file, () => true).newestFirst()];
            expect(records.length).toBe(whole);
            expect(sink.durableRecords()).toBe(whole);
          }
          fs.rmSync(file, { force: true });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('report files (--junit, metrics): temporary file, then rename', () => {
  it.each(FAULTS('FOLDER'))('%s: the previous report stays untouched, no temporary file is left', (_what, faults, code) => {
    const folder = path.join(dir, 'reports');
    fs.mkdirSync(folder);
    if (faults.removeFolderAt) faults.removeFolderAt.folder = folder;
    const file = path.join(folder, 'junit.xml');
    fs.writeFileSync(file, 'previous');
    let caught: unknown;
    try {
      writeReportFile(faultyFileSystem(faults), file, 'the JUnit report', 'x'.repeat(2000));
    } catch (error) {
      caught = error;
    }
    expectLocalFileError(caught, code, file);
    if (fs.existsSync(folder)) expect(fs.readFileSync(file, 'utf8')).toBe('previous');
    expect(leftovers(folder)).toEqual([]);
  });

  it('is written as it goes and appears whole, replacing the previous one', () => {
    const file = path.join(dir, 'junit.xml');
    fs.writeFileSync(file, 'previous');
    const report = new ReportFile(nodeFileSystem, file, 'the JUnit report');
    report.write('<a>');
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
    report.write('</a>');
    report.commit();
    expect(fs.readFileSync(file, 'utf8')).toBe('<a></a>');
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('key files (gen-secret --out, save-key --out): whole or absent', () => {
  const key = `${'ab'.repeat(32)}\n`;
  it.each(FAULTS('FOLDER'))('%s: no key file, no temporary file', (_what, faults, code) => {
    const folder = path.join(dir, 'keys');
    fs.mkdirSync(folder);
    if (faults.removeFolderAt) faults.removeFolderAt.folder = folder;
    const file = path.join(folder, 'old.key');
    let caught: unknown;
    try {
      writeNewKeyFile(
        faultyFileSystem(faults.fullAt !== undefined ? { ...faults, fullAt: Math.min(faults.fullAt, 40) } : faults),
        file,
        key,
      );
    } catch (error) {
      caught = error;
    }
    expectLocalFileError(caught, code, file);
    expect(fs.existsSync(file)).toBe(false);
    expect(leftovers(folder)).toEqual([]);
  });

  it('is written 0600, never overwrites, and leaves no temporary file', () => {
    const file = path.join(dir, 'old.key');
    writeNewKeyFile(nodeFileSystem, file, key);
    expect(fs.readFileSync(file, 'utf8')).toBe(key);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(() => writeNewKeyFile(nodeFileSystem, file, `${'cd'.repeat(32)}\n`)).toThrow(/already exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe(key);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('folders', () => {
  it('a path the kernel refuses (/proc/nope/x) fails at once instead of spinning', () => {
    const started = Date.now();
    expect(() => makeFolders(nodeFileSystem, '/proc/nope/x', 0o700)).toThrow(LocalFileError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('creates missing parents 0700, one level at a time', () => {
    const deep = path.join(dir, 'a', 'b', 'c');
    makeFolders(nodeFileSystem, deep, 0o700);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o700);
  });
});
