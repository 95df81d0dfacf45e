/**
 * How check-deployment builds the Compose model: `profiles:` and the project name. No Compose v2
 * binary exists here, so each expectation is written from the Compose Specification
 * (compose-spec/compose-spec: 13-merge.md, 15-profiles.md, 04-version-and-name.md) and, where it
 * leaves a choice, compose-go's loader; the section is named beside each case.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { gatherDeployment, judgeDeployment, type DeploymentIo, type DeploymentSourceOptions } from '../../src/core/check-deployment.js';
import type { RunDocker } from '../../src/deployment/read-containers.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { checkDeploymentDocument, type CheckDeploymentDocument } from '../../src/report/check-deployment.js';
import { laminarDotenv, writeFolder } from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';

const folders: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const made of folders.splice(0)) made.remove();
});
function folder(files: Record<string, string>) {
  const made = writeFolder(files);
  folders.push(made);
  return made;
}

/** Records the project name docker is asked about (`docker ps --filter label=...project=NAME`). */
function dockerAsked(): { runDocker: RunDocker; projects: string[] } {
  const projects: string[] = [];
  return {
    projects,
    runDocker: async (args) => {
      const filter = args.find((a) => a.startsWith('label=com.docker.compose.project='));
      if (filter) projects.push(filter.slice('label=com.docker.compose.project='.length));
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
}

function io(cwd: string, shellEnv: Record<string, string> = {}, runDocker: RunDocker = dockerAsked().runDocker): DeploymentIo {
  return {
    cwd,
    shellEnv,
    readText: (file) => fs.readFileSync(file, 'utf8'),
    isFile: (file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false,
    readStdin: async () => '',
    runDocker,
  };
}

async function check(deploymentIo: DeploymentIo, over: Partial<DeploymentSourceOptions> = {}) {
  const gathered = await gatherDeployment(deploymentIo, {
    composeFiles: [],
    projectDirectory: null,
    projectName: null,
    profiles: [],
    serviceFiles: [],
    containers: null,
    noContainers: true,
    helmValues: [],
    manifests: null,
    ...over,
  });
  const report = checkDeploymentDocument(judgeDeployment(gathered, { checked: false, reason: 'test' }, { strict: false }));
  return { gathered, report };
}

/** service -> fingerprint of the AEAD_SECRET_KEY it receives (compose rows only). */
const aead = (report: CheckDeploymentDocument) =>
  Object.fromEntries(
    report.services.filter((r) => r.source === 'compose' && r.variable === 'AEAD_SECRET_KEY').map((r) => [r.service, r.fingerprint]),
  );
const notes = (report: CheckDeploymentDocument, kind: string) => report.notes.filter((n) => n.kind === kind).map((n) => n.service);

const frontend = (environment: string, extra = '') =>
  `  frontend:\n    image: ghcr.io/lmnr-ai/frontend\n${extra}    environment:\n${environment}`;

describe('project name (04-version-and-name.md; docker compose: -p > COMPOSE_PROJECT_NAME > name: > folder)', () => {
  const files = (name: string) => ({
    'Laminar Stack/docker-compose.yml': `name: ${name}\nservices:\n${frontend('      AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n')}`,
    'Laminar Stack/.env': laminarDotenv(newKeyHex()),
  });

  it('-p/--project-name wins over everything; the fix commands repeat it', async () => {
    const dir = folder(files('from-yaml'));
    const docker = dockerAsked();
    const { gathered } = await check(io(dir.file('Laminar Stack'), { COMPOSE_PROJECT_NAME: 'from-env' }, docker.runDocker), {
      projectName: 'from-flag',
      noContainers: false,
    });
    expect(docker.projects).toEqual(['from-flag']);
    expect(gathered.compose?.command).toBe('docker compose -p from-flag');
    expect(gathered.received[0]?.restart).toBe('docker compose -p from-flag up -d --force-recreate frontend');
  });

  it('COMPOSE_PROJECT_NAME, from the shell or else the project .env, wins over name:', async () => {
    const dir = folder(files('from-yaml'));
    const cwd = dir.file('Laminar Stack');
    const docker = dockerAsked();
    await check(io(cwd, { COMPOSE_PROJECT_NAME: 'from-shell' }, docker.runDocker), { noContainers: false });
    fs.appendFileSync(dir.file('Laminar Stack/.env'), '\nCOMPOSE_PROJECT_NAME=from-dotenv\n');
    await check(io(cwd, {}, docker.runDocker), { noContainers: false });
    await check(io(cwd, { COMPOSE_PROJECT_NAME: 'from-shell' }, docker.runDocker), { noContainers: false });
    expect(docker.projects).toEqual(['from-shell', 'from-dotenv', 'from-shell']);
  });

  it('name: of the last file that sets one, interpolated, then normalised; else the project directory, normalised', async () => {
    const dir = folder({
      ...files('${STACK:-Default}_Prod'),
      'Laminar Stack/override.yml': 'services: {}\n',
      'Laminar Stack/renamed.yml': 'name: Second.Name\nservices: {}\n',
      'Laminar Stack/unnamed.yml': `services:\n${frontend('      AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n')}`,
    });
    const cwd = dir.file('Laminar Stack');
    const docker = dockerAsked();
    const run = (shell: Record<string, string>, composeFiles: string[]) =>
      check(io(cwd, shell, docker.runDocker), { composeFiles, noContainers: false });
    await run({ STACK: 'Acme' }, ['docker-compose.yml', 'override.yml']);
    await run({}, ['docker-compose.yml']);
    await run({}, ['docker-compose.yml', 'renamed.yml']);
    await run({}, ['unnamed.yml']);
    expect(docker.projects).toEqual(['acme_prod', 'default_prod', 'secondname', 'laminarstack']);
  });

  it('a -p or COMPOSE_PROJECT_NAME that Compose would refuse (not already normalised) is refused, not normalised', async () => {
    const dir = folder(files('lmnr'));
    const cwd = dir.file('Laminar Stack');
    await expect(check(io(cwd), { projectName: 'My Stack' })).rejects.toThrow(UsageError);
    await expect(check(io(cwd), { projectName: 'My Stack' })).rejects.toThrow(/invalid project name "My Stack" \(-p\/--project-name\)/);
    await expect(check(io(cwd, { COMPOSE_PROJECT_NAME: '_lmnr' }))).rejects.toThrow(ConfigError);
  });
});

describe('profiles (15-profiles.md; compose-go: --profile, else COMPOSE_PROFILES)', () => {
  const compose = `name: lmnr
services:
${frontend('      AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n')}
  app-server:
    image: ghcr.io/lmnr-ai/app-server
    profiles: [backend, full]
    environment:
      AEAD_SECRET_KEY: \${AEAD_SECRET_KEY}
`;

  it('a service without profiles is always judged; one with profiles, none enabled, is left out with a note', async () => {
    const dir = folder({ 'compose.yaml': compose, '.env': laminarDotenv(newKeyHex()) });
    const { report } = await check(io(dir.dir));
    expect(Object.keys(aead(report))).toEqual(['frontend']);
    expect(notes(report, 'inactive_profile')).toEqual(['app-server']);
    expect(report.notes.find((n) => n.kind === 'inactive_profile')?.detail).toMatch(
      /only in profiles backend, full, and no profile is enabled: docker compose up leaves it out, so it is not judged/,
    );
    expect(notes(report, 'no_laminar_service')).toEqual([]);
  });

  it('enabled by any one of its profiles: --profile (repeatable), COMPOSE_PROFILES (comma-separated, shell or .env), or *', async () => {
    const dir = folder({ 'compose.yaml': compose, '.env': laminarDotenv(newKeyHex()) });
    const judged = async (shell: Record<string, string>, profiles: string[] = []) =>
      Object.keys(aead((await check(io(dir.dir, shell), { profiles })).report)).sort();
    expect(await judged({}, ['debug', 'full'])).toEqual(['app-server', 'frontend']);
    expect(await judged({ COMPOSE_PROFILES: 'debug, backend' })).toEqual(['app-server', 'frontend']);
    expect(await judged({ COMPOSE_PROFILES: '*' })).toEqual(['app-server', 'frontend']);
    // --profile replaces COMPOSE_PROFILES rather than adding to it.
    expect(await judged({ COMPOSE_PROFILES: 'backend' }, ['debug'])).toEqual(['frontend']);
    fs.appendFileSync(dir.file('.env'), '\nCOMPOSE_PROFILES=full\n');
    expect(await judged({})).toEqual(['app-server', 'frontend']);
  });

  it('profiles of a service defined in two files are merged as a sequence (13-merge.md): either enables it', async () => {
    const dir = folder({
      'compose.yaml': compose,
      'override.yml': 'services:\n  app-server:\n    profiles: [tools]\n',
      '.env': laminarDotenv(newKeyHex()),
    });
    for (const profiles of [['tools'], ['backend']]) {
      const { report } = await check(io(dir.dir), { composeFiles: ['compose.yaml', 'override.yml'], profiles });
      expect(Object.keys(aead(report)).sort()).toEqual(['app-server', 'frontend']);
    }
  });
});
