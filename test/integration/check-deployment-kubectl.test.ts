/**
 * check-deployment --kubectl through the built bin, with a stand-in `kubectl` first on PATH that
 * answers like the real one (test/support/kubernetes.ts): a `List` for the workloads, the object
 * for `get secret NAME`, managedFields only with --show-managed-fields, `Error from server
 * (Forbidden)` and exit 1 when refused. No cluster exists here. Every argv is recorded; every
 * output, JSON included, is searched for the keys.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintKey } from '../../src/crypto/keys.js';
import { runCli, type CliResult } from '../support/cli.js';
import { expectNoKeyIn, writeFolder } from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';
import {
  deployment,
  list,
  pod,
  replicaSet,
  secret,
  statefulSet,
  writeFakeKubectl,
  type ContainerSpec,
  type FakeCluster,
} from '../support/kubernetes.js';

const KEY = newKeyHex();
const fp = (hex: string) => fingerprintKey(Buffer.from(hex, 'hex'));
const NS = 'lmnr';
const HELM_INSTALL = '2026-03-01T10:00:00Z';
const KEY_CHANGED = '2026-03-02T09:30:00Z';
const EARLY = '2026-03-01T10:01:12Z';
const LATE = '2026-03-02T09:31:07Z';
const WORKLOADS = ['get', 'deployments,statefulsets,replicasets,pods', '-o', 'json', '--show-managed-fields'];
const SECRET = ['get', 'secret', 'laminar-app-secrets', '-o', 'json', '--show-managed-fields'];

const frontend: ContainerSpec[] = [{ name: 'frontend', image: 'ghcr.io/lmnr-ai/frontend-ee:0.1.9', envFrom: ['laminar-app-secrets'] }];
const appServer: ContainerSpec[] = [{ name: 'app-server', image: 'ghcr.io/lmnr-ai/app-server-ee:0.1.9', envFrom: ['laminar-app-secrets'] }];

/** Laminar in namespace lmnr: the web app a Deployment, the app-server a StatefulSet; pods started at these times. */
function laminar(started: { frontend: string; appServer: string }, secretWrites: string[]) {
  return [
    deployment('laminar-frontend', NS, frontend),
    replicaSet('laminar-frontend-5d4f8b7c9', NS, 'laminar-frontend', frontend),
    pod('laminar-frontend-5d4f8b7c9-x2x7k', NS, { kind: 'ReplicaSet', name: 'laminar-frontend-5d4f8b7c9' }, frontend, started.frontend),
    statefulSet('laminar-app-server', NS, appServer),
    pod('laminar-app-server-0', NS, { kind: 'StatefulSet', name: 'laminar-app-server' }, appServer, started.appServer),
    deployment('postgres', NS, [{ name: 'postgres', image: 'postgres:15', envFrom: ['postgres-credentials'] }]),
    secret('laminar-app-secrets', NS, { AEAD_SECRET_KEY: KEY, POSTGRES_PASSWORD: 'lmnr123' }, secretWrites),
  ];
}

const outputs: string[] = [];
let dir: ReturnType<typeof writeFolder>;
let env: Record<string, string>;

function setCluster(cluster: FakeCluster) {
  fs.writeFileSync(dir.file('cluster.json'), JSON.stringify(cluster));
  fs.writeFileSync(dir.file('argv.log'), '');
}
function recorded(): string[][] {
  return fs
    .readFileSync(dir.file('argv.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
}
async function run(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const result = await runCli(['check-deployment', ...args], { cwd: dir.dir, env: { ...env, ...options.env }, input: options.input ?? '' });
  outputs.push(result.stdout, result.stderr);
  return result;
}

beforeAll(() => {
  dir = writeFolder({ 'argv.log': '' });
  writeFakeKubectl(dir.file('bin'), dir.file('cluster.json'), dir.file('argv.log'));
  env = { PATH: `${dir.file('bin')}${path.delimiter}${process.env.PATH}` };
});

afterAll(() => {
  // Every stdout and stderr, human and JSON, and the stand-in's argv: never a key, nor a piece of one.
  expectNoKeyIn([...outputs, fs.readFileSync(dir.file('argv.log'), 'utf8')], [KEY]);
  for (const text of outputs) expect(text.includes('lmnr123')).toBe(false);
  dir.remove();
});

describe('check-deployment --kubectl', () => {
  it('pods started after the last write to their Secret: healthy, one row per workload, -n and --context passed on', async () => {
    setCluster({
      currentContext: 'kind-lmnr',
      contexts: { 'kind-lmnr': NS, prod: 'default' },
      objects: { [NS]: laminar({ frontend: LATE, appServer: LATE }, [HELM_INSTALL, KEY_CHANGED]) },
    });
    const result = await run(['--kubectl', '-n', NS, '--context', 'prod', '--no-database', '--json']);
    expect(result.code).toBe(0);
    expect(recorded()).toEqual([
      ['--context', 'prod', '-n', NS, ...WORKLOADS],
      ['--context', 'prod', '-n', NS, ...SECRET],
    ]);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ version: 2, command: 'check-deployment', ok: true, findings: [] });
    expect(report.sources).toEqual([{ kind: 'kubernetes', path: 'kubectl (context prod, namespace lmnr)' }]);
    expect(
      report.services.map((s: { service: string; variable: string; source: string }) => `${s.source} ${s.service} ${s.variable}`),
    ).toEqual([
      'kubernetes laminar-frontend AEAD_SECRET_KEY',
      'kubernetes laminar-frontend SLACK_ENCRYPTION_KEY',
      'kubernetes laminar-app-server AEAD_SECRET_KEY',
      'kubernetes laminar-app-server SLACK_ENCRYPTION_KEY',
    ]);
    expect(report.services[0]).toMatchObject({
      status: 'ok',
      fingerprint: fp(KEY),
      from: 'Secret laminar-app-secrets key AEAD_SECRET_KEY',
    });

    fs.writeFileSync(dir.file('argv.log'), '');
    const human = await run(['--kubectl', '--no-database']);
    expect(human.code).toBe(0);
    // No -n, no --context: the current context and its namespace, as kubectl chooses them.
    expect(recorded()[0]).toEqual(WORKLOADS);
    expect(human.stdout).toMatch(/^Kubernetes cluster$/m);
    expect(human.stdout).toMatch(/Verdict: healthy/);
  });

  it('the key changed after the pods started: stale_pod for the Deployment pod and the StatefulSet pod, each with its restart', async () => {
    setCluster({
      currentContext: 'kind-lmnr',
      contexts: { 'kind-lmnr': NS },
      objects: { [NS]: laminar({ frontend: EARLY, appServer: EARLY }, [HELM_INSTALL, KEY_CHANGED]) },
    });
    const result = await run(['--kubectl', '--no-database', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    const stale = report.findings.filter((f: { kind: string }) => f.kind === 'stale_pod');
    expect(stale.map((f: { service: string; pod: string; variable: string }) => `${f.service} ${f.pod} ${f.variable}`)).toEqual([
      'laminar-frontend laminar-frontend-5d4f8b7c9-x2x7k AEAD_SECRET_KEY',
      'laminar-app-server laminar-app-server-0 AEAD_SECRET_KEY',
    ]);
    expect(report.findings).toHaveLength(2);
    expect(stale[0].detail).toContain(
      `pod laminar-frontend-5d4f8b7c9-x2x7k (Deployment laminar-frontend) started its frontend container at ${EARLY}`,
    );
    expect(stale[0].detail).toContain(`before the last write to Secret laminar-app-secrets at ${KEY_CHANGED}`);
    expect(stale[0].detail).toContain('it may still hold the old value');
    expect(stale[0].fix).toBe(
      'confirm: kubectl exec laminar-frontend-5d4f8b7c9-x2x7k -n lmnr -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint ' +
        `(${fp(KEY)} is the Secret's key); if it differs: kubectl rollout restart deployment/laminar-frontend -n lmnr`,
    );
    expect(stale[1].fix).toMatch(
      /^confirm: kubectl exec laminar-app-server-0 -n lmnr -- printenv AEAD_SECRET_KEY \| lmnr-keys fingerprint /,
    );
    expect(stale[1].fix).toMatch(/if it differs: kubectl rollout restart statefulset\/laminar-app-server -n lmnr$/);

    const human = await run(['--kubectl', '--no-database']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /x stale_pod {2}laminar-frontend \(pod laminar-frontend-5d4f8b7c9-x2x7k\) AEAD_SECRET_KEY \(Kubernetes cluster\)/,
    );
    expect(human.stdout).toMatch(/Verdict: 2 findings \(stale_pod\)/);
  });

  it('the same objects piped to --manifests: with managedFields the same judgement; without, a note that staleness cannot be judged', async () => {
    setCluster({
      currentContext: 'kind-lmnr',
      contexts: { 'kind-lmnr': NS },
      objects: { [NS]: laminar({ frontend: EARLY, appServer: LATE }, [HELM_INSTALL, KEY_CHANGED]) },
    });
    const objects = (showManagedFields: boolean) => {
      const workloads = runStandIn([...WORKLOADS.slice(0, -1), ...(showManagedFields ? ['--show-managed-fields'] : [])]);
      const theSecret = runStandIn([
        'get',
        'secret',
        'laminar-app-secrets',
        '-o',
        'json',
        ...(showManagedFields ? ['--show-managed-fields'] : []),
      ]);
      return JSON.stringify(list([...JSON.parse(workloads).items, JSON.parse(theSecret)]));
    };
    const withFields = await run(['--manifests', '-', '--no-database', '--json'], { input: objects(true) });
    expect(withFields.code).toBe(1);
    const judged = JSON.parse(withFields.stdout);
    expect(judged.findings.map((f: { kind: string; source: string; pod: string }) => `${f.kind} ${f.source} ${f.pod}`)).toEqual([
      'stale_pod manifests laminar-frontend-5d4f8b7c9-x2x7k',
    ]);

    const plain = await run(['--manifests', '-', '--no-database'], { input: objects(false) });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(
      /Secret laminar-app-secrets carries no metadata\.managedFields \(kubectl prints them only with --show-managed-fields\), so whether running pods \(laminar-frontend-5d4f8b7c9-x2x7k, laminar-app-server-0\) started before its last change cannot be judged/,
    );
  });

  it('a Secret it may not read: a note for the services that read it (not given, never guessed), and the run goes on', async () => {
    setCluster({
      currentContext: 'kind-lmnr',
      contexts: { 'kind-lmnr': NS },
      objects: { [NS]: laminar({ frontend: EARLY, appServer: EARLY }, [HELM_INSTALL, KEY_CHANGED]) },
      forbidden: ['secret/laminar-app-secrets'],
    });
    const result = await run(['--kubectl', '--no-database', '--json']);
    expect(result.code).toBe(0);
    expect(recorded()).toEqual([WORKLOADS, SECRET]);
    const report = JSON.parse(result.stdout);
    expect(report.findings).toEqual([]);
    expect(report.services.map((s: { status: string }) => s.status)).toEqual(['not_given', 'not_given', 'not_given', 'not_given']);
    const note = report.notes.find(
      (n: { service: string; variable: string }) => n.service === 'laminar-app-server' && n.variable === 'AEAD_SECRET_KEY',
    );
    expect(note.kind).toBe('not_given');
    expect(note.detail).toBe(
      'envFrom Secret laminar-app-secrets: kubectl may not read it (Error from server (Forbidden): secrets "laminar-app-secrets" is ' +
        'forbidden: User "system:serviceaccount:lmnr:lmnr-keys" cannot get resource "secrets" in API group "" in the namespace "lmnr"); ' +
        'grant get on secret laminar-app-secrets to read it',
    );
    const human = await run(['--kubectl', '--no-database']);
    expect(human.stdout).toMatch(/laminar-frontend\s+AEAD_SECRET_KEY\s+-\s+not given \(not read\)/);
    expect(human.stdout).toMatch(/Verdict: healthy: .*\(some values could not be read: see the notes\)/);
  });

  it('kubectl missing, no current context, an unknown context, the workloads forbidden: one line and a hint, exit 3', async () => {
    setCluster({ currentContext: null, contexts: { 'kind-lmnr': NS }, objects: {}, forbidden: [] });
    const empty = writeFolder({ '.keep': '' });
    try {
      const cases: Array<[string[], Record<string, string>, RegExp]> = [
        [[], { PATH: empty.dir }, /^error: kubectl is not on PATH: --kubectl asks the cluster through it$/],
        [
          [],
          {},
          /^error: kubectl has no current context to ask \(The connection to the server localhost:8080 was refused - did you specify the right host or port\?\)$/,
        ],
        [
          ['--context', 'staging'],
          {},
          /^error: kubectl has no context staging \(Error in configuration: context was not found for specified context: staging\)$/,
        ],
      ];
      for (const [args, extra, message] of cases) {
        const result = await run(['--kubectl', ...args, '--no-database'], { env: extra });
        expect(result.code, args.join(' ')).toBe(3);
        expect(result.stdout).toBe('');
        const lines = result.stderr.trimEnd().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(message);
        expect(lines[1]).toMatch(/^hint: /);
      }
    } finally {
      empty.remove();
    }

    setCluster({ currentContext: 'kind-lmnr', contexts: { 'kind-lmnr': NS }, objects: { [NS]: [] }, forbidden: ['workloads'] });
    const forbidden = await run(['--kubectl', '-n', NS, '--no-database']);
    expect(forbidden.code).toBe(3);
    const lines = forbidden.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^error: kubectl may not list deployments,statefulsets,replicasets,pods in namespace lmnr \(Error from server \(Forbidden\): deployments\.apps is forbidden: User "system:serviceaccount:lmnr:lmnr-keys" cannot list resource "deployments"/,
    );
    expect(lines[1]).toMatch(/^hint: grant get and list on deployments, statefulsets, replicasets \(apps\) and pods/);
    const json = await run(['--kubectl', '-n', NS, '--no-database', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ command: 'check-deployment', ok: false, error: { exitCode: 3 } });
  });

  it('-n or --context without --kubectl: a usage error, exit 2', async () => {
    const result = await run(['-n', NS, '--manifests', '-', '--no-database']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: -n\/--namespace and --context go with --kubectl$/m);
  });
});

/** The stand-in run directly, as an operator would run kubectl to save objects for --manifests. */
function runStandIn(args: string[]): string {
  return execFileSync(dir.file('bin/kubectl'), args, { encoding: 'utf8' });
}
