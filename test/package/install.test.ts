/**
 * What a release would ship, installed as an operator installs it: `npm pack`, then
 * `npm install -g --prefix EMPTY --omit=optional TARBALL` (from npm's cache where it can), and
 * the installed bin run against a real database. Slow (an install): `npm run test:slow`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addProject, addProviderKey, addWorkspace } from '../support/seed.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-package-'));
const KEY = newKeyHex();
let t: TestDatabase;

/** The allowlist a release packs: these folders and files, nothing else (npm adds package.json). */
const ALLOWED = [/^bin\//, /^dist\//, /^schemas\//, /^README\.md$/, /^LICENSE$/, /^\.env\.example$/, /^package\.json$/];

beforeAll(async () => {
  t = await createTestDatabase();
  const project = await addProject(t, await addWorkspace(t, 'Acme'), 'Chatbot');
  await addProviderKey(t, project, 'OPENAI_API_KEY', 'sk-proj-installed-check-0123456789', KEY);
});

afterAll(async () => {
  await t?.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the package as released', () => {
  it('packs exactly the allowlist; npm publish --dry-run exits 0 without a warning', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
    const files: string[] = pack.files.map((f: { path: string }) => f.path);
    expect(files.filter((file) => !ALLOWED.some((allowed) => allowed.test(file)))).toEqual([]);
    for (const needed of ['bin/lmnr-keys.js', 'dist/cli.js', 'README.md', 'LICENSE', '.env.example']) expect(files).toContain(needed);
    if (fs.existsSync(path.join(root, 'schemas'))) expect(files.some((file) => file.startsWith('schemas/'))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(manifest.license).toBe('Apache-2.0');
    // A placeholder token: a dry run needs none, but npm warns when it finds no login at all.
    const publish = spawnSync(
      'npm',
      ['publish', '--dry-run', '--ignore-scripts', '--//registry.npmjs.org/:_authToken=dry-run-placeholder'],
      { cwd: root, encoding: 'utf8', env: { ...process.env, NPM_CONFIG_USERCONFIG: '/dev/null' } },
    );
    expect(publish.status).toBe(0);
    expect(`${publish.stdout}${publish.stderr}`.split('\n').filter((line) => /\bwarn\b/i.test(line))).toEqual([]);
  });

  it('installs into an empty prefix and runs --version and doctor against a database', () => {
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: root });
    const tarball = path.join(work, `lmnr-keys-${manifest.version}.tgz`);
    const prefix = path.join(work, 'prefix');
    const install = spawnSync(
      'npm',
      ['install', '-g', '--prefix', prefix, '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', tarball],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(install.status, install.stderr).toBe(0);
    const bin = path.join(prefix, 'bin', 'lmnr-keys');
    const env = { PATH: process.env.PATH ?? '', HOME: work, CI: 'true', NO_COLOR: '1' };
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env, cwd: work });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(manifest.version);
    const doctor = spawnSync(bin, ['doctor', '--json'], {
      encoding: 'utf8',
      env: { ...env, DATABASE_URL: t.url, AEAD_SECRET_KEY: KEY },
      cwd: work,
      timeout: 60_000,
    });
    expect(doctor.status, doctor.stderr).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ command: 'doctor', ok: true, summary: { total: 1, ok: 1 } });
  });
});

describe('the release workflow', () => {
  const workflow = (() => {
    const text = fs.readFileSync(path.join(root, '.github/workflows/release.yml'), 'utf8');
    return { text, parsed: YAML.parse(text) };
  })();
  const steps: Array<{ uses?: string; run?: string; id?: string }> = workflow.parsed.jobs.release.steps;

  it('runs on a version tag, pins every action by SHA, tests before publishing with provenance and pushing the image', () => {
    expect(workflow.parsed.on.push.tags).toEqual(['v*.*.*']);
    expect(workflow.parsed.jobs.release.permissions['id-token']).toBe('write');
    for (const step of steps.filter((s) => s.uses)) expect(step.uses).toMatch(/@[0-9a-f]{40}$/);
    const order = steps.map((s) => s.run ?? s.uses ?? '');
    const at = (pattern: RegExp) => order.findIndex((entry) => pattern.test(entry));
    expect(at(/^npm ci$/)).toBeLessThan(at(/^npm test$/));
    expect(at(/^npm test$/)).toBeLessThan(at(/^npm publish --provenance/));
    expect(at(/^npm publish/)).toBeLessThan(at(/^docker\/build-push-action@/));
    for (const step of steps.filter((s) => s.run)) expect(step.run).not.toMatch(/\$\{\{/);
  });

  it("refuses a tag that is not package.json's version, and a repository npm provenance would reject", () => {
    const check = steps.find((s) => s.id === 'names')!.run!;
    // In a folder whose package.json names a repository, as a maintainer's fork would.
    const folder = path.join(work, 'release-check');
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(
      path.join(folder, 'package.json'),
      JSON.stringify({ version: manifest.version, repository: { type: 'git', url: 'git+https://github.com/Acme/lmnr-keys.git' } }),
    );
    const run = (tag: string, repository: string) => {
      const output = path.join(work, `output-${tag}-${repository.replace('/', '-')}`);
      fs.writeFileSync(output, '');
      const result = spawnSync('bash', ['-e', '-c', check], {
        cwd: folder,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', GITHUB_REF_NAME: tag, GITHUB_REPOSITORY: repository, GITHUB_OUTPUT: output },
      });
      return { code: result.status, stdout: result.stdout, output: fs.readFileSync(output, 'utf8') };
    };
    const wrongTag = run('v9.9.9', 'Acme/lmnr-keys');
    expect(wrongTag.code).toBe(1);
    expect(wrongTag.stdout).toContain(`the tag v9.9.9 is not v${manifest.version}`);
    const ok = run(`v${manifest.version}`, 'Acme/lmnr-keys');
    expect(ok.code).toBe(0);
    expect(ok.output).toBe(`image=ghcr.io/acme/lmnr-keys\nversion=${manifest.version}\n`);
    expect(run(`v${manifest.version}`, 'Someone/else').code).toBe(1);
  });
});
