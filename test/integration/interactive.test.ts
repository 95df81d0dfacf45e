/**
 * On a terminal: rotate, set and restore plan first, show the plan and the target, then ask;
 * "no" writes nothing. Needs util-linux `script` for a pty.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addWorkspace } from '../support/seed.js';
import { BIN, TEST_HOME } from '../support/cli.js';
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

/** Runs a command in a pseudo-terminal and answers the question once `question` appears. */
function onTerminal(args: string, question: string, answer: string): Promise<{ code: number; screen: string }> {
  return new Promise((resolve) => {
    const command = `stty cols 120 rows 40; node -- ${BIN} ${args}; echo "EXIT=$?"`;
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: TEST_HOME,
        DATABASE_URL: t.url,
        OLD,
        NEW,
        AEAD_SECRET_KEY: NEW,
        V: 'sk-terminal-0123456789',
        TERM: 'dumb',
      },
      cwd: dir,
    });
    let screen = '';
    let answered = false;
    child.stdout.on('data', (chunk) => {
      screen += chunk;
      if (!answered && screen.includes(question)) {
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
    const rotate = (answer: string) => onTerminal('rotate --from env:OLD --to env:NEW --no-backup', 'Re-seal 5 values', answer);
    const no = await rotate('n\r');
    expect(no.screen).toContain('Rotation plan');
    expect(no.screen.indexOf('Rotation plan')).toBeLessThan(no.screen.indexOf('Re-seal 5 values'));
    expect(no.code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    const yes = await rotate('y\r');
    expect(yes.code).toBe(0);
    expect([...(await openAll(t, [NEW])).values()].every((v) => v.keyIndex === 0)).toBe(true);
    expect(yes.screen).not.toContain(OLD);
    expect(yes.screen).not.toContain(NEW);
  });

  it('set and restore show what they will replace, and where, before asking', async () => {
    const before = await snapshotProviderKeys(t);
    const [firstId] = [...before.keys()].sort();
    const project = (await t.query('select project_id::text as p from provider_api_keys limit 1')).rows[0].p as string;
    const name = before.get(firstId!)!.name;
    const set = await onTerminal(
      `set --project ${project} --name ${name} --value env:V --backup ${path.join(dir, 'set.jsonl')}`,
      'Replace the',
      'n\r',
    );
    expect(set.screen).toMatch(/Set plan/);
    expect(set.screen.indexOf('Set plan')).toBeLessThan(set.screen.indexOf('Replace the'));
    // The question names the database; "Writing to" is said only once the answer is yes.
    expect(set.screen).toMatch(/\? Replace the [A-Z_]+ rows .*\(Postgres at .*\(DATABASE_URL from the environment\)\)/);
    expect(set.screen).not.toMatch(/Writing to/);
    expect(set.code).toBe(2);
    expect(await snapshotProviderKeys(t)).toEqual(before);
    // A backup to restore: set with --yes (no terminal question), then restore on the terminal.
    const done = spawnSync(
      'node',
      ['--', BIN, 'set', '--project', project, '--name', name, '--value', 'env:V', '--yes', '--backup', path.join(dir, 'set2.jsonl')],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: TEST_HOME,
          DATABASE_URL: t.url,
          AEAD_SECRET_KEY: NEW,
          V: 'sk-terminal-0123456789',
          CI: 'true',
        },
        encoding: 'utf8',
      },
    );
    expect(done.status).toBe(0);
    const restore = await onTerminal(`restore ${path.join(dir, 'set2.jsonl')}`, 'Put back', 'n\r');
    expect(restore.screen).toMatch(/Restore plan from/);
    expect(restore.screen.indexOf('Restore plan from')).toBeLessThan(restore.screen.indexOf('Put back'));
    // The plan before the question is not a dry run, and does not say so.
    expect(restore.screen).not.toMatch(/dry run: nothing written/);
    expect(restore.code).toBe(2);
  });
});
