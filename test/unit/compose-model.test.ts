/**
 * How check-deployment builds the Compose model: `include:`, `extends:`, `profiles:`, the project
 * name, and lmnr-keys's own overlay. No Compose v2 binary exists here, so each expectation is
 * written from the Compose Specification (compose-spec/compose-spec: 13-merge.md, 14-include.md,
 * 15-profiles.md, 05-services.md#extends, 04-version-and-name.md) and, where it leaves a choice,
 * compose-go's loader; the section is named beside each case.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gatherDeployment, judgeDeployment, type DeploymentIo, type DeploymentSourceOptions } from '../../src/core/check-deployment.js';
import type { RunDocker } from '../../src/deployment/read-containers.js';
import { fingerprintKey } from '../../src/crypto/keys.js';
import { ConfigError, UsageError } from '../../src/errors.js';
import { checkDeploymentDocument, type CheckDeploymentDocument } from '../../src/report/check-deployment.js';
import { deploymentIo, inspectedContainer, laminarDotenv, QUICKSTART_COMPOSE, scratchFolders } from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fp = (hex: string) => fingerprintKey(Buffer.from(hex, 'hex'));
const folder = scratchFolders();

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
  return deploymentIo(cwd, { shellEnv, runDocker });
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

describe('include (14-include.md)', () => {
  it('short syntax: the included file is a project of its own: its paths resolve from its folder, its .env fills what ours leaves unset', async () => {
    const [ours, theirs, fromEnvFile] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml': `name: lmnr\ninclude:\n  - backend/compose.yaml\nservices:\n${frontend('      AEAD_SECRET_KEY: ${AEAD_SECRET_KEY}\n')}`,
      '.env': `AEAD_SECRET_KEY=${ours}\n`,
      'backend/compose.yaml': `services:
  app-server:
    image: ghcr.io/lmnr-ai/app-server
    env_file: app.env
    environment:
      AEAD_SECRET_KEY: \${AEAD_SECRET_KEY}
      SLACK_ENCRYPTION_KEY: \${BACKEND_ONLY}
  app-server-consumer:
    build: ./app-server
    env_file: app.env
`,
      'backend/.env': `AEAD_SECRET_KEY=${theirs}\nBACKEND_ONLY=${theirs}\n`,
      'backend/app.env': `AEAD_SECRET_KEY=${fromEnvFile}\nOPERATION_MODE=consumer\n`,
    });
    const { report } = await check(io(dir.dir));
    // The including project's variables win over the included .env; BACKEND_ONLY comes from it.
    expect(aead(report)).toEqual({ frontend: fp(ours), 'app-server': fp(ours), 'app-server-consumer': fp(fromEnvFile) });
    const slack = report.services.find((r) => r.service === 'app-server' && r.variable === 'SLACK_ENCRYPTION_KEY')!;
    expect(slack).toMatchObject({ fingerprint: fp(theirs), from: 'backend/.env' });
    // env_file and build context resolved from backend/, not from the project directory.
    expect(report.services.find((r) => r.service === 'app-server-consumer')).toMatchObject({
      role: 'app-server-consumer',
      from: 'env_file backend/app.env',
    });
    expect(report.sources).toEqual([
      { kind: 'compose', path: 'compose.yaml' },
      { kind: 'dotenv', path: '.env' },
      { kind: 'dotenv', path: 'backend/.env' },
      { kind: 'compose', path: 'backend/compose.yaml' },
      { kind: 'env_file', path: 'backend/app.env' },
    ]);
  });

  it('long syntax: path as a list (merged in order), project_directory and env_file relative to the including project', async () => {
    const [base, override, shared] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml':
        'name: lmnr\ninclude:\n  - path:\n      - stack/base.yml\n      - stack/override.yml\n' +
        '    project_directory: stack/root\n    env_file: [config/one.env, config/two.env]\nservices: {}\n',
      'stack/base.yml': `services:\n${frontend(`      AEAD_SECRET_KEY: ${base}\n      SLACK_ENCRYPTION_KEY: \${SHARED}\n`)}    env_file: local.env\n`,
      'stack/override.yml': `services:\n  frontend:\n    environment:\n      AEAD_SECRET_KEY: ${override}\n`,
      'stack/root/local.env': `OPERATION_MODE=ignored\n`,
      'config/one.env': `SHARED=${base}\n`,
      'config/two.env': `SHARED=${shared}\n`,
    });
    const { report } = await check(io(dir.dir));
    expect(aead(report)).toEqual({ frontend: fp(override) });
    // The later env_file wins; env_file of the included service resolves from its project_directory.
    expect(report.services.find((r) => r.variable === 'SLACK_ENCRYPTION_KEY')).toMatchObject({
      fingerprint: fp(shared),
      from: 'config/two.env',
    });
    expect(report.sources).toContainEqual({ kind: 'env_file', path: 'stack/root/local.env' });
  });

  it("a service the including file defines too is merged, the including file's keys winning (compose-go 2.10+)", async () => {
    const [included, local] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml':
        `name: lmnr\ninclude: [sub/compose.yaml]\nservices:\n  frontend:\n    environment:\n` + `      AEAD_SECRET_KEY: ${local}\n`,
      'sub/compose.yaml': `services:\n${frontend(`      AEAD_SECRET_KEY: ${included}\n      SLACK_ENCRYPTION_KEY: ${included}\n`)}`,
    });
    const { report } = await check(io(dir.dir));
    // image from the included definition (so it is recognised), AEAD_SECRET_KEY from ours, Slack's kept.
    expect(aead(report)).toEqual({ frontend: fp(local) });
    expect(report.services.find((r) => r.variable === 'SLACK_ENCRYPTION_KEY')?.fingerprint).toBe(fp(included));
  });

  it('include paths of a later -f file resolve from the project directory, like its other paths (03-compose-file.md)', async () => {
    const key = newKeyHex();
    const dir = folder({
      'compose.yaml': 'name: lmnr\nservices: {}\n',
      'overlays/extra.yml': 'include: [parts/web.yml]\n',
      'parts/web.yml': `services:\n${frontend(`      AEAD_SECRET_KEY: ${key}\n`)}`,
    });
    const { report } = await check(io(dir.dir), { composeFiles: ['compose.yaml', 'overlays/extra.yml'] });
    expect(aead(report)).toEqual({ frontend: fp(key) });
  });

  it('an include cycle or a missing included file is refused, naming the entry', async () => {
    const dir = folder({
      'compose.yaml': 'name: lmnr\ninclude: [a.yml]\nservices: {}\n',
      'a.yml': 'include: [b.yml]\nservices: {}\n',
      'b.yml': 'include: [a.yml]\nservices: {}\n',
      'missing.yml': 'include:\n  - path: nope/compose.yaml\nservices: {}\n',
    });
    await expect(check(io(dir.dir))).rejects.toThrow(
      /b\.yml:1: include cycle: compose\.yaml includes a\.yml includes b\.yml includes a\.yml/,
    );
    await expect(check(io(dir.dir), { composeFiles: ['missing.yml'] })).rejects.toThrow(
      /missing\.yml:2: included file nope\/compose\.yaml does not exist/,
    );
  });
});

describe('extends (05-services.md#extends)', () => {
  it('in the same file: mappings merged key by key, the extending service winning; the base copied, not judged unless Laminar', async () => {
    const [common, own, slack] = [newKeyHex(), newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml': `name: lmnr
services:
  common:
    image: ghcr.io/lmnr-ai/frontend
    environment:
      AEAD_SECRET_KEY: ${common}
      SLACK_ENCRYPTION_KEY: ${slack}
  web:
    extends:
      service: common
    environment:
      - AEAD_SECRET_KEY=${own}
`,
    });
    const { report } = await check(io(dir.dir));
    // web is recognised through the image it inherits; common is a frontend too (its own image).
    expect(aead(report)).toEqual({ common: fp(common), web: fp(own) });
    expect(report.services.find((r) => r.service === 'web' && r.variable === 'SLACK_ENCRYPTION_KEY')?.fingerprint).toBe(fp(slack));
  });

  it("with file: relative to the project directory; the extended file's own paths resolve from its folder; env_file sequences base first", async () => {
    const [base, own] = [newKeyHex(), newKeyHex()];
    const dir = folder({
      'compose.yaml': `name: lmnr
services:
  app-server:
    extends:
      file: shared/common.yml
      service: server
    env_file: own.env
`,
      'shared/common.yml': `services:\n  server:\n    build: ../app-server\n    env_file: server.env\n`,
      'shared/server.env': `AEAD_SECRET_KEY=${base}\nSLACK_ENCRYPTION_KEY=${base}\n`,
      'own.env': `AEAD_SECRET_KEY=${own}\n`,
    });
    const { report } = await check(io(dir.dir));
    // The later env_file (ours, after the base's) wins for AEAD; Slack's comes from the base's.
    expect(report.services.filter((r) => r.service === 'app-server').map((r) => [r.variable, r.fingerprint, r.from])).toEqual([
      ['AEAD_SECRET_KEY', fp(own), 'env_file own.env'],
      ['SLACK_ENCRYPTION_KEY', fp(base), 'env_file shared/server.env'],
    ]);
    expect(report.sources).toContainEqual({ kind: 'compose', path: 'shared/common.yml' });

    // In a later -f file (here in overlays/), file: is still relative to the project directory.
    fs.mkdirSync(dir.file('overlays'));
    fs.writeFileSync(
      dir.file('overlays/web.yml'),
      `services:\n  web:\n    image: ghcr.io/lmnr-ai/frontend\n    extends:\n      file: shared/common.yml\n      service: server\n`,
    );
    const overlaid = (await check(io(dir.dir), { composeFiles: ['compose.yaml', 'overlays/web.yml'] })).report;
    expect(aead(overlaid)).toEqual({ 'app-server': fp(own), web: fp(base) });
  });

  it('chains are followed (cli extends common extends base): the key comes from base', async () => {
    const key = newKeyHex();
    const dir = folder({
      'compose.yaml': `name: lmnr
services:
  base:
    image: busybox
    environment:
      AEAD_SECRET_KEY: ${key}
  common:
    image: ghcr.io/lmnr-ai/app-server
    extends:
      service: base
  app-server:
    extends:
      service: common
`,
    });
    const { report } = await check(io(dir.dir));
    expect(aead(report)).toEqual({ common: fp(key), 'app-server': fp(key) });
  });

  it('a cycle, a missing base service or a missing file is refused', async () => {
    const dir = folder({
      'cycle.yml': 'services:\n  a:\n    extends: b\n  b:\n    extends:\n      service: a\n',
      'missing.yml': 'services:\n  a:\n    extends:\n      service: nope\n',
      'nofile.yml': 'services:\n  a:\n    extends:\n      service: x\n      file: gone.yml\n',
    });
    await expect(check(io(dir.dir), { composeFiles: ['cycle.yml'] })).rejects.toThrow(/extends forms a cycle/);
    await expect(check(io(dir.dir), { composeFiles: ['missing.yml'] })).rejects.toThrow(
      /missing\.yml:3: service a extends nope, which missing\.yml does not define/,
    );
    await expect(check(io(dir.dir), { composeFiles: ['nofile.yml'] })).rejects.toThrow(
      /extends\.file gone\.yml of service a does not exist/,
    );
  });
});

describe("lmnr-keys's own service (label dev.lmnr-keys.tool)", () => {
  it('is never judged, even when it looks like a Laminar service; `false` does not count', async () => {
    const key = newKeyHex();
    const dir = folder({
      'compose.yaml': `name: lmnr
services:
  app-server:
    image: ghcr.io/lmnr-ai/app-server
    labels:
      - dev.lmnr-keys.tool=true
    environment:
      AEAD_SECRET_KEY: ${key}
${frontend(`      AEAD_SECRET_KEY: ${key}\n`, '    labels:\n      dev.lmnr-keys.tool: "false"\n')}`,
    });
    const { report } = await check(io(dir.dir));
    expect(aead(report)).toEqual({ frontend: fp(key) });
    expect(notes(report, 'lmnr_keys_service')).toEqual(['app-server']);
  });

  it('nor is a running container carrying it', async () => {
    const key = newKeyHex();
    const tool = inspectedContainer('lmnr', 'lmnr-keys', 'ghcr.io/lmnr-ai/app-server', { AEAD_SECRET_KEY: key }) as {
      Config: { Labels: Record<string, string> };
    };
    tool.Config.Labels['dev.lmnr-keys.tool'] = 'true';
    const dir = folder({ 'containers.json': JSON.stringify([tool]) });
    const { report } = await check(io(dir.dir), { containers: 'containers.json' });
    expect(report.services).toEqual([]);
    expect(notes(report, 'lmnr_keys_service')).toEqual(['lmnr-keys']);
  });

  it("compose.yaml merged over Laminar's quickstart (-f docker-compose.yml -f lmnr-keys/compose.yaml): Laminar's services judged, lmnr-keys not", async () => {
    const key = newKeyHex();
    const dir = folder({
      'docker-compose.yml': QUICKSTART_COMPOSE,
      '.env': laminarDotenv(key),
      'lmnr-keys/compose.yaml': fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8'),
      'lmnr-keys/Dockerfile': fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'),
    });
    for (const profiles of [[], ['tools']]) {
      const docker = dockerAsked();
      const { report, gathered } = await check(io(dir.dir, {}, docker.runDocker), {
        composeFiles: ['docker-compose.yml', 'lmnr-keys/compose.yaml'],
        profiles,
        noContainers: false,
      });
      expect(aead(report)).toEqual({ frontend: fp(key), 'app-server': fp(key) });
      expect(report.findings).toEqual([]);
      expect(notes(report, 'lmnr_keys_service')).toEqual(['lmnr-keys']);
      expect(notes(report, 'inactive_profile')).toEqual([]);
      expect(docker.projects).toEqual(['lmnr']);
      expect(gathered.compose?.command).toBe('docker compose -f docker-compose.yml -f lmnr-keys/compose.yaml');
    }
  });
});
