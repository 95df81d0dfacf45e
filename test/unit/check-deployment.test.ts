/**
 * check-deployment's readers and judgement, driven directly (no bin, no database): every
 * deployment shape of shared/LAMINAR.md, written to temp folders with keys made at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  gatherDeployment,
  judgeDeployment,
  keysToCount,
  storesForKey,
  type DatabaseCounts,
  type DeploymentIo,
  type DeploymentSourceOptions,
} from '../../src/core/check-deployment.js';
import type { DockerResult, RunDocker } from '../../src/deployment/read-containers.js';
import { normalizeProjectName } from '../../src/deployment/read-compose.js';
import { LAMINAR_SERVICES, recogniseService } from '../../src/deployment/services.js';
import { fingerprintKey, LAMINAR_DEFAULT_KEY_HEX } from '../../src/crypto/keys.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { checkDeploymentDocument, renderCheckDeployment, type CheckDeploymentDocument } from '../../src/report/check-deployment.js';
import { Chalk } from 'chalk';
import {
  DEFAULT_KEY_HEX,
  expectNoKeyIn,
  FULL_STACK_MID_2025_COMPOSE,
  inspectedContainer,
  laminarDeployment,
  laminarDotenv,
  laminarSecret,
  LOCAL_DEV_COMPOSE,
  QUICKSTART_COMPOSE,
  deploymentIo,
  NOT_INSTALLED,
  scratchFolders,
} from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';

const fp = (hex: string) => fingerprintKey(Buffer.from(hex, 'hex'));
const noDocker: RunDocker = NOT_INSTALLED;
const folder = scratchFolders();

function io(cwd: string, shellEnv: Record<string, string> = {}, runDocker: RunDocker = noDocker, stdin = ''): DeploymentIo {
  return deploymentIo(cwd, { shellEnv, runDocker, readStdin: async () => stdin });
}

const options = (over: Partial<DeploymentSourceOptions> = {}): DeploymentSourceOptions => ({
  composeFiles: [],
  projectDirectory: null,
  projectName: null,
  profiles: [],
  serviceFiles: [],
  containers: null,
  noContainers: false,
  helmValues: [],
  manifests: null,
  ...over,
});

async function check(
  deploymentIo: DeploymentIo,
  over: Partial<DeploymentSourceOptions> = {},
  counts: DatabaseCounts | null = null,
  strict = false,
) {
  const gathered = await gatherDeployment(deploymentIo, options(over));
  const report = checkDeploymentDocument(
    judgeDeployment(gathered, counts ? { checked: true, counts } : { checked: false, reason: 'test' }, { strict }),
  );
  return { gathered, report };
}

const kinds = (report: CheckDeploymentDocument) => report.findings.map((f) => `${f.kind} ${f.service} ${f.variable}`).sort();
const row = (report: CheckDeploymentDocument, service: string, variable = 'AEAD_SECRET_KEY', source?: string) =>
  report.services.find((r) => r.service === service && r.variable === variable && (source === undefined || r.source === source));
const plainText = (report: CheckDeploymentDocument) => renderCheckDeployment(report, new Chalk({ level: 0 }));

describe('the service table', () => {
  it('recognises Laminar services by compose name, image (any tag or digest), build context and workload', () => {
    expect(recogniseService({ composeName: 'frontend' })?.role).toBe('frontend');
    expect(recogniseService({ composeName: 'web', image: 'ghcr.io/lmnr-ai/app-server:0.1.700' })?.role).toBe('app-server');
    expect(recogniseService({ image: 'GHCR.io/lmnr-ai/frontend-ee@sha256:abc' })?.role).toBe('frontend');
    expect(recogniseService({ composeName: 'web', buildContext: './frontend/' })?.role).toBe('frontend');
    expect(recogniseService({ workload: 'laminar-app-server-consumer', image: 'ghcr.io/lmnr-ai/app-server-ee:latest' })?.role).toBe(
      'app-server-consumer',
    );
    expect(recogniseService({ composeName: 'postgres', image: 'postgres:16' })).toBeUndefined();
    // The consumer exports spans to a workspace's data plane, whose URL and key it opens with AEAD_SECRET_KEY.
    expect(LAMINAR_SERVICES.find((s) => s.role === 'app-server-consumer')?.needs).toEqual(['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY']);
  });

  it('an AEAD key is tried on the AEAD stores and on Slack tokens; a Slack key on Slack tokens only', () => {
    expect(storesForKey(new Set(['AEAD_SECRET_KEY']))).toEqual([
      'provider_api_keys',
      'workspace_deployments.private_key',
      'workspace_deployments.data_plane_url',
      'slack_integrations',
    ]);
    expect(storesForKey(new Set(['SLACK_ENCRYPTION_KEY']))).toEqual(['slack_integrations']);
  });
});

describe('docker compose files', () => {
  it("the quickstart with Laminar's public default in .env: public_default for both services, Slack only a note", async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(DEFAULT_KEY_HEX) });
    const { report } = await check(io(dir.dir));
    expect(kinds(report)).toEqual(['public_default app-server AEAD_SECRET_KEY', 'public_default frontend AEAD_SECRET_KEY']);
    expect(report.ok).toBe(false);
    expect(row(report, 'frontend')).toMatchObject({
      status: 'public_default',
      fingerprint: fp(DEFAULT_KEY_HEX),
      from: '.env',
      source: 'compose',
    });
    expect(
      report.notes
        .filter((n) => n.variable === 'SLACK_ENCRYPTION_KEY')
        .map((n) => n.service)
        .sort(),
    ).toEqual(['app-server', 'frontend']);
    expect(report.findings[0]!.fix).toMatch(/lmnr-keys rotate --from laminar-default --to file:\S+\/new\.key/);
    // One plan, one new key: the second service takes the first one's key, no second gen-secret.
    const second = report.findings[1]!;
    expect(second.fix).toBe(
      `give it the new key of ${report.findings[0]!.service}'s fix (no second key, no second rotation): that fix already makes ` +
        `it the value of AEAD_SECRET_KEY in .env; then docker compose up -d --force-recreate ${second.service}`,
    );
    expect(report.sources).toEqual([
      { kind: 'compose', path: 'docker-compose.yml' },
      { kind: 'dotenv', path: '.env' },
    ]);
  });

  it('a fresh key in .env: healthy, both services show its fingerprint', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(key) });
    const { report } = await check(io(dir.dir));
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(row(report, 'frontend')?.fingerprint).toBe(fp(key));
    expect(row(report, 'app-server')?.fingerprint).toBe(fp(key));
    expect(plainText(report)).toMatch(/Verdict: healthy/);
    expectNoKeyIn([JSON.stringify(report), plainText(report)], [key]);
  });

  it('the mid-2025 full stack whose web app lacks the variable: missing for frontend only', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose-full.yml': FULL_STACK_MID_2025_COMPOSE, '.env': laminarDotenv(key) });
    const { report } = await check(io(dir.dir), { composeFiles: ['docker-compose-full.yml'] });
    expect(kinds(report)).toEqual(['missing frontend AEAD_SECRET_KEY']);
    expect(row(report, 'app-server')?.status).toBe('ok');
    const finding = report.findings[0]!;
    expect(finding.fix).toContain('add `AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}`');
    expect(finding.fix).toContain('docker compose -f docker-compose-full.yml up -d --force-recreate frontend');
  });

  it('.env without the line: empty for both; the shell exporting another value: shell_override', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(null) });
    const empty = (await check(io(dir.dir))).report;
    expect(kinds(empty)).toEqual(['empty app-server AEAD_SECRET_KEY', 'empty frontend AEAD_SECRET_KEY']);
    expect(row(empty, 'frontend')?.from).toMatch(/set in neither the shell nor \.env/);

    fs.writeFileSync(dir.file('.env'), laminarDotenv(key));
    const other = newKeyHex();
    const shadowed = (await check(io(dir.dir, { AEAD_SECRET_KEY: other }))).report;
    expect(kinds(shadowed)).toEqual(['shell_override app-server AEAD_SECRET_KEY', 'shell_override frontend AEAD_SECRET_KEY']);
    expect(row(shadowed, 'frontend')).toMatchObject({ from: 'shell', fingerprint: fp(other) });
    expect(shadowed.findings[0]!.fix).toMatch(/^unset AEAD_SECRET_KEY in this shell/);

    // The shell holding the very same value is no finding.
    expect((await check(io(dir.dir, { AEAD_SECRET_KEY: key }))).report.findings).toEqual([]);
    expectNoKeyIn([JSON.stringify(shadowed), plainText(shadowed)], [key, other]);
  });

  it('list-form environment, env_file relative to the project directory, two -f files overriding one variable, ${VAR:-default}, $$', async () => {
    const [k1, k2, slack] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const dir = folder({
      'deploy/base.yml': `services:
  frontend:
    image: ghcr.io/lmnr-ai/frontend:latest
    environment:
      - AEAD_SECRET_KEY=\${AEAD_SECRET_KEY}
      - SLACK_ENCRYPTION_KEY=$\${SLACK_ENCRYPTION_KEY}
  worker:
    build:
      context: ./app-server
    env_file:
      - path: config/app.env
        required: true
      - path: config/missing-but-optional.env
        required: false
    environment:
      PORT: 8000
`,
      'deploy/override.yml': `services:
  frontend:
    environment:
      AEAD_SECRET_KEY: \${FRONTEND_ONLY_KEY:-${k2}}
`,
      'deploy/.env': laminarDotenv(k1, `SLACK_ENCRYPTION_KEY=${slack}`),
      'deploy/config/app.env': `AEAD_SECRET_KEY=${k1}\nSLACK_ENCRYPTION_KEY=${slack}\n`,
    });
    // Run from the parent folder: relative paths must resolve against the project directory.
    const { report } = await check(io(dir.dir), { composeFiles: ['deploy/base.yml', 'deploy/override.yml'] });
    expect(row(report, 'frontend')).toMatchObject({ fingerprint: fp(k2), status: 'ok' });
    expect(row(report, 'frontend')?.from).toMatch(/^default in deploy\/override\.yml:4$/);
    // $$ is a literal $: the service gets the text ${SLACK_ENCRYPTION_KEY}, not the key.
    expect(row(report, 'frontend', 'SLACK_ENCRYPTION_KEY')).toMatchObject({ status: 'invalid', from: 'literal in deploy/base.yml:6' });
    expect(row(report, 'worker')).toMatchObject({ fingerprint: fp(k1), status: 'ok', from: 'env_file deploy/config/app.env' });
    expect(row(report, 'worker', 'SLACK_ENCRYPTION_KEY')).toMatchObject({ fingerprint: fp(slack), status: 'ok' });
    // Without the database neither key is known to be right: the first service's is the reference.
    expect(kinds(report)).toEqual(['invalid frontend SLACK_ENCRYPTION_KEY', 'mismatch worker AEAD_SECRET_KEY']);
    const mismatch = report.findings.find((f) => f.kind === 'mismatch')!;
    expect(mismatch.detail).toContain(fp(k1));
    expect(mismatch.detail).toContain(fp(k2));
    expect(mismatch.detail).toContain('worker');
  });

  it('environment: wins over env_file:', async () => {
    const [k1, k2] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml':
        `services:\n  app-server:\n    image: ghcr.io/lmnr-ai/app-server\n    env_file: ` +
        `app.env\n    environment:\n      AEAD_SECRET_KEY: ${k2}\n`,
      'app.env': `AEAD_SECRET_KEY=${k1}\n`,
    });
    const { report } = await check(io(dir.dir));
    expect(row(report, 'app-server')).toMatchObject({ fingerprint: fp(k2), from: 'literal in compose.yaml:6' });
  });

  it('a bare `- AEAD_SECRET_KEY` takes the shell value, else the .env value, else is not set', async () => {
    const [k1, k2] = [newKeyHex(), newKeyHex()];
    const compose = 'services:\n  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n    environment:\n      - AEAD_SECRET_KEY\n';
    const dir = folder({ 'compose.yaml': compose, '.env': `AEAD_SECRET_KEY=${k1}\n` });
    expect(row((await check(io(dir.dir))).report, 'frontend')).toMatchObject({ fingerprint: fp(k1), from: '.env' });
    expect(row((await check(io(dir.dir, { AEAD_SECRET_KEY: k2 }))).report, 'frontend')).toMatchObject({
      fingerprint: fp(k2),
      from: 'shell',
    });
    fs.writeFileSync(dir.file('.env'), '');
    expect(row((await check(io(dir.dir))).report, 'frontend')?.status).toBe('missing');
  });

  it("${AEAD_SECRET_KEY:?message} that Compose would refuse is a missing finding with Compose's message, not a crash", async () => {
    const compose =
      'services:\n  app-server:\n    image: ghcr.io/lmnr-ai/app-server\n    environment:\n      ' +
      'AEAD_SECRET_KEY: ${AEAD_SECRET_KEY:?set it in .env}\n';
    const dir = folder({ 'compose.yaml': compose });
    const { report } = await check(io(dir.dir));
    expect(kinds(report)).toEqual(['missing app-server AEAD_SECRET_KEY']);
    expect(report.findings[0]!.detail).toContain('required variable AEAD_SECRET_KEY is missing a value: set it in .env');
  });

  it('.env is read as Compose reads it: `key#old` keeps the #, ` # comment` is cut, quotes are removed', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': `AEAD_SECRET_KEY=${key}#old\n` });
    const glued = (await check(io(dir.dir))).report;
    expect(row(glued, 'frontend')?.status).toBe('invalid');
    expect(glued.findings[0]!.detail).toMatch(/64 hex characters/);
    fs.writeFileSync(dir.file('.env'), `AEAD_SECRET_KEY=${key} # the new key\n`);
    expect((await check(io(dir.dir))).report.findings).toEqual([]);
    fs.writeFileSync(dir.file('.env'), `AEAD_SECRET_KEY="${key}"\r\n`);
    expect((await check(io(dir.dir))).report.findings).toEqual([]);
  });

  it('quotes in list-form YAML reach the service: invalid, with the fingerprint cleaning would give', async () => {
    const key = newKeyHex();
    const dir = folder({
      'compose.yaml': `services:\n  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n    environment:\n      - AEAD_SECRET_KEY="${key}"\n`,
    });
    const { report } = await check(io(dir.dir));
    expect(row(report, 'frontend')).toMatchObject({ status: 'invalid', fingerprint: fp(key) });
    expect(report.findings[0]!.detail).toMatch(/quotes/);
    expect(report.findings[0]!.detail).toContain(`fingerprint ${fp(key)}`);
    expectNoKeyIn([JSON.stringify(report), plainText(report)], [key]);
  });

  it('finds files as docker compose does: compose.yaml plus its override, COMPOSE_FILE, the folders above; names the project', async () => {
    const [k1, k2] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'My Laminar/compose.yaml':
        'services:\n  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n    environment:\n      AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n',
      'My Laminar/compose.override.yml': `services:\n  frontend:\n    environment:\n      AEAD_SECRET_KEY: ${k2}\n`,
      'My Laminar/docker-compose.yml': 'services: {}\n',
      'My Laminar/other.yml':
        'name: from-yaml\nservices:\n  app-server:\n    image: ghcr.io/lmnr-ai/app-server\n    environment:\n ' +
        '     AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n',
      'My Laminar/.env': `AEAD_SECRET_KEY=${k1}\n`,
      'My Laminar/sub/folder/.keep': '',
    });
    const root = dir.file('My Laminar');
    const calls: string[][] = [];
    const recordingDocker: RunDocker = async (args) => {
      calls.push(args);
      return { exitCode: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon' };
    };
    const found = await check(io(path.join(root, 'sub/folder'), {}, recordingDocker));
    // Paths outside the working folder are shown in full.
    expect(found.report.sources.map((s) => s.path)).toEqual([
      path.join(root, 'compose.yaml'),
      path.join(root, 'compose.override.yml'),
      path.join(root, '.env'),
    ]);
    expect(row(found.report, 'frontend')?.fingerprint).toBe(fp(k2));
    expect(calls[0]).toEqual(['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.project=mylaminar']);

    const viaEnv = await check(io(root, { COMPOSE_FILE: 'other.yml' }, recordingDocker));
    expect(viaEnv.gathered.compose?.files).toEqual([path.join(root, 'other.yml')]);
    expect(calls[1]).toContain('label=com.docker.compose.project=from-yaml');
    await check(io(root, { COMPOSE_FILE: 'other.yml', COMPOSE_PROJECT_NAME: 'chosen' }, recordingDocker));
    expect(calls[2]).toContain('label=com.docker.compose.project=chosen');
    expect(normalizeProjectName('_My Laminar.v2')).toBe('mylaminarv2');
  });
});

describe('running containers', () => {
  const project = 'lmnr';
  const inspect = (frontendKey: string, appServerKey: string) =>
    JSON.stringify([
      inspectedContainer(project, 'frontend', 'ghcr.io/lmnr-ai/frontend', { AEAD_SECRET_KEY: frontendKey, PORT: '5667' }),
      inspectedContainer(project, 'app-server', 'ghcr.io/lmnr-ai/app-server:latest', { AEAD_SECRET_KEY: appServerKey }),
      inspectedContainer(project, 'postgres', 'postgres:16', { POSTGRES_PASSWORD: 'postgres_passwordabc' }),
    ]);

  it('a container created before the key changed: stale_container, fixed by --force-recreate', async () => {
    const [current, older] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'docker-compose.yml': QUICKSTART_COMPOSE,
      '.env': laminarDotenv(current),
      'containers.json': inspect(older, current),
    });
    const { report } = await check(io(dir.dir), { containers: 'containers.json' });
    expect(kinds(report)).toEqual(['stale_container frontend AEAD_SECRET_KEY']);
    const stale = report.findings.find((f) => f.kind === 'stale_container')!;
    // The compose service in `service`, the container in `container` (document version 2).
    expect(stale).toMatchObject({ service: 'frontend', container: 'lmnr-frontend-1', source: 'containers' });
    expect(report.version).toBe(2);
    expect(stale.detail).toMatch(/^container lmnr-frontend-1 holds AEAD_SECRET_KEY/);
    expect(stale.fix).toBe('docker compose up -d --force-recreate frontend');
    expect(stale.detail).toContain(fp(older));
    expect(stale.detail).toContain(fp(current));
    expect(row(report, 'frontend', 'AEAD_SECRET_KEY', 'containers')).toMatchObject({
      container: 'lmnr-frontend-1',
      fingerprint: fp(older),
      from: 'container lmnr-frontend-1',
    });
    expectNoKeyIn([JSON.stringify(report), plainText(report)], [current, older]);
  });

  it('containers alone (no compose files): judged on their own, a mismatch between them', async () => {
    const [a, b] = [newKeyHex(), newKeyHex()];
    const dir = folder({ 'containers.json': inspect(a, b) });
    const { report } = await check(io(dir.dir), { containers: 'containers.json' });
    expect(kinds(report)).toEqual(['mismatch app-server AEAD_SECRET_KEY']);
    expect(report.findings[0]!.container).toBe('lmnr-app-server-1');
    expect(report.findings[0]!.detail).toContain('app-server (running container lmnr-app-server-1) holds');
    expect(plainText(report)).toMatch(/SERVICE\s+CONTAINER\s+VARIABLE/);
    expect(plainText(report)).toContain('mismatch  app-server (container lmnr-app-server-1) AEAD_SECRET_KEY');
    expect(report.findings[0]!.fix).toMatch(/then docker compose up -d --force-recreate app-server$/);
  });

  it('asks docker itself (ps, then inspect) when no --containers is given', async () => {
    const [current, older] = [newKeyHex(), newKeyHex()];
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(current) });
    const calls: string[][] = [];
    const docker: RunDocker = async (args): Promise<DockerResult> => {
      calls.push(args);
      if (args[0] === 'ps') return { exitCode: 0, stdout: 'aaa\nbbb\n', stderr: '' };
      return { exitCode: 0, stdout: inspect(current, older), stderr: '' };
    };
    const { report } = await check(io(dir.dir, {}, docker));
    expect(calls).toEqual([
      ['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.project=lmnr'],
      ['inspect', 'aaa', 'bbb'],
    ]);
    expect(kinds(report)).toContain('stale_container app-server AEAD_SECRET_KEY');
  });

  it('a daemon that does not answer, or no docker at all, is a note; the files are still checked', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(DEFAULT_KEY_HEX) });
    const down: RunDocker = async () => ({
      exitCode: 1,
      stdout: '',
      stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n',
    });
    const { report } = await check(io(dir.dir, {}, down));
    expect(report.notes.find((n) => n.kind === 'containers_not_checked')?.detail).toMatch(/daemon does not answer \(Cannot connect/);
    expect(kinds(report)).toHaveLength(2);
    const absent = (await check(io(dir.dir, {}, noDocker))).report;
    expect(absent.notes.find((n) => n.kind === 'containers_not_checked')?.detail).toMatch(/not on PATH/);
    let asked = false;
    await check(
      io(dir.dir, {}, async () => ((asked = true), { exitCode: 0, stdout: '', stderr: '' })),
      { noContainers: true },
    );
    expect(asked).toBe(false);
  });
});

describe('local development', () => {
  it('app-server in compose, the web app from frontend/.env.local with a different key: mismatch naming both', async () => {
    const [server, web] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'docker-compose-local-dev.yml': LOCAL_DEV_COMPOSE,
      '.env': laminarDotenv(server),
      'frontend/.env.local':
        `BACKEND_URL=http://localhost:8000\nDATABASE_URL="postgres://postgres:postgres_passwordabc@localhost:5433/postgres"\n# ` +
        `must be 32 bytes\nAEAD_SECRET_KEY=${web}\n`,
    });
    const { report } = await check(io(dir.dir), {
      composeFiles: ['docker-compose-local-dev.yml'],
      serviceFiles: ['frontend=frontend/.env.local'],
    });
    expect(kinds(report)).toEqual(['mismatch frontend AEAD_SECRET_KEY']);
    const finding = report.findings[0]!;
    expect(finding.detail).toContain(`frontend holds AEAD_SECRET_KEY ${fp(web)} (from frontend/.env.local)`);
    expect(finding.detail).toContain(`app-server holds ${fp(server)}`);
    expect(finding.fix).toMatch(/restart frontend \(it reads frontend\/\.env\.local when it starts\)/);
    expect(report.sources).toContainEqual({ kind: 'service-env', path: 'frontend/.env.local' });
  });

  it('--service needs NAME=FILE naming a Laminar service', async () => {
    const dir = folder({ 'docker-compose.yml': LOCAL_DEV_COMPOSE });
    await expect(check(io(dir.dir), { serviceFiles: ['web=.env'] })).rejects.toThrow(UsageError);
    await expect(check(io(dir.dir), { serviceFiles: ['frontend'] })).rejects.toThrow(UsageError);
    await expect(check(io(dir.dir), { serviceFiles: ['frontend=nope/.env.local'] })).rejects.toThrow(ConfigError);
  });
});

describe('Helm values', () => {
  it("the chart's default key: public_default everywhere, Slack's copied by the chart", async () => {
    const dir = folder({ 'values.yaml': 'frontend:\n  replicaCount: 2\n' });
    const { report } = await check(io(dir.dir), { helmValues: ['values.yaml'] });
    expect(kinds(report)).toEqual([
      'public_default laminar-app-server AEAD_SECRET_KEY',
      'public_default laminar-app-server SLACK_ENCRYPTION_KEY',
      'public_default laminar-app-server-consumer AEAD_SECRET_KEY',
      'public_default laminar-app-server-consumer SLACK_ENCRYPTION_KEY',
      'public_default laminar-frontend AEAD_SECRET_KEY',
      'public_default laminar-frontend SLACK_ENCRYPTION_KEY',
    ]);
    expect(row(report, 'laminar-frontend')?.from).toBe(
      'Secret laminar-app-secrets key AEAD_SECRET_KEY (secrets.data.AEAD_SECRET_KEY in the chart default)',
    );
    expect(row(report, 'laminar-app-server-consumer', 'SLACK_ENCRYPTION_KEY')?.from).toMatch(
      /the chart copies secrets\.data\.AEAD_SECRET_KEY/,
    );
    expect(report.findings[0]!.fix).toMatch(/kubectl rollout restart deployment\/laminar-/);
  });

  it("a later values file wins; one component's extraEnv overriding the key is a mismatch", async () => {
    const [k1, k2, k0] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const dir = folder({
      'base.yaml': `secrets:\n  data:\n    AEAD_SECRET_KEY: "${k0}"\n`,
      'prod.yaml':
        `secrets:\n  data:\n    AEAD_SECRET_KEY: "${k1}"\n    SLACK_ENCRYPTION_KEY: ` +
        `"${k1}"\nappServer:\n  extraEnv:\n    - name: AEAD_SECRET_KEY\n      value: ` +
        `"${k2}"\n`,
    });
    const { report } = await check(io(dir.dir), { helmValues: ['base.yaml', 'prod.yaml'] });
    expect(row(report, 'laminar-frontend')).toMatchObject({
      fingerprint: fp(k1),
      from: 'Secret laminar-app-secrets key AEAD_SECRET_KEY (secrets.data.AEAD_SECRET_KEY in prod.yaml)',
    });
    expect(row(report, 'laminar-app-server')).toMatchObject({ fingerprint: fp(k2), from: 'appServer.extraEnv in prod.yaml' });
    expect(kinds(report)).toEqual(['mismatch laminar-app-server AEAD_SECRET_KEY']);
  });

  it('one component on the public default beside a key of its own: the fix is to agree with the others, not a third key', async () => {
    const k1 = newKeyHex();
    const dir = folder({
      'values.yaml':
        `secrets:\n  data:\n    AEAD_SECRET_KEY: "${k1}"\nappServer:\n  extraEnv:\n ` +
        `   - name: AEAD_SECRET_KEY\n      value: "${LAMINAR_DEFAULT_KEY_HEX}"\n`,
    });
    const { report } = await check(io(dir.dir), { helmValues: ['values.yaml'] });
    const publicDefault = report.findings.find((f) => f.kind === 'public_default')!;
    expect(publicDefault.service).toBe('laminar-app-server');
    expect(publicDefault.fix).toMatch(new RegExp(`put the key laminar-frontend holds \\(${fp(k1)}\\)`));
    expect(publicDefault.fix).not.toMatch(/gen-secret/);
  });

  it('a key listed in secretKeys of an enabled AWS Secrets Manager store: external, never guessed', async () => {
    const dir = folder({
      'values.yaml': 'secrets:\n  awsSecretsManager:\n    enabled: true\n    clusterName: prod\n    secretKeys:\n      - AEAD_SECRET_KEY\n',
    });
    const { report } = await check(io(dir.dir), { helmValues: ['values.yaml'] });
    expect(row(report, 'laminar-frontend')).toMatchObject({ status: 'external', fingerprint: null });
    const external = report.notes.filter((n) => n.kind === 'external');
    expect(external.map((n) => n.service).sort()).toEqual(['laminar-app-server', 'laminar-app-server-consumer', 'laminar-frontend']);
    expect(external[0]!.detail).toMatch(/AWS Secrets Manager, which this command cannot read/);
    // The chart does not copy an external AEAD key into Slack's.
    expect(row(report, 'laminar-app-server-consumer', 'SLACK_ENCRYPTION_KEY')?.status).toBe('missing');
    expect(report.findings).toEqual([]);
  });
});

describe('rendered manifests', () => {
  it("one Deployment's env overriding the shared Secret's key: mismatch; sidecars are ignored", async () => {
    const [shared, own] = [newKeyHex(), newKeyHex()];
    const manifests = [
      laminarSecret('laminar-app-secrets', { AEAD_SECRET_KEY: shared, SLACK_ENCRYPTION_KEY: shared, POSTGRES_PASSWORD: 'lmnr123' }),
      laminarDeployment('laminar-frontend', 'frontend', 'ghcr.io/lmnr-ai/frontend-ee:latest'),
      laminarDeployment('laminar-app-server', 'app-server', 'ghcr.io/lmnr-ai/app-server-ee:latest', [
        { name: 'AEAD_SECRET_KEY', value: own },
      ]).replace('      containers:\n', '      containers:\n        - name: nginx\n          image: nginx:latest\n'),
      laminarDeployment('laminar-app-server-consumer', 'app-server-consumer', 'ghcr.io/lmnr-ai/app-server-ee:latest', [
        { name: 'OPERATION_MODE', value: 'consumer' },
      ]),
    ].join('');
    const dir = folder({ 'rendered.yaml': manifests });
    const { report } = await check(io(dir.dir), { manifests: 'rendered.yaml' });
    expect(kinds(report)).toEqual(['mismatch laminar-app-server AEAD_SECRET_KEY']);
    expect(row(report, 'laminar-frontend')).toMatchObject({
      fingerprint: fp(shared),
      from: 'Secret laminar-app-secrets key AEAD_SECRET_KEY',
    });
    expect(row(report, 'laminar-app-server')).toMatchObject({ fingerprint: fp(own), from: 'env of Deployment laminar-app-server' });
    expect(row(report, 'laminar-app-server-consumer', 'SLACK_ENCRYPTION_KEY')?.fingerprint).toBe(fp(shared));
    expect(report.findings[0]!.fix).toMatch(/kubectl rollout restart deployment\/laminar-app-server$/);
  });

  it('a JSON List (kubectl get -o json), stringData, a later envFrom winning, a secretKeyRef', async () => {
    const [a, b, c] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const deployment = (name: string, container: string, env: unknown[], envFrom: unknown[]) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'lmnr' },
      spec: { template: { spec: { containers: [{ name: container, image: `ghcr.io/lmnr-ai/${container}:1`, env, envFrom }] } } },
    });
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'first', namespace: 'lmnr' },
          data: { AEAD_SECRET_KEY: Buffer.from(a).toString('base64') },
        },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'second', namespace: 'lmnr' }, stringData: { AEAD_SECRET_KEY: b } },
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'refd', namespace: 'lmnr' },
          data: { key: Buffer.from(c).toString('base64') },
        },
        deployment('laminar-frontend', 'frontend', [], [{ secretRef: { name: 'first' } }, { secretRef: { name: 'second' } }]),
        deployment(
          'laminar-app-server',
          'app-server',
          [{ name: 'AEAD_SECRET_KEY', valueFrom: { secretKeyRef: { name: 'refd', key: 'key' } } }],
          [{ secretRef: { name: 'first' } }],
        ),
      ],
    };
    const dir = folder({ 'objects.json': JSON.stringify(list) });
    const { report } = await check(io(dir.dir), { manifests: 'objects.json' });
    expect(row(report, 'laminar-frontend')).toMatchObject({ fingerprint: fp(b), from: 'Secret second key AEAD_SECRET_KEY' });
    expect(row(report, 'laminar-app-server')).toMatchObject({ fingerprint: fp(c), from: 'Secret refd key key' });
    expect(report.findings[0]!.fix).toContain('-n lmnr');
  });

  it('a Secret filled from AWS by a SecretProviderClass is external; a Secret not given is said so', async () => {
    const dir = folder({
      'rendered.yaml': [
        `---\napiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata:\n  name: ` +
          `lmnr-secrets-aws\nspec:\n  provider: aws\n  secretObjects:\n    - secretName: ` +
          `laminar-app-secrets-aws\n      type: Opaque\n      data:\n        - objectName: "AEAD_SECRET_KEY"\n  ` +
          `        key: "AEAD_SECRET_KEY"\n`,
        laminarSecret('laminar-app-secrets', { POSTGRES_PASSWORD: 'lmnr123' }),
        laminarDeployment(
          'laminar-frontend',
          'frontend',
          'ghcr.io/lmnr-ai/frontend-ee:latest',
          [],
          ['laminar-app-secrets', 'laminar-app-secrets-aws'],
        ),
        laminarDeployment('laminar-app-server', 'app-server', 'ghcr.io/lmnr-ai/app-server-ee:latest', [], ['somebody-elses-secret']),
      ].join(''),
    });
    const { report } = await check(io(dir.dir), { manifests: 'rendered.yaml' });
    expect(row(report, 'laminar-frontend')?.status).toBe('external');
    expect(report.notes.find((n) => n.service === 'laminar-frontend' && n.variable === 'AEAD_SECRET_KEY')).toMatchObject({
      kind: 'external',
    });
    expect(row(report, 'laminar-app-server')?.status).toBe('not_given');
    expect(report.notes.find((n) => n.service === 'laminar-app-server' && n.variable === 'AEAD_SECRET_KEY')?.detail).toMatch(
      /somebody-elses-secret, which is not among the objects given/,
    );
  });
});

describe('the consumer needs AEAD_SECRET_KEY for workspace data planes', () => {
  const compose = `services:
  app-server:
    image: ghcr.io/lmnr-ai/app-server:latest
    environment:
      OPERATION_MODE: producer
      AEAD_SECRET_KEY: \${AEAD_SECRET_KEY}
  spans:
    image: ghcr.io/lmnr-ai/app-server:latest
    environment:
      OPERATION_MODE: " Consumer "
`;
  // Every stored value opens under `key` (the one the other services hold).
  const stored = (deployments: number, key: string): DatabaseCounts => ({
    stored: [
      { store: 'provider_api_keys', present: true, values: 3 },
      { store: 'workspace_deployments.private_key', present: true, values: deployments },
      { store: 'workspace_deployments.data_plane_url', present: true, values: deployments },
      { store: 'slack_integrations', present: true, values: 0 },
    ],
    opens: [
      {
        fingerprint: fp(key),
        values: 3 + 2 * deployments,
        byStore: {
          provider_api_keys: 3,
          'workspace_deployments.private_key': deployments,
          'workspace_deployments.data_plane_url': deployments,
        },
      },
    ],
  });

  it('an app-server started with OPERATION_MODE=consumer is the consumer; without the key it is a finding when a data plane is stored', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose.yml': compose, '.env': laminarDotenv(key) });
    const withPlanes = await check(io(dir.dir), { noContainers: true }, stored(2, key));
    expect(row(withPlanes.report, 'spans')).toMatchObject({ role: 'app-server-consumer', status: 'missing' });
    expect(row(withPlanes.report, 'app-server')).toMatchObject({ role: 'app-server', status: 'ok' });
    expect(kinds(withPlanes.report)).toEqual(['missing spans AEAD_SECRET_KEY']);
    const finding = withPlanes.report.findings[0]!;
    expect(finding.detail).toMatch(
      /spans does not receive AEAD_SECRET_KEY .*data plane's URL and key .*DataPlaneSpanHandler.*4 sealed values are stored in workspace_deployments/,
    );
    expect(finding.fix).toBe(
      'give spans AEAD_SECRET_KEY (the same key as the other Laminar services) in the environment of service spans in ' +
        'docker-compose.yml (add `AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}`, with AEAD_SECRET_KEY in .env), then docker compose up -d --force-recreate spans',
    );

    // The database not checked: nobody can say no data plane is stored, so it is a finding.
    const unchecked = await check(io(dir.dir), { noContainers: true });
    expect(kinds(unchecked.report)).toEqual(['missing spans AEAD_SECRET_KEY']);
    expect(unchecked.report.findings[0]!.detail).toMatch(/the database was not checked/);

    // No data plane stored: only a note (and --strict makes it a finding again).
    const none = await check(io(dir.dir), { noContainers: true }, stored(0, key));
    expect(none.report.findings).toEqual([]);
    expect(none.report.ok).toBe(true);
    expect(none.report.notes.find((n) => n.service === 'spans' && n.variable === 'AEAD_SECRET_KEY')?.detail).toMatch(
      /nothing is stored in workspace_deployments.private_key or workspace_deployments.data_plane_url, so nothing needs it yet/,
    );
    const strict = await check(io(dir.dir), { noContainers: true }, stored(0, key), true);
    expect(kinds(strict.report)).toContain('missing spans AEAD_SECRET_KEY');
  });

  it('the fix names the file that defines the service, in the form its environment is written', async () => {
    const key = newKeyHex();
    const dir = folder({
      'docker-compose.yml': QUICKSTART_COMPOSE,
      'consumer.yml': `services:
  worker:
    image: ghcr.io/lmnr-ai/app-server:latest
    environment:
      - OPERATION_MODE=consumer
  spans:
    image: ghcr.io/lmnr-ai/app-server:latest
    environment:
      OPERATION_MODE: consumer
`,
      '.env': laminarDotenv(key),
    });
    const { report } = await check(
      io(dir.dir),
      { composeFiles: ['docker-compose.yml', 'consumer.yml'], noContainers: true },
      stored(1, key),
    );
    const fixOf = (service: string) => report.findings.find((f) => f.service === service && f.variable === 'AEAD_SECRET_KEY')!.fix;
    expect(fixOf('worker')).toContain('in the environment of service worker in consumer.yml (add `- AEAD_SECRET_KEY=${AEAD_SECRET_KEY}`');
    expect(fixOf('spans')).toContain('in the environment of service spans in consumer.yml (add `AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}`');
  });

  it("a running consumer container and the chart's consumer workload are judged the same way", async () => {
    const key = newKeyHex();
    const containers = JSON.stringify([
      inspectedContainer('lmnr', 'app-server', 'ghcr.io/lmnr-ai/app-server:latest', { AEAD_SECRET_KEY: key, OPERATION_MODE: 'consumer' }),
      inspectedContainer('lmnr', 'worker', 'ghcr.io/lmnr-ai/app-server:latest', { OPERATION_MODE: 'consumer' }),
    ]);
    const manifests = [
      laminarSecret('laminar-app-secrets', { SLACK_ENCRYPTION_KEY: key }),
      laminarDeployment('laminar-app-server-consumer', 'app-server-consumer', 'ghcr.io/lmnr-ai/app-server-ee:latest'),
    ].join('');
    const dir = folder({ 'containers.json': containers, 'rendered.yaml': manifests });
    const fromContainers = await check(io(dir.dir), { containers: 'containers.json' });
    expect(row(fromContainers.report, 'app-server')).toMatchObject({ role: 'app-server-consumer', container: 'lmnr-app-server-1' });
    expect(kinds(fromContainers.report)).toEqual(['missing worker AEAD_SECRET_KEY']);
    expect(fromContainers.report.findings[0]).toMatchObject({ container: 'lmnr-worker-1', source: 'containers' });
    const fromManifests = await check(io(dir.dir), { manifests: 'rendered.yaml' }, stored(1, key));
    expect(kinds(fromManifests.report)).toEqual(['missing laminar-app-server-consumer AEAD_SECRET_KEY']);
  });
});

describe('judging against the database (counts given)', () => {
  it("values that open under one service's key and not the other's: not_in_database names the right service", async () => {
    const [server, web] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'docker-compose-local-dev.yml': LOCAL_DEV_COMPOSE,
      '.env': laminarDotenv(server),
      'frontend/.env.local': `AEAD_SECRET_KEY=${web}\n`,
    });
    const gathered = await gatherDeployment(
      io(dir.dir),
      options({ composeFiles: ['docker-compose-local-dev.yml'], serviceFiles: ['frontend=frontend/.env.local'] }),
    );
    const keys = keysToCount(gathered);
    expect(keys.map((k) => k.key.fingerprint).sort()).toEqual([fp(server), fp(web), fp(DEFAULT_KEY_HEX)].sort());
    const counts: DatabaseCounts = {
      stored: [
        { store: 'provider_api_keys', present: true, values: 7 },
        { store: 'workspace_deployments.private_key', present: true, values: 0 },
        { store: 'workspace_deployments.data_plane_url', present: true, values: 0 },
        { store: 'slack_integrations', present: true, values: 0 },
      ],
      opens: keys.map((k) => ({
        fingerprint: k.key.fingerprint,
        values: k.key.fingerprint === fp(server) ? 7 : 0,
        byStore: { provider_api_keys: k.key.fingerprint === fp(server) ? 7 : 0 },
      })),
    };
    const report = checkDeploymentDocument(judgeDeployment(gathered, { checked: true, counts }, { strict: false }));
    expect(kinds(report)).toEqual(['mismatch frontend AEAD_SECRET_KEY', 'not_in_database frontend AEAD_SECRET_KEY']);
    const finding = report.findings.find((f) => f.kind === 'not_in_database')!;
    expect(finding.detail).toContain(`7 open under the key app-server holds (${fp(server)}`);
    expect(report.findings.find((f) => f.kind === 'mismatch')!.fix).toMatch(/the one the stored values open under/);
    expect(report.database).toMatchObject({ checked: true });
    expect(plainText(report)).toMatch(new RegExp(`${fp(server)}\\s+7 values\\s+app-server AEAD_SECRET_KEY`));
  });

  it('values sealed under the public default after the key was changed: not_in_database says to rotate from laminar-default', async () => {
    const key = newKeyHex();
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(key) });
    const gathered = await gatherDeployment(io(dir.dir), options({ noContainers: true }));
    const counts: DatabaseCounts = {
      stored: [
        { store: 'provider_api_keys', present: true, values: 3 },
        { store: 'slack_integrations', present: true, values: 1 },
      ],
      opens: keysToCount(gathered).map((k) => {
        const isDefault = k.key.fingerprint === fp(DEFAULT_KEY_HEX);
        return {
          fingerprint: k.key.fingerprint,
          values: isDefault ? 3 : 0,
          byStore: { provider_api_keys: isDefault ? 3 : 0, slack_integrations: 0 },
        };
      }),
    };
    const report = checkDeploymentDocument(judgeDeployment(gathered, { checked: true, counts }, { strict: false }));
    // Slack tokens are stored, so a missing Slack key is now a finding, not a note.
    expect(kinds(report)).toEqual([
      'missing app-server SLACK_ENCRYPTION_KEY',
      'missing frontend SLACK_ENCRYPTION_KEY',
      'not_in_database app-server AEAD_SECRET_KEY',
      'not_in_database frontend AEAD_SECRET_KEY',
    ]);
    expect(report.findings.find((f) => f.kind === 'not_in_database')!.fix).toMatch(/^lmnr-keys rotate --from laminar-default --to/);
  });

  it('Slack tokens that open under no key held: the fix rotates the Slack store, not the AEAD stores', async () => {
    const [aead, slack] = [newKeyHex(), newKeyHex()];
    const service = (image: string) =>
      `  ${image}:\n    image: ghcr.io/lmnr-ai/${image}\n    environment:\n` +
      `      - AEAD_SECRET_KEY=\${AEAD_SECRET_KEY}\n      - SLACK_ENCRYPTION_KEY=\${SLACK_ENCRYPTION_KEY}\n`;
    const dir = folder({
      'docker-compose.yml': `services:\n${service('frontend')}${service('app-server')}`,
      '.env': `AEAD_SECRET_KEY=${aead}\nSLACK_ENCRYPTION_KEY=${slack}\n`,
    });
    const gathered = await gatherDeployment(io(dir.dir), options({ noContainers: true }));
    const counts: DatabaseCounts = {
      stored: [
        { store: 'provider_api_keys', present: true, values: 3 },
        { store: 'slack_integrations', present: true, values: 2 },
      ],
      opens: keysToCount(gathered).map((k) => {
        const isAead = k.key.fingerprint === fp(aead);
        return {
          fingerprint: k.key.fingerprint,
          values: isAead ? 3 : 0,
          byStore: { provider_api_keys: isAead ? 3 : 0, slack_integrations: 0 },
        };
      }),
    };
    const report = checkDeploymentDocument(judgeDeployment(gathered, { checked: true, counts }, { strict: false }));
    const slackFindings = report.findings.filter((f) => f.kind === 'not_in_database' && f.variable === 'SLACK_ENCRYPTION_KEY');
    expect(slackFindings.map((f) => f.service).sort()).toEqual(['app-server', 'frontend']);
    for (const finding of slackFindings)
      expect(finding.fix).toMatch(/lmnr-keys rotate --store slack_integrations --from file:OLD\.key --to env:SLACK_ENCRYPTION_KEY/);
  });

  it('--strict makes a missing Slack key a finding even with no Slack token stored', async () => {
    const dir = folder({ 'docker-compose.yml': QUICKSTART_COMPOSE, '.env': laminarDotenv(newKeyHex()) });
    const { report } = await check(io(dir.dir), { noContainers: true }, null, true);
    expect(kinds(report)).toEqual(['missing app-server SLACK_ENCRYPTION_KEY', 'missing frontend SLACK_ENCRYPTION_KEY']);
  });
});

describe('errors: one line naming the file (and line)', () => {
  it('malformed YAML, a missing env_file, an unknown -f path, no compose file at all: ConfigError', async () => {
    const dir = folder({
      'bad.yml': 'services:\n  frontend:\n    image: [unclosed\n',
      'envfile.yml': 'services:\n  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n    env_file: ./nope.env\n',
      'empty/.keep': '',
    });
    const error = async (over: Partial<DeploymentSourceOptions>, cwd = dir.dir) => {
      try {
        await check(io(cwd), over);
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('expected an error');
    };
    const bad = await error({ composeFiles: ['bad.yml'] });
    expect(bad).toBeInstanceOf(ConfigError);
    expect(bad.message).toMatch(/^bad\.yml:\d+: not valid YAML: /);
    expect(bad.message).not.toContain('\n');
    expect((await error({ composeFiles: ['envfile.yml'] })).message).toBe(
      'env_file nope.env of service frontend (envfile.yml:4) does not exist',
    );
    expect((await error({ composeFiles: ['missing.yml'] })).message).toBe('compose file missing.yml does not exist');
    expect((await error({}, dir.file('empty'))).message).toMatch(/^no compose file in .* and no other source given$/);
    expect((await error({ helmValues: ['nope.yaml'] })).message).toMatch(/^cannot read the Helm values file nope\.yaml \(ENOENT\)$/);
  });
});

describe("doctor's advice points at check-deployment", () => {
  it('for wrong_secret (every branch) and secret_missing', async () => {
    const { adviseOnFinding } = await import('../../src/core/advice.js');
    const base = {
      store: 'provider_api_keys' as const,
      id: 'x',
      workspaceId: null,
      workspaceName: null,
      projectId: 'p',
      projectName: null,
      name: 'GEMINI_API_KEY',
      detail: null,
    };
    const shown = (a: { cause: string; nextStep: string; command: string | null }) => `${a.cause} ${a.command ?? a.nextStep}`;
    for (const finding of [
      { ...base, status: 'wrong_secret' as const, decryptsWith: 'laminar-default' },
      { ...base, status: 'wrong_secret' as const, decryptsWith: 'env:OLD' },
      { ...base, status: 'wrong_secret' as const, decryptsWith: null },
      { ...base, status: 'secret_missing' as const, decryptsWith: 'laminar-default' },
      { ...base, status: 'secret_missing' as const, decryptsWith: null },
    ]) {
      // What doctor prints: the cause, then the command when there is one, else the next step.
      expect(shown(adviseOnFinding(finding)), `${finding.status} ${finding.decryptsWith}`).toContain('`lmnr-keys check-deployment`');
    }
  });
});

describe('flags', () => {
  it('--containers - and --manifests - cannot both read stdin', async () => {
    await expect(check(io('/'), { containers: '-', manifests: '-' })).rejects.toThrow(UsageError);
  });
});
