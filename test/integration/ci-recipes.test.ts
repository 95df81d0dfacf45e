/**
 * The CI recipes (examples/ci, quoted in the docs) run as written: each is played by a small
 * imitation of its runner — GitHub's `if:` rules and step outcomes, GitLab's one shell script that
 * stops at the first failing command — against a real database where doctor finds problems.
 * Only the installation is replaced (the clone is this checkout, its dependencies already in place).
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
import { addProject, addProviderKey, addWorkspace } from '../support/seed.js';
import { findLeaks, TEST_HOME } from '../support/cli.js';
import { readDocument } from '../support/schemas.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AEAD = newKeyHex();
const OTHER = newKeyHex();
const PLAINTEXT = 'sk-proj-sealed-under-another-key-0123';
let t: TestDatabase;
const work: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  const workspace = await addWorkspace(t, 'Acme');
  const project = await addProject(t, workspace, 'Chatbot');
  // Sealed under another key: doctor finds it (exit 1), verify-provider reports decode_failed
  // (exit 1) without calling any provider (there is no network here).
  await addProviderKey(t, project, 'OPENAI_API_KEY', PLAINTEXT, OTHER);
});

afterAll(async () => {
  await t?.drop();
  for (const dir of work) fs.rmSync(dir, { recursive: true, force: true });
});

function workspaceWithClone(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-ci-runner-'));
  work.push(dir);
  fs.symlinkSync(root, path.join(dir, 'lmnr-keys'));
  return dir;
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: TEST_HOME, NO_COLOR: '1' });
const readRecipe = (name: string) => fs.readFileSync(path.join(root, 'examples/ci', name), 'utf8');

interface GithubStep {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
  'working-directory'?: string;
}

/** `${{ ... }}` of an `if:`, for the functions the recipe uses; anything else fails the test. */
function evaluateIf(condition: string | undefined, failed: boolean, outcomes: Record<string, string>): boolean {
  if (condition === undefined) return !failed;
  const expression = condition
    .replace(/^\$\{\{\s*|\s*\}\}$/g, '')
    .replace(/!cancelled\(\)/g, 'true')
    .replace(/always\(\)/g, 'true')
    .replace(/success\(\)/g, String(!failed))
    .replace(/failure\(\)/g, String(failed))
    .replace(/steps\.([\w-]+)\.(outcome|conclusion)/g, (_, id: string) => JSON.stringify(outcomes[id] ?? ''));
  if (!/^[\s\w'"!=&|()]*$/.test(expression)) throw new Error(`unsupported if: ${condition}`);
  return Boolean(new Function(`return (${expression});`)());
}

describe('the GitHub Actions recipe', () => {
  const workflow = YAML.parse(readRecipe('github-workflow.yml'));
  const steps: GithubStep[] = workflow.jobs.check.steps;

  it('pins every action and the reviewed commit by full SHA; secrets reach scripts only through env', () => {
    for (const step of steps.filter((s) => s.uses)) expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
    const checkout = steps.find((s) => s.uses?.startsWith('actions/checkout@'))!;
    expect(checkout.with?.ref).toMatch(/^[0-9a-f]{40}$/);
    for (const step of steps.filter((s) => s.run)) expect(step.run).not.toMatch(/\$\{\{/);
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it('runs every check and uploads every report even when doctor finds problems', () => {
    const dir = workspaceWithClone();
    const secrets: Record<string, string> = { LAMINAR_DATABASE_URL: t.url, LAMINAR_AEAD_SECRET_KEY: AEAD };
    const outcomes: Record<string, string> = {};
    const ran: Array<{ step: string; code: number | null }> = [];
    const uploaded: string[] = [];
    const logs: string[] = [];
    let failed = false;
    for (const [index, step] of steps.entries()) {
      const id = step.id ?? `step${index}`;
      if (!evaluateIf(step.if, failed, outcomes)) {
        outcomes[id] = 'skipped';
        continue;
      }
      let code: number | null = 0;
      if (step.uses?.startsWith('actions/upload-artifact@')) {
        for (const file of step.with!.path!.split('\n').filter(Boolean)) {
          expect(fs.existsSync(path.join(dir, file)), `${file} exists when it is uploaded`).toBe(true);
          uploaded.push(file);
        }
      } else if (step.run && !/^npm ci\b/.test(step.run)) {
        // GitHub runs a `run:` with `bash -e {0}`; `${{ secrets.X }}` in env is filled in by the runner.
        const env = Object.fromEntries(
          Object.entries(step.env ?? {}).map(([name, value]) => [
            name,
            value.replace(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g, (_, secret: string) => secrets[secret] ?? ''),
          ]),
        );
        const script = path.join(dir, `.step-${index}.sh`);
        fs.writeFileSync(script, step.run);
        const result = spawnSync('bash', ['-e', script], {
          cwd: path.join(dir, step['working-directory'] ?? '.'),
          env: { ...baseEnv(), CI: 'true', GITHUB_ACTIONS: 'true', ...env },
          encoding: 'utf8',
          timeout: 60_000,
        });
        code = result.status;
        logs.push(result.stdout, result.stderr);
        ran.push({ step: step.name ?? id, code });
      }
      // setup-node, checkout (this checkout stands in for the clone) and npm ci: already done here.
      outcomes[id] = code === 0 ? 'success' : 'failure';
      if (code !== 0) failed = true;
    }
    expect(ran).toEqual([
      { step: 'doctor', code: 1 },
      { step: 'verify-provider', code: 1 },
    ]);
    expect(uploaded.sort()).toEqual(['doctor.json', 'verify.json', 'verify.xml']);
    expect(failed).toBe(true);
    expect(readDocument(path.join(dir, 'verify.json')).results[0].status).toBe('decode_failed');
    readDocument(path.join(dir, 'doctor.json'));
    expect(findLeaks([...logs, fs.readFileSync(path.join(dir, 'doctor.json'), 'utf8')], [AEAD, OTHER, PLAINTEXT])).toEqual([]);
  });
});

describe('the GitLab CI recipe', () => {
  const job = YAML.parse(readRecipe('gitlab-ci.yml'))['laminar-keys'];

  it('keeps its reports whatever the job ends with', () => {
    expect(job.artifacts.when).toBe('always');
    expect(job.artifacts.reports.junit).toBe('verify.xml');
    expect(job.variables.LMNR_KEYS_COMMIT).toMatch(/^[0-9a-f]{40}$/);
  });

  it('runs both checks, fails the job with the worse exit status, and leaves every artifact', () => {
    const dir = workspaceWithClone();
    const lines: string[] = job.script;
    // The installation lines stand aside: this checkout is the clone.
    const install = (line: string) => /apt-get|git |npm ci/.test(line);
    expect(lines.filter(install)).toHaveLength(4);
    // GitLab runs the lines as one script and stops at the first command that fails.
    const script = ['set -eo pipefail', ...lines.map((line) => (install(line) ? ':' : line))].join('\n');
    const result = spawnSync('bash', ['-c', script], {
      cwd: dir,
      env: { ...baseEnv(), CI: 'true', GITLAB_CI: 'true', DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.status).toBe(1);
    for (const file of job.artifacts.paths) expect(fs.existsSync(path.join(dir, file)), `${file} exists`).toBe(true);
    for (const file of job.artifacts.paths) if (file.endsWith('.json')) readDocument(path.join(dir, file));
    expect(result.stdout).toMatch(/Verdict/);
    expect(findLeaks([result.stdout, result.stderr], [AEAD, OTHER, PLAINTEXT])).toEqual([]);
  });

  it('a worse failure wins: an unreachable database makes the job exit 4', () => {
    const dir = workspaceWithClone();
    const script = ['set -eo pipefail', ...job.script.map((line: string) => (/apt-get|git |npm ci/.test(line) ? ':' : line))].join('\n');
    const result = spawnSync('bash', ['-c', script], {
      cwd: dir,
      env: { ...baseEnv(), CI: 'true', DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:1/postgres', AEAD_SECRET_KEY: AEAD },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.status).toBe(4);
    expect(readDocument(path.join(dir, 'doctor.json')).error.exitCode).toBe(4);
  });
});

describe('the docs quote the recipes exactly', () => {
  it('each recipe file appears whole in a fenced block of the README or docs/', () => {
    const docs = [path.join(root, 'README.md')];
    if (fs.existsSync(path.join(root, 'docs')))
      docs.push(...fs.readdirSync(path.join(root, 'docs')).map((file) => path.join(root, 'docs', file)));
    const text = docs.map((file) => fs.readFileSync(file, 'utf8')).join('\n');
    for (const recipe of ['github-workflow.yml', 'gitlab-ci.yml']) {
      expect(text, `${recipe} is quoted`).toContain('```yaml\n' + readRecipe(recipe) + '```');
    }
  });
});
