/** Spawns the built bin, as an operator or CI would. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { validateDocument, validateDocumentText } from './schemas.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.join(here, '../../bin/lmnr-keys.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/**
 * A home folder of this test file: default backups land under it, never in the real one.
 * Removed when the file's tests end (vitest's workers do not always run exit handlers).
 */
export const TEST_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-home-'));
afterAll(() => fs.rmSync(TEST_HOME, { recursive: true, force: true }));
process.on('exit', () => fs.rmSync(TEST_HOME, { recursive: true, force: true }));

function cliEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: TEST_HOME, CI: 'true', NO_COLOR: '1' };
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** Runs the bin with a clean environment (PATH and a throwaway HOME only) plus `env`. CI=true so no spinners. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = cliEnvironment(options.env);
    const child = spawn(process.execPath, ['--', BIN, ...args], { env, cwd: options.cwd ?? here, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        validateDocuments(args, code, stdout, options.cwd ?? here);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The words of a command line before `--` (what the bin reads as flags). */
function flagWords(args: string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? args : args.slice(0, end);
}

/** The file a command line names with --json-out, resolved as the bin resolves it, or null. */
function jsonOutFile(args: string[], cwd: string): string | null {
  const words = flagWords(args);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--json-out' && i + 1 < words.length) return path.resolve(cwd, words[i + 1]!);
    if (word.startsWith('--json-out=')) return path.resolve(cwd, word.slice('--json-out='.length));
  }
  return null;
}

/**
 * The documents a finished run produced, each against its command's schema (test/support/schemas.ts):
 * stdout under --json, and the --json-out file when there is one. A run killed by a signal the
 * bin could not handle (code null: SIGKILL, the timeout) owes no document.
 */
function validateDocuments(args: string[], code: number | null, stdout: string, cwd: string): void {
  if (code === null) return;
  const words = flagWords(args);
  if (words.includes('--json')) validateDocumentText(stdout, `stdout of \`lmnr-keys ${args.join(' ')}\` (exit ${code})`);
  const file = jsonOutFile(args, cwd);
  if (file !== null && fs.existsSync(file))
    validateDocument(JSON.parse(fs.readFileSync(file, 'utf8')), `--json-out ${file} of \`lmnr-keys ${args.join(' ')}\` (exit ${code})`);
}

/**
 * Starts the bin in the background (same environment as runCli), output collected, for a test
 * to signal or kill it mid-run. `shell` runs first in `sh` (a ulimit, say), then execs the bin.
 */
export function startCli(args: string[], env: Record<string, string>, shell?: string) {
  const [command, commandArgs] = shell
    ? ['sh', ['-c', `${shell}; exec "$0" -- "$@"`, process.execPath, BIN, ...args]]
    : [process.execPath, ['--', BIN, ...args]];
  const child = spawn(command, commandArgs, { env: cliEnvironment(env), cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // Once its output is all read (close, not exit), its documents validated (see validateDocuments).
  const exit = new Promise<number | null>((resolve, reject) =>
    child.on('close', (code) => {
      try {
        validateDocuments(args, code, stdout, here);
        resolve(code);
      } catch (error) {
        reject(error);
      }
    }),
  );
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** Fails when any of the secrets appears in any of the texts (also in lower/upper case). */
export function findLeaks(texts: string[], secrets: string[]): string[] {
  const leaks: string[] = [];
  for (const secret of secrets) {
    if (!secret) continue;
    for (const text of texts) {
      if (text.includes(secret) || text.toLowerCase().includes(secret.toLowerCase())) leaks.push(secret.slice(0, 4) + '…');
    }
  }
  return leaks;
}

/** stderr without the line every connecting command starts with ("Reading Postgres at HOST:PORT/DB as USER (source)"). */
export function quiet(stderr: string): string {
  return stderr.replace(/^Reading Postgres at [^\n]*\n/m, '');
}
