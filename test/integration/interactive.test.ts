/** On a terminal: rotate plans first, shows the plan, then asks; "no" writes nothing. Needs util-linux `script` for a pty. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addWorkspace } from '../support/seed.js';
import { BIN } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
const OLD = newKeyHex();
const NEW = newKeyHex();
let t: TestDatabase;
let dir: string;

beforeAll(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-tty-'));
  await addManyProviderKeys(t, await addProject(t, await addWorkspace(t, 'W'), 'P'), 5, OLD);
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs rotate in a pseudo-terminal and answers the question once it appears. */
function rotateOnTerminal(answer: string): Promise<{ code: number; screen: string }> {
  return new Promise((resolve) => {
    const command = `stty cols 120 rows 40; node -- ${BIN} rotate --from env:OLD --to env:NEW --no-backup; echo "EXIT=$?"`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: t.url, OLD, NEW, TERM: 'dumb' },
      cwd: dir,
    });
    let screen = '';
    let answered = false;
    child.stdout.on('data', (chunk) => {
      screen += chunk;
      if (!answered && screen.includes('Re-seal 5 values')) {
        answered = true;
        child.stdin.write(answer);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ code: Number(/EXIT=(\d+)/.exec(screen)?.[1] ?? -1), screen });
    });
  });
}

describe.skipIf(!hasScript)('rotate on a terminal', () => {
  it('shows the plan before asking; "no" writes nothing; "yes" rotates', async () => {
    const before = await snapshotProviderKeys(t);
    const no = await rotateOnTerminal('n\r');
    expect(no.screen).toContain('Rotation plan');
    expect(no.screen.indexOf('Rotation plan')).toBeLessThan(no.screen.indexOf('Re-seal 5 values'));
    expect(no.code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const yes = await rotateOnTerminal('y\r');
    expect(yes.code).toBe(0);
    expect([...(await openAll(t, [NEW])).values()].every((v) => v.keyIndex === 0)).toBe(true);
    expect(yes.screen).not.toContain(OLD);
    expect(yes.screen).not.toContain(NEW);
  });
});
