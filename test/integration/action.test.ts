/**
 * action.yml, the composite GitHub Action, played by an imitation of the runner: each `run:` step
 * with its shell and env (`${{ inputs.x }}` filled into env as GitHub does), GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY and RUNNER_TEMP files, against a real database. The install step (npm ci in
 * the action's checkout) is this checkout's own, already done.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addManyProviderKeys, addProject, addProviderKey, addWorkspace } from '../support/seed.js';
import { findLeaks, TEST_HOME } from '../support/cli.js';
import { readDocument } from '../support/schemas.js';
import { STEP_SUMMARY_BYTES } from '../../src/report/step-summary.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AEAD = newKeyHex();
const OTHER = newKeyHex();
const PLAINTEXT = 'sk-proj-under-another-key-0123456789';
let t: TestDatabase;
let many: TestDatabase;
const folders: string[] = [];

interface Step {
  name: string;
  id?: string;
  shell?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
const action = YAML.parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8'));
const steps: Step[] = action.runs.steps;

beforeAll(async () => {
  t = await createTestDatabase();
  const workspace = await addWorkspace(t, 'Acme');
  const project = await addProject(t, workspace, 'Chat|bot <b>*x*</b>');
  await addProviderKey(t, project, 'OPENAI_API_KEY', PLAINTEXT, OTHER);
  await addProviderKey(t, project, 'GEMINI_API_KEY', 'AIza-under-the-current-key-0123', AEAD);
  many = await createTestDatabase();
  await addManyProviderKeys(many, await addProject(many, await addWorkspace(many, 'Bulk'), 'Bulk'), 3000, OTHER);
});

afterAll(async () => {
  await t?.drop();
  await many?.drop();
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

interface StepRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the action's steps as a runner would, stopping at the first that fails. */
function runAction(inputs: Record<string, string>, env: Record<string, string>, pathPrefix: string[] = []) {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-action-'));
  folders.push(temp);
  const files = { output: path.join(temp, 'output'), summary: path.join(temp, 'summary.md') };
  fs.writeFileSync(files.output, '');
  fs.writeFileSync(files.summary, '');
  const withDefaults: Record<string, string> = Object.fromEntries(
    Object.entries(action.inputs as Record<string, { default?: string }>).map(([name, input]) => [name, input.default ?? '']),
  );
  Object.assign(withDefaults, inputs);
  const ran: Array<StepRun & { name: string }> = [];
  for (const step of steps) {
    if (/npm ci/.test(step.run ?? '')) continue;
    const stepEnv = Object.fromEntries(
      Object.entries(step.env ?? {}).map(([name, value]) => [
        name,
        value.replace(/\$\{\{\s*inputs\.([\w-]+)\s*\}\}/g, (_, input: string) => withDefaults[input] ?? ''),
      ]),
    );
    const script = path.join(temp, `step-${ran.length}.sh`);
    fs.writeFileSync(script, step.run!);
    // GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
      cwd: temp,
      env: {
        PATH: [...pathPrefix, process.env.PATH ?? ''].join(':'),
        HOME: TEST_HOME,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_ACTION_PATH: root,
        GITHUB_OUTPUT: files.output,
        GITHUB_STEP_SUMMARY: files.summary,
        RUNNER_TEMP: temp,
        NO_COLOR: '1',
        ...env,
        ...stepEnv,
      },
      encoding: 'utf8',
      timeout: 120_000,
    });
    ran.push({ name: step.name, code: result.status, stdout: result.stdout, stderr: result.stderr });
    if (result.status !== 0) break;
  }
  const outputs = Object.fromEntries(
    fs
      .readFileSync(files.output, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  // The document the action hands on (its json output), against its command's schema.
  if (outputs.json) readDocument(outputs.json);
  return { ran, outputs, summary: fs.readFileSync(files.summary, 'utf8'), temp };
}

describe('action.yml', () => {
  it('is a composite action whose scripts never carry an input: they reach it through env', () => {
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs)).toEqual(['command', 'args', 'fail-on-problems']);
    expect(Object.keys(action.outputs)).toEqual(['exit-code', 'json', 'junit']);
    for (const step of steps) {
      expect(step.shell, `${step.name} names its shell`).toBe('bash');
      expect(step.run).not.toMatch(/\$\{\{/);
      if (step.uses) expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
    }
    expect(steps.find((s) => /npm ci/.test(s.run ?? ''))!.run).toMatch(/cd "\$GITHUB_ACTION_PATH" && npm ci --omit=optional/);
  });

  it('doctor with problems: the step fails with exit 1, the outputs and the job summary are written', () => {
    const { ran, outputs, summary } = runAction({ command: 'doctor' }, { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD });
    expect(ran.map((r) => [r.name, r.code])).toEqual([
      ['Check Node.js', 0],
      ['Run lmnr-keys', 1],
    ]);
    expect(outputs['exit-code']).toBe('1');
    expect(readDocument(outputs.json!)).toMatchObject({ command: 'doctor', ok: false });
    expect(outputs.junit).toBe('');
    expect(summary).toMatch(/^## lmnr-keys doctor: problems found\n/);
    expect(summary).toMatch(/\| provider_api_keys \| wrong_secret \| 1 \|/);
    // A project name from the database cannot break the table or inject HTML.
    expect(summary).toContain('Chat\\|bot \\<b\\>\\*x\\*\\</b\\>');
    expect(summary).toMatch(/Next: check which key each Laminar service holds \(`lmnr-keys check-deployment`\)/);
    expect(findLeaks([summary, ...ran.flatMap((r) => [r.stdout, r.stderr])], [AEAD, OTHER, PLAINTEXT])).toEqual([]);
  });

  it('fail-on-problems: false forgives exit 1 only; a database error still fails the step', () => {
    const forgiven = runAction({ command: 'doctor', 'fail-on-problems': 'false' }, { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD });
    expect(forgiven.ran.at(-1)!.code).toBe(0);
    expect(forgiven.outputs['exit-code']).toBe('1');
    const failed = runAction(
      { command: 'doctor', 'fail-on-problems': 'false' },
      { DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres', AEAD_SECRET_KEY: AEAD },
    );
    expect(failed.ran.at(-1)!.code).toBe(4);
    expect(failed.outputs['exit-code']).toBe('4');
    // The run's page says why: an error annotation and a job summary.
    expect(failed.ran.at(-1)!.stderr).toMatch(/^::error title=lmnr-keys doctor::cannot reach Postgres at 127.0.0.1:1\/postgres/m);
    expect(failed.summary).toMatch(/^## lmnr-keys doctor: could not complete \(exit 4\)\n\n❌ cannot reach Postgres/);
    // The action's own refusal still writes its outputs.
    const refused = runAction({ command: 'doctor', args: '--json' }, { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD });
    expect(refused.ran.at(-1)!.code).toBe(2);
    expect(refused.outputs).toEqual({ 'exit-code': '2', json: '', junit: '' });
    expect(refused.ran.at(-1)!.stdout).toMatch(/^::error title=lmnr-keys::leave --json out of args/);
  });

  it('args: one argument per line, never evaluated by a shell', () => {
    const marker = path.join(os.tmpdir(), `lk-pwned-${process.pid}`);
    const { ran, outputs } = runAction(
      { command: 'doctor', args: `--candidate\n$(touch ${marker})\n` },
      { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD },
    );
    expect(fs.existsSync(marker)).toBe(false);
    // The line reached lmnr-keys as one literal argument: not a key reference it knows.
    expect(ran.at(-1)!.code).toBe(2);
    expect(outputs['exit-code']).toBe('2');
    expect(ran.at(-1)!.stderr).toMatch(/error: --candidate value #1 is not/);
  });

  it('verify-provider: the junit output; decode problems in the summary with their fix', () => {
    const { ran, outputs, summary } = runAction(
      // The one key that opens is sent nowhere real: a closed local port (network_error, not in --fail-on).
      { command: 'verify-provider', args: '--fail-on\ndecode_failed\n--base-url\ngemini=http://127.0.0.1:1' },
      { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD },
    );
    expect(ran.at(-1)!.code).toBe(1);
    expect(outputs['exit-code']).toBe('1');
    expect(fs.readFileSync(outputs.junit!, 'utf8')).toMatch(/<testsuites name="lmnr-keys verify-provider"/);
    expect(summary).toMatch(/^## lmnr-keys verify-provider/);
    expect(summary).toMatch(/cannot decrypt \(nothing sent\): openai OPENAI_API_KEY/);
    expect(summary).toContain('Next: the key Laminar runs with does not open it, so nothing was sent: `lmnr-keys doctor` names the cause');
  });

  it('a summary of thousands of findings stays bounded: the first 20, then "and N more"', () => {
    const { summary, outputs } = runAction({ command: 'doctor' }, { DATABASE_URL: many.url, AEAD_SECRET_KEY: AEAD });
    expect(outputs['exit-code']).toBe('1');
    expect(Buffer.byteLength(summary)).toBeLessThan(STEP_SUMMARY_BYTES);
    expect(summary.match(/^\d+\. \*\*/gm)).toHaveLength(20);
    expect(summary).toMatch(/and 2980 more: see the run's log or its JSON report/);
  });

  it('Node older than 20 on the runner: one clear line, the step fails before installing anything', () => {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-old-node-'));
    folders.push(fake);
    fs.writeFileSync(path.join(fake, 'node'), '#!/bin/sh\necho v18.20.4\n', { mode: 0o755 });
    const { ran } = runAction({ command: 'doctor' }, {}, [fake]);
    expect(ran).toHaveLength(1);
    expect(ran[0]!.code).toBe(3);
    expect(ran[0]!.stdout.trim()).toBe(
      '::error title=lmnr-keys::lmnr-keys needs Node.js 20 or later on the runner (found v18.20.4): add actions/setup-node with node-version 20 before this step',
    );
  });
});
