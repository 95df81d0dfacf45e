/**
 * --junit FILE, written as results arrive: testcases go to a temporary file beside FILE (so a
 * million results are never held), and at the end the report is assembled — its opening, which
 * carries the counts known only then, the testcases, its close — into a second temporary file
 * renamed into place. A CI upload never sees half a report; the previous one stays until then.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DurableFile } from '../files/durable-file.js';
import { ReportFile, writeReportFile } from '../files/atomic-file.js';
import { localFileError } from '../files/file-error.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';
import { registerCleanup } from '../interrupt.js';

export class JunitFile {
  private readonly cases: DurableFile;
  private readonly forget: () => void;
  private finished = false;

  constructor(
    readonly target: string,
    private readonly redact: (text: string) => string,
    /** The whole report of a run that failed or was stopped, from its reason. */
    private readonly failedReport: (message: string) => string,
    private readonly fs: FileSystem = nodeFileSystem,
  ) {
    const casesPath = path.join(path.dirname(target), `.${path.basename(target)}.cases-${randomBytes(6).toString('hex')}`);
    this.cases = DurableFile.createExclusive(fs, casesPath, 'the JUnit report', 0o600);
    this.forget = registerCleanup(() => this.failRun('stopped by a signal before it completed'));
  }

  /**
   * The run failed or was stopped: the report is replaced by one that says so (never left as the
   * previous run's), best effort — the run's own error is what it reports.
   */
  failRun(message: string): void {
    if (this.finished) return;
    this.discard();
    try {
      writeReportFile(this.fs, this.target, 'the JUnit report', this.redact(this.failedReport(message)));
    } catch {
      // The disk that failed the run may fail this too: the run's error says what happened.
    }
  }

  /** One testcase (a line of XML); redacted as it is written. */
  add(testcase: string): void {
    this.cases.write(`${this.redact(testcase)}\n`);
  }

  /** Assembles the report around the testcases and puts it in place. */
  finish(head: string, tail: string): void {
    if (this.finished) return;
    const report = new ReportFile(this.fs, this.target, 'the JUnit report');
    try {
      report.write(head);
      this.cases.sync();
      const chunk = Buffer.allocUnsafe(1 << 20);
      let fd: number;
      try {
        fd = fs.openSync(this.cases.path, 'r');
      } catch (error) {
        throw localFileError(error, `read back the testcases of ${this.target}`, this.target);
      }
      try {
        for (let position = 0; ;) {
          const read = fs.readSync(fd, chunk, 0, chunk.length, position);
          if (read === 0) break;
          report.write(chunk.subarray(0, read));
          position += read;
        }
      } finally {
        fs.closeSync(fd);
      }
      report.write(tail);
      report.commit();
    } catch (error) {
      report.abandon();
      this.discard();
      throw error;
    }
    this.discard();
  }

  /** Removes the testcases file (after the report is in place, or on any failure). */
  discard(): void {
    if (this.finished) return;
    this.finished = true;
    this.cases.closeQuietly();
    try {
      this.fs.unlinkSync(this.cases.path);
    } catch {
      // Gone already.
    }
    this.forget();
  }
}
