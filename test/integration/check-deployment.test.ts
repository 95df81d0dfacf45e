/**
 * check-deployment and fingerprint through the built bin: Laminar-shaped folders in temp dirs,
 * the harness's real Postgres for the database part, a fake `docker` on PATH for discovery.
 * Every output is searched for the keys used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintKey } from '../../src/crypto/keys.js';
import { freePort } from '../../src/demo/postgres.js';
import { runCli, type CliResult, quiet } from '../support/cli.js';
import { adminUrl, createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  DEFAULT_KEY_HEX,
  expectNoKeyIn,
  inspectedContainer,
  laminarDotenv,
  LOCAL_DEV_COMPOSE,
  QUICKSTART_COMPOSE,
  scratchFolders,
} from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addSlack, addWorkspace, seal } from '../support/seed.js';

const APP = newKeyHex();
const WEB = newKeyHex();
const OLD = newKeyHex();
const PLAINTEXTS = [
  'sk-proj-deploy-check-0123456789',
  'AIzaSy-deploy-check-0123456789',
  'sk-ant-deploy-check-0123456789',
  'xoxb-deploy-check-0123456789',
];
const fp = (hex: string) => fingerprintKey(Buffer.from(hex, 'hex'));

let t: TestDatabase;
const outputs: string[] = [];
const folder = scratchFolders('all');
async function run(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<CliResult> {
  const result = await runCli(['check-deployment', ...args], options);
  outputs.push(result.stdout, result.stderr);
  return result;
}

beforeAll(async () => {
  t = await createTestDatabase();
  const workspace = await addWorkspace(t, 'Acme');
  const project = await addProject(t, workspace, 'Chatbot');
  await addProviderKey(t, project, 'OPENAI_API_KEY', PLAINTEXTS[0]!, APP);
  await addProviderKey(t, project, 'GEMINI_API_KEY', PLAINTEXTS[1]!, APP);
  await addProviderKey(t, project, 'ANTHROPIC_API_KEY', PLAINTEXTS[2]!, APP);
  await addDeployment(t, workspace, {
    privateKey: await seal(APP, 'cHJpdmF0ZQ==', workspace),
    dataPlaneUrl: { ciphertextHex: null, nonceHex: null },
  });
});

afterAll(async () => {
  await t?.drop();
  const password = new URL(adminUrl()).password;
  expectNoKeyIn(outputs, [APP, WEB, OLD, DEFAULT_KEY_HEX]);
  for (const secret of [...PLAINTEXTS, password, decodeURIComponent(password)])
    for (const text of outputs) expect(text.includes(secret)).toBe(false);
});

describe('check-deployment on compose folders', () => {
  it("the quickstart with Laminar's public default: public_default for both services, exit 1", async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(DEFAULT_KEY_HEX) });
    const result = await run(['--no-containers', '--no-database'], { cwd: dir.dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/frontend\s+AEAD_SECRET_KEY\s+4884fdaa\s+PUBLIC default key\s+\.env/);
    expect(result.stdout).toMatch(/x public_default {2}frontend AEAD_SECRET_KEY/);
    expect(result.stdout).toMatch(/x public_default {2}app-server AEAD_SECRET_KEY/);
    expect(result.stdout).toMatch(/Verdict: 2 findings \(public_default\)/);
    expect(quiet(result.stderr)).toBe('');
  });

  it('a fresh key that opens every stored value: healthy, exit 0, the database counts in JSON', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(APP) });
    const result = await run(['--no-containers', '--json'], { cwd: dir.dir, env: { DATABASE_URL: t.url } });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ version: 2, command: 'check-deployment', ok: true, findings: [] });
    expect(report.sources).toEqual([
      { kind: 'compose', path: 'docker-compose.yml' },
      { kind: 'dotenv', path: '.env' },
    ]);
    expect(report.services).toContainEqual({
      service: 'frontend',
      container: null,
      source: 'compose',
      role: 'frontend',
      variable: 'AEAD_SECRET_KEY',
      status: 'ok',
      fingerprint: fp(APP),
      from: '.env',
    });
    expect(report.database.checked).toBe(true);
    expect(report.database.opens.find((o: { fingerprint: string }) => o.fingerprint === fp(APP))).toMatchObject({
      values: 4,
      byStore: {
        provider_api_keys: 3,
        'workspace_deployments.private_key': 1,
        'workspace_deployments.data_plane_url': 0,
        slack_integrations: 0,
      },
      heldBy: ['frontend AEAD_SECRET_KEY', 'app-server AEAD_SECRET_KEY'],
    });
    expect(report.notes.filter((n: { variable: string }) => n.variable === 'SLACK_ENCRYPTION_KEY')[0].detail).toMatch(
      /no Slack token is stored/,
    );
  });

  it("values sealed under one service's key and not the other's: not_in_database names the right service (read-only)", async () => {
    await addSlack(t, (await t.query('select id from workspaces limit 1')).rows[0].id, 'T0ACME', PLAINTEXTS[3]!, APP);
    const before = await t.query('select id, value, nonce_hex from provider_api_keys order by id');
    const dir = folder({
      'docker-compose-local-dev.yml': LOCAL_DEV_COMPOSE,
      '.env': laminarDotenv(APP),
      'frontend/.env.local': `AEAD_SECRET_KEY=${WEB}\n`,
    });
    const result = await run(
      ['-f', 'docker-compose-local-dev.yml', '--service', 'frontend=frontend/.env.local', '--no-containers', '--json', '--debug'],
      {
        cwd: dir.dir,
        env: { DATABASE_URL: t.url },
      },
    );
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    const notInDatabase = report.findings.filter((f: { kind: string }) => f.kind === 'not_in_database');
    expect(notInDatabase).toHaveLength(1);
    expect(notInDatabase[0]).toMatchObject({ service: 'frontend', variable: 'AEAD_SECRET_KEY' });
    expect(notInDatabase[0].detail).toContain(`4 values are stored in provider_api_keys`);
    expect(notInDatabase[0].detail).toContain(`4 open under the key app-server holds (${fp(APP)}`);
    expect(notInDatabase[0].fix).toContain(`give frontend that key (${fp(APP)}) in AEAD_SECRET_KEY in frontend/.env.local`);
    // A Slack token is stored now (sealed with the AEAD key, as Laminar's chart does): the missing Slack key is a finding.
    expect(
      report.findings
        .filter((f: { kind: string; variable: string }) => f.kind === 'missing' && f.variable === 'SLACK_ENCRYPTION_KEY')
        .map((f: { service: string }) => f.service)
        .sort(),
    ).toEqual(['app-server', 'frontend']);
    const opens = new Map(report.database.opens.map((o: { fingerprint: string; values: number; byStore: object }) => [o.fingerprint, o]));
    expect(opens.get(fp(APP))).toMatchObject({ values: 5, byStore: { slack_integrations: 1 } });
    expect(opens.get(fp(WEB))).toMatchObject({ values: 0 });
    const after = await t.query('select id, value, nonce_hex from provider_api_keys order by id');
    expect(after.rows).toEqual(before.rows);
  });

  it('a database that is configured but does not answer: the file findings are printed, exit 4', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(DEFAULT_KEY_HEX) });
    const closed = `postgres://nobody:pw@127.0.0.1:${await freePort()}/laminar`;
    const human = await run(['--no-containers'], { cwd: dir.dir, env: { DATABASE_URL: closed } });
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/x public_default {2}frontend AEAD_SECRET_KEY/);
    expect(quiet(human.stderr)).toMatch(/^error: cannot reach Postgres at 127\.0\.0\.1:\d+\/laminar/m);
    const json = await run(['--no-containers', '--json'], { cwd: dir.dir, env: { DATABASE_URL: closed } });
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout);
    expect(report.findings).toHaveLength(2);
    expect(report.database).toMatchObject({ checked: false, error: { exitCode: 4 } });
    // No finding in the files, but the database part failed: ok is false, as the exit code says.
    const healthy = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(APP) });
    const unchecked = await run(['--no-containers', '--json'], { cwd: healthy.dir, env: { DATABASE_URL: closed } });
    expect(unchecked.code).toBe(4);
    expect(JSON.parse(unchecked.stdout)).toMatchObject({ findings: [], ok: false, database: { checked: false } });
    const uncheckedHuman = await run(['--no-containers'], { cwd: healthy.dir, env: { DATABASE_URL: closed } });
    expect(uncheckedHuman.code).toBe(4);
    expect(uncheckedHuman.stdout).toMatch(/Verdict: no finding in what was read, but the database could not be checked/);
  });

  it('no database configured at all: a note says the database part was skipped', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': `AEAD_SECRET_KEY=${APP}\n` });
    const result = await run(['--no-containers'], { cwd: dir.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/not checked: skipped: no database configured/);
    expect(result.stdout).toMatch(/Verdict: healthy/);
  });

  it('a fake docker on PATH: discovery finds the stale container; a daemon that does not answer is a note', async () => {
    const dir = folder({
      'docker-compose.yml': QUICKSTART_COMPOSE,
      '.env': `AEAD_SECRET_KEY=${APP}\n`,
      'inspect.json': JSON.stringify([
        inspectedContainer('lmnr', 'frontend', 'ghcr.io/lmnr-ai/frontend', { AEAD_SECRET_KEY: OLD }),
        inspectedContainer('lmnr', 'app-server', 'ghcr.io/lmnr-ai/app-server', { AEAD_SECRET_KEY: APP }),
      ]),
      'bin/docker': [
        '#!/bin/sh',
        'if [ -n "$FAKE_DOCKER_DOWN" ]; then echo "Cannot connect to the Docker daemon at $DOCKER_HOST. Is ' +
          'the docker daemon running?" >&2; exit 1; fi',
        'case "$1" in',
        '  ps) [ "$5" = "label=com.docker.compose.project=lmnr" ] && echo 1111 && echo 2222 ;;',
        '  inspect) cat "$FAKE_DOCKER_INSPECT" ;;',
        'esac',
        '',
      ].join('\n'),
    });
    fs.chmodSync(dir.file('bin/docker'), 0o755);
    const env = { PATH: `${dir.file('bin')}${path.delimiter}${process.env.PATH}`, FAKE_DOCKER_INSPECT: dir.file('inspect.json') };
    const found = await run(['--json'], { cwd: dir.dir, env });
    expect(found.code).toBe(1);
    const report = JSON.parse(found.stdout);
    expect(report.findings.map((f: { kind: string; service: string }) => `${f.kind} ${f.service}`)).toEqual(['stale_container frontend']);
    expect(report.findings[0].fix).toBe('docker compose up -d --force-recreate frontend');
    expect(report.sources).toContainEqual({ kind: 'containers', path: 'docker (compose project lmnr)' });

    const down = await run([], { cwd: dir.dir, env: { ...env, FAKE_DOCKER_DOWN: '1', DOCKER_HOST: 'tcp://127.0.0.1:2' } });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(
      /running containers not checked: the Docker daemon does not answer \(Cannot connect to the Docker daemon at tcp:\/\/127\.0\.0\.1:2\./,
    );
    expect(down.stdout).toMatch(/Verdict: healthy/);
  });

  it('--containers - reads docker inspect JSON from stdin', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': `AEAD_SECRET_KEY=${APP}\n` });
    const input = JSON.stringify([inspectedContainer('lmnr', 'app-server', 'ghcr.io/lmnr-ai/app-server', {})]);
    const result = await run(['--containers', '-'], { cwd: dir.dir, input });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/x stale_container {2}app-server \(container lmnr-app-server-1\) AEAD_SECRET_KEY/);
    expect(result.stdout).toMatch(/container lmnr-app-server-1 has no AEAD_SECRET_KEY, but the configuration of app-server now gives it/);
  });

  it("lmnr-keys's overlay merged (-f twice), -p and --profile (repeatable) reach the reader and docker; a bad -p is exit 2", async () => {
    const dir = folder({
      'docker-compose.yml': `${QUICKSTART_COMPOSE}  app-server-consumer:\n    image: ghcr.io/lmnr-ai/app-server\n    profiles: [workers]\n`,
      '.env': laminarDotenv(APP),
      'lmnr-keys/compose.yaml': fs.readFileSync(new URL('../../compose.yaml', import.meta.url), 'utf8'),
      'bin/docker': ['#!/bin/sh', 'echo "$@" >> "$FAKE_DOCKER_LOG"', ''].join('\n'),
    });
    fs.chmodSync(dir.file('bin/docker'), 0o755);
    const env = { PATH: `${dir.file('bin')}${path.delimiter}${process.env.PATH}`, FAKE_DOCKER_LOG: dir.file('docker.log') };
    const files = ['-f', 'docker-compose.yml', '-f', 'lmnr-keys/compose.yaml'];
    const base = await run([...files, '--no-database', '--json'], { cwd: dir.dir, env });
    expect(base.code).toBe(0);
    const report = JSON.parse(base.stdout);
    const judged = (r: { services: Array<{ service: string }> }) => [...new Set(r.services.map((s) => s.service))].sort();
    expect(judged(report)).toEqual(['app-server', 'frontend']);
    expect(report.notes.map((n: { kind: string; service: string }) => `${n.kind} ${n.service}`)).toEqual(
      expect.arrayContaining(['lmnr_keys_service lmnr-keys', 'inactive_profile app-server-consumer']),
    );

    const flagged = await run([...files, '-p', 'laminar', '--profile', 'tools', '--profile', 'workers', '--no-database', '--json'], {
      cwd: dir.dir,
      env,
    });
    expect(flagged.code).toBe(1);
    const withProfiles = JSON.parse(flagged.stdout);
    expect(judged(withProfiles)).toEqual(['app-server', 'app-server-consumer', 'frontend']);
    // The consumer has no AEAD_SECRET_KEY in its environment: a finding (the database was not checked).
    expect(withProfiles.findings[0]).toMatchObject({ kind: 'missing', service: 'app-server-consumer' });
    expect(withProfiles.findings[0].fix).toMatch(/docker compose -p laminar -f docker-compose\.yml -f lmnr-keys\/compose\.yaml up -d/);
    expect(
      fs
        .readFileSync(dir.file('docker.log'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('ps ')),
    ).toEqual([
      'ps -q --no-trunc --filter label=com.docker.compose.project=lmnr',
      'ps -q --no-trunc --filter label=com.docker.compose.project=laminar',
    ]);

    const bad = await run([...files, '--project-name', 'Not Valid', '--no-database', '--no-containers'], { cwd: dir.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid project name "Not Valid" \(-p\/--project-name\)/);
  });

  it('malformed YAML, a missing env_file, an unknown -f path, no compose file: one line and a hint, exit 3', async () => {
    const dir = folder({
      'docker-compose.yml': 'services:\n  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n    image: twice\n',
      'envfile.yml': 'services:\n  app-server:\n    image: ghcr.io/lmnr-ai/app-server\n    env_file:\n      - ./secrets/app.env\n',
    });
    // Compose looks in the folders above too: the empty one must not sit under the others.
    const empty = folder({ '.keep': '' });
    const cases: Array<[string[], string, RegExp]> = [
      [[], dir.dir, /^error: docker-compose\.yml:4: not valid YAML: Map keys must be unique$/],
      [['-f', 'envfile.yml'], dir.dir, /^error: env_file secrets\/app\.env of service app-server \(envfile\.yml:5\) does not exist$/],
      [['-f', 'nope.yml'], dir.dir, /^error: compose file nope\.yml does not exist$/],
      [[], empty.dir, /^error: no compose file in \/.* or above \(compose\.yaml, .*\) and no other source given$/],
    ];
    for (const [args, cwd, message] of cases) {
      const result = await run([...args, '--no-containers', '--no-database'], { cwd });
      expect(result.code, args.join(' ')).toBe(3);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toMatch(/^hint: /);
    }
    const json = await run(['--json', '--no-database'], { cwd: dir.dir });
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ command: 'check-deployment', ok: false, error: { exitCode: 3 } });
  });

  it('Helm values and manifests from the command line', async () => {
    const dir = folder({
      'values.yaml': `secrets:\n  data:\n    AEAD_SECRET_KEY: "${APP}"\n`,
      'rendered.yaml':
        `apiVersion: v1\nkind: Secret\nmetadata:\n  name: laminar-app-secrets\nstringData:\n ` +
        ` AEAD_SECRET_KEY: "${APP}"\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n ` +
        ` name: laminar-frontend\nspec:\n  template:\n    spec:\n      containers:\n ` +
        `       - name: frontend\n          image: ghcr.io/lmnr-ai/frontend-ee:latest\n ` +
        `         envFrom:\n            - secretRef:\n                name: laminar-app-secrets\n ` +
        `         env:\n            - name: AEAD_SECRET_KEY\n              value: ` +
        `"${OLD}"\n`,
    });
    const result = await run(['--helm-values', 'values.yaml', '--manifests', 'rendered.yaml', '--json'], {
      cwd: dir.dir,
      env: { DATABASE_URL: t.url },
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    const byKind = report.findings
      .map((f: { kind: string; source: string; service: string; variable: string }) => `${f.kind} ${f.source} ${f.service} ${f.variable}`)
      .sort();
    expect(byKind).toContain('not_in_database manifests laminar-frontend AEAD_SECRET_KEY');
    expect(
      report.services.find((s: { source: string; service: string }) => s.source === 'helm-values' && s.service === 'laminar-frontend')
        .fingerprint,
    ).toBe(fp(APP));
    expect(report.services.find((s: { source: string }) => s.source === 'manifests').fingerprint).toBe(fp(OLD));
  });

  it('--help shows examples for both commands', async () => {
    for (const command of ['check-deployment', 'fingerprint']) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Examples:\n\s+\$ (cd \S+ && )?(npx )?(docker \S+ .*\| )?lmnr-keys /);
    }
    expect((await runCli(['--help'])).stdout).toMatch(/check-deployment[\s\S]*fingerprint/);
  });
});

describe('fingerprint', () => {
  const fingerprint = async (args: string[], input = '', env: Record<string, string> = {}) => {
    const result = await runCli(['fingerprint', ...args], { input, env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  it('prints only the fingerprint of the key piped in (printenv adds a newline), as doctor shows it', async () => {
    const plain = await fingerprint([], `${APP}\n`);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(`${fp(APP)}\n`);
    expect(quiet(plain.stderr)).toBe('');
    const json = await fingerprint(['--json'], `${APP}\n`);
    expect(JSON.parse(json.stdout)).toEqual({
      version: 1,
      command: 'fingerprint',
      ok: true,
      fingerprint: fp(APP),
      status: 'ok',
      problem: null,
      ttyLineEnding: false,
    });
    const fromEnv = await fingerprint(['env:MY_KEY'], '', { MY_KEY: WEB });
    expect(fromEnv.stdout).toBe(`${fp(WEB)}\n`);
    const publicDefault = await fingerprint(['laminar-default']);
    expect(publicDefault.stdout).toBe('4884fdaa\n');
    expect(publicDefault.stderr).toMatch(/public default/);
  });

  it('a key with a trailing CR: its fingerprint, what is wrong on stderr, exit 1; nothing or not a key: exit 3', async () => {
    // A CR alone before the end is the key's own (a TTY ends lines with CR LF: that case is a note, truthful-answers.test.ts).
    const cr = await fingerprint([], `${APP}\r`);
    expect(cr.code).toBe(1);
    expect(cr.stdout).toBe(`${fp(APP)}\n`);
    expect(cr.stderr).toMatch(/line ending \(CR\/LF\).*Rust server .* would refuse it/);
    const empty = await fingerprint([], '');
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/^error: no key in stdin: it is empty\nhint: printenv prints nothing when the variable is not set/);
    const short = await fingerprint([], `${APP.slice(0, 40)}\n`);
    expect(short.code).toBe(3);
    expect(short.stderr).toMatch(/must be 64 hex characters \(32 bytes\); it has 40 hex characters/);
  });
});
