/**
 * check-deployment on Kubernetes: the stale_pod judgement from plain objects, the reader's one
 * row per workload (pods and ReplicaSets fold into their Deployment or StatefulSet), and --kubectl
 * driven through a RunKubectl stand-in (argv, refusals, a Secret it may not read).
 */
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import {
  FINDING_KINDS,
  gatherDeployment,
  judgeDeployment,
  type DatabaseCounts,
  type DeploymentIo,
} from '../../src/core/check-deployment.js';
import { fingerprintKey } from '../../src/crypto/keys.js';
import { readCluster, type KubectlResult, type RunKubectl } from '../../src/deployment/read-cluster.js';
import { readKubernetesObjects, readManifests, referencedSecrets } from '../../src/deployment/read-manifests.js';
import type { PodKeySource } from '../../src/deployment/types.js';
import { ConfigError } from '../../src/errors.js';
import { checkDeploymentDocument, renderCheckDeployment } from '../../src/report/check-deployment.js';
import { expectNoKeyIn } from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';
import { deployment, list, pod, replicaSet, secret, statefulSet, withoutManagedFields } from '../support/kubernetes.js';

const fp = (hex: string) => fingerprintKey(Buffer.from(hex, 'hex'));
const KEY = newKeyHex();
const OTHER = newKeyHex();
const NS = 'lmnr';
const BEFORE = '2026-03-01T10:00:00Z';
const WRITE = '2026-03-02T09:30:00Z';
const AFTER = '2026-03-02T09:31:07Z';

const notChecked = { checked: false as const, reason: 'test' };

function podKey(over: Partial<PodKeySource> = {}): PodKeySource {
  return {
    group: 'kubernetes',
    service: 'laminar-frontend',
    role: 'frontend',
    workload: 'Deployment laminar-frontend',
    pod: 'laminar-frontend-5d4f8b7c9-x2x7k',
    container: 'frontend',
    startedAt: BEFORE,
    variable: 'AEAD_SECRET_KEY',
    secret: 'laminar-app-secrets',
    value: KEY,
    secretWrittenAt: WRITE,
    confirm: `kubectl exec laminar-frontend-5d4f8b7c9-x2x7k -n ${NS} -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint`,
    restart: `kubectl rollout restart deployment/laminar-frontend -n ${NS}`,
    ...over,
  };
}

const judge = (pods: PodKeySource[], strict = false, database: Parameters<typeof judgeDeployment>[1] = notChecked) =>
  checkDeploymentDocument(judgeDeployment({ received: [], sources: [], notes: [], pods }, database, { strict }));

const slackStored = (values: number): DatabaseCounts => ({
  stored: [
    { store: 'provider_api_keys', present: true, values: 3 },
    { store: 'workspace_deployments.private_key', present: true, values: 0 },
    { store: 'workspace_deployments.data_plane_url', present: true, values: 0 },
    { store: 'slack_integrations', present: true, values },
  ],
  opens: [],
});

describe('stale_pod: the judgement on plain objects', () => {
  it('is a finding kind, judged after stale_container', () => {
    expect(FINDING_KINDS.indexOf('stale_pod')).toBe(FINDING_KINDS.indexOf('stale_container') + 1);
  });

  it('a pod started before the last write to its Secret: may hold the old value; names pod, Secret, both times; confirm, then restart', () => {
    const report = judge([podKey()]);
    expect(report.ok).toBe(false);
    expect(report.findings).toHaveLength(1);
    const [finding] = report.findings;
    expect(finding).toMatchObject({
      kind: 'stale_pod',
      source: 'kubernetes',
      service: 'laminar-frontend',
      container: null,
      pod: 'laminar-frontend-5d4f8b7c9-x2x7k',
      variable: 'AEAD_SECRET_KEY',
    });
    expect(finding!.detail).toContain('pod laminar-frontend-5d4f8b7c9-x2x7k (Deployment laminar-frontend)');
    expect(finding!.detail).toContain(`started its frontend container at ${BEFORE}`);
    expect(finding!.detail).toContain(`before the last write to Secret laminar-app-secrets at ${WRITE}`);
    expect(finding!.detail).toMatch(/it may still hold the old value/);
    expect(finding!.detail).toMatch(/any write to the Secret moves that time/);
    expect(finding!.fix).toBe(
      `confirm: kubectl exec laminar-frontend-5d4f8b7c9-x2x7k -n lmnr -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint ` +
        `(${fp(KEY)} is the Secret's key); if it differs: kubectl rollout restart deployment/laminar-frontend -n lmnr`,
    );
    const text = renderCheckDeployment(report, new Chalk({ level: 0 }));
    expect(text).toMatch(/x stale_pod {2}laminar-frontend \(pod laminar-frontend-5d4f8b7c9-x2x7k\) AEAD_SECRET_KEY \(Kubernetes cluster\)/);
    expectNoKeyIn([text, JSON.stringify(report)], [KEY]);
  });

  it('a pod started after the last write, or in the same second: nothing to say', () => {
    expect(judge([podKey({ startedAt: AFTER })]).findings).toEqual([]);
    expect(judge([podKey({ startedAt: WRITE })]).findings).toEqual([]);
    expect(judge([podKey({ startedAt: AFTER })]).notes).toEqual([]);
  });

  it('one finding per stale pod and variable; a Slack key that nothing needs yet is not repeated beside it', () => {
    const pods = [
      podKey(),
      podKey({ variable: 'SLACK_ENCRYPTION_KEY' }),
      podKey({ pod: 'laminar-frontend-5d4f8b7c9-k8k8k', startedAt: AFTER }),
      podKey({ pod: 'laminar-frontend-5d4f8b7c9-q1q1q' }),
    ];
    const report = judge(pods);
    expect(report.findings.map((f) => `${f.pod} ${f.variable}`)).toEqual([
      'laminar-frontend-5d4f8b7c9-x2x7k AEAD_SECRET_KEY',
      'laminar-frontend-5d4f8b7c9-q1q1q AEAD_SECRET_KEY',
    ]);
    expect(report.notes).toEqual([]);
    // Slack tokens are stored: the Slack key matters, and is a finding of its own.
    const withSlack = judge(pods, false, { checked: true, counts: slackStored(1) });
    expect(withSlack.findings.filter((f) => f.variable === 'SLACK_ENCRYPTION_KEY').map((f) => f.pod)).toEqual([
      'laminar-frontend-5d4f8b7c9-x2x7k',
    ]);
    expect(judge(pods, true).findings).toHaveLength(3);
  });

  it('a Slack key alone, with no Slack token stored: a note, not a finding', () => {
    const report = judge([podKey({ variable: 'SLACK_ENCRYPTION_KEY', secret: 'slack-only' })], false, {
      checked: true,
      counts: slackStored(0),
    });
    expect(report.findings).toEqual([]);
    expect(report.notes).toHaveLength(1);
    expect(report.notes[0]).toMatchObject({ kind: 'stale_pod', service: 'laminar-frontend', variable: 'SLACK_ENCRYPTION_KEY' });
    expect(report.notes[0]!.detail).toMatch(/Secret slack-only .*: no Slack token is stored, so nothing needs it yet$/);
  });

  it('a StatefulSet pod: the restart is the StatefulSet rollout', () => {
    const report = judge([
      podKey({
        service: 'laminar-app-server',
        role: 'app-server',
        workload: 'StatefulSet laminar-app-server',
        pod: 'laminar-app-server-0',
        container: 'app-server',
        restart: `kubectl rollout restart statefulset/laminar-app-server -n ${NS}`,
      }),
    ]);
    expect(report.findings[0]!.fix).toMatch(/if it differs: kubectl rollout restart statefulset\/laminar-app-server -n lmnr$/);
  });

  it('a Secret without managedFields: one note that staleness cannot be judged, no finding', () => {
    const report = judge([
      podKey({ secretWrittenAt: null }),
      podKey({ secretWrittenAt: null, variable: 'SLACK_ENCRYPTION_KEY' }),
      podKey({ secretWrittenAt: null, pod: 'laminar-app-server-7c-abcde', service: 'laminar-app-server' }),
    ]);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.notes).toEqual([
      {
        kind: 'staleness_not_judged',
        service: null,
        variable: null,
        detail:
          'Secret laminar-app-secrets carries no metadata.managedFields (kubectl prints them only with --show-managed-fields), ' +
          'so whether running pods (laminar-frontend-5d4f8b7c9-x2x7k, laminar-app-server-7c-abcde) started before its last ' +
          'change cannot be judged',
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// The objects kubectl returns, read.

const frontend = (envFrom = ['laminar-app-secrets']) => [{ name: 'frontend', image: 'ghcr.io/lmnr-ai/frontend-ee:0.1.9', envFrom }];
const appServer = [
  { name: 'app-server', image: 'ghcr.io/lmnr-ai/app-server-ee:0.1.9', envFrom: ['laminar-app-secrets'] },
  { name: 'nginx', image: 'nginx:1.27' },
];

/** A namespace as Laminar's chart leaves it (the app-server as a StatefulSet here), pods started at `started`. */
function clusterObjects(started: { frontend: string | null; appServer: string | null }, writes = [BEFORE, WRITE]) {
  return [
    deployment('laminar-frontend', NS, frontend()),
    replicaSet('laminar-frontend-5d4f8b7c9', NS, 'laminar-frontend', frontend()),
    replicaSet('laminar-frontend-6b5c4d3e2', NS, 'laminar-frontend', frontend(), 0),
    pod('laminar-frontend-5d4f8b7c9-x2x7k', NS, { kind: 'ReplicaSet', name: 'laminar-frontend-5d4f8b7c9' }, frontend(), started.frontend),
    pod('laminar-frontend-5d4f8b7c9-p0p0p', NS, { kind: 'ReplicaSet', name: 'laminar-frontend-5d4f8b7c9' }, frontend(), null),
    statefulSet('laminar-app-server', NS, appServer),
    pod('laminar-app-server-0', NS, { kind: 'StatefulSet', name: 'laminar-app-server' }, appServer, started.appServer),
    deployment('postgres', NS, [{ name: 'postgres', image: 'postgres:15' }]),
    secret('laminar-app-secrets', NS, { AEAD_SECRET_KEY: KEY, SLACK_ENCRYPTION_KEY: KEY, POSTGRES_PASSWORD: 'lmnr123' }, writes),
  ];
}

describe('Kubernetes objects: one row per workload, running pods and their Secret', () => {
  it('pods and ReplicaSets fold into their Deployment or StatefulSet; running pods carry the Secret and its last write', () => {
    const result = readKubernetesObjects([list(clusterObjects({ frontend: AFTER, appServer: BEFORE }))], {
      group: 'kubernetes',
      source: { kind: 'kubernetes', path: 'kubectl (current context, namespace lmnr)' },
    });
    expect([...new Set(result.received.map((r) => r.service))]).toEqual(['laminar-frontend', 'laminar-app-server']);
    expect(result.received.every((r) => r.group === 'kubernetes')).toBe(true);
    expect(result.received.find((r) => r.service === 'laminar-app-server')?.restart).toBe(
      'kubectl rollout restart statefulset/laminar-app-server -n lmnr',
    );
    // The waiting pod is not running: nothing to judge.
    expect(result.pods?.map((p) => `${p.pod} ${p.variable} ${p.secret} ${p.secretWrittenAt}`)).toEqual([
      `laminar-frontend-5d4f8b7c9-x2x7k AEAD_SECRET_KEY laminar-app-secrets ${WRITE}`,
      `laminar-frontend-5d4f8b7c9-x2x7k SLACK_ENCRYPTION_KEY laminar-app-secrets ${WRITE}`,
      `laminar-app-server-0 AEAD_SECRET_KEY laminar-app-secrets ${WRITE}`,
      `laminar-app-server-0 SLACK_ENCRYPTION_KEY laminar-app-secrets ${WRITE}`,
    ]);
    const appServerPod = result.pods!.find((p) => p.pod === 'laminar-app-server-0')!;
    expect(appServerPod).toMatchObject({
      service: 'laminar-app-server',
      workload: 'StatefulSet laminar-app-server',
      container: 'app-server',
    });
    // Two containers in the pod: kubectl exec needs -c.
    expect(appServerPod.confirm).toBe(
      'kubectl exec laminar-app-server-0 -n lmnr -c app-server -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint',
    );
  });

  it('judged: the StatefulSet pod started before the write is stale, the Deployment pod started after is not', () => {
    const gathered = readKubernetesObjects(clusterObjects({ frontend: AFTER, appServer: BEFORE }), {
      group: 'manifests',
      source: { kind: 'manifests', path: 'stdin' },
    });
    const report = checkDeploymentDocument(judgeDeployment({ ...gathered, pods: gathered.pods ?? [] }, notChecked, { strict: false }));
    expect(report.findings.map((f) => `${f.kind} ${f.source} ${f.service} ${f.pod} ${f.variable}`)).toEqual([
      'stale_pod manifests laminar-app-server laminar-app-server-0 AEAD_SECRET_KEY',
    ]);
    expect(report.services.map((r) => `${r.service} ${r.variable} ${r.status}`)).toEqual([
      'laminar-frontend AEAD_SECRET_KEY ok',
      'laminar-frontend SLACK_ENCRYPTION_KEY ok',
      'laminar-app-server AEAD_SECRET_KEY ok',
      'laminar-app-server SLACK_ENCRYPTION_KEY ok',
    ]);
  });

  it('--manifests with pods and Secrets, as kubectl get -o yaml prints them: the same judgement; without managedFields, a note', () => {
    const yaml = (objects: unknown[]) => JSON.stringify(list(objects as Record<string, unknown>[]));
    const withFields = readManifests(yaml(clusterObjects({ frontend: BEFORE, appServer: AFTER })), 'stdin');
    const judged = judgeDeployment({ ...withFields, pods: withFields.pods ?? [] }, notChecked, { strict: false });
    expect(judged.findings.map((f) => `${f.kind} ${f.pod} ${f.variable}`)).toEqual([
      'stale_pod laminar-frontend-5d4f8b7c9-x2x7k AEAD_SECRET_KEY',
    ]);
    expect(judged.findings[0]!.fix).toMatch(/kubectl rollout restart deployment\/laminar-frontend -n lmnr$/);

    const stripped = readManifests(yaml(withoutManagedFields(clusterObjects({ frontend: BEFORE, appServer: AFTER }))), 'stdin');
    const unjudged = judgeDeployment({ ...stripped, pods: stripped.pods ?? [] }, notChecked, { strict: false });
    expect(unjudged.findings).toEqual([]);
    expect(unjudged.notes.map((n) => n.kind)).toEqual(['staleness_not_judged']);
  });

  it('what helm template prints (no pods): no staleness note at all', () => {
    const rendered = readKubernetesObjects(
      [
        deployment('laminar-frontend', NS, frontend()),
        withoutManagedFields(secret('laminar-app-secrets', NS, { AEAD_SECRET_KEY: KEY }, [])),
      ],
      { group: 'manifests', source: { kind: 'manifests', path: 'rendered.yaml' } },
    );
    expect(rendered.pods).toBeUndefined();
    const judged = judgeDeployment(rendered, notChecked, { strict: false });
    expect(judged.notes.filter((n) => n.kind === 'staleness_not_judged')).toEqual([]);
  });

  it('the Secrets to fetch: envFrom secretRefs and the key variables’ secretKeyRefs of Laminar containers only', () => {
    const objects = [
      deployment('laminar-frontend', NS, [
        {
          name: 'frontend',
          image: 'ghcr.io/lmnr-ai/frontend:1',
          envFrom: ['laminar-app-secrets'],
          env: [
            { name: 'AEAD_SECRET_KEY', valueFrom: { secretKeyRef: { name: 'aead-override', key: 'key' } } },
            { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'database', key: 'url' } } },
          ],
        },
      ]),
      deployment('postgres', NS, [{ name: 'postgres', image: 'postgres:15', envFrom: ['postgres-secret'] }]),
    ];
    expect(referencedSecrets([list(objects)])).toEqual(['aead-override', 'laminar-app-secrets']);
  });
});

// ---------------------------------------------------------------------------------------------
// --kubectl through a RunKubectl stand-in.

interface Answers {
  list?: KubectlResult;
  secrets?: Record<string, KubectlResult>;
}
function kubectl(answers: Answers): { run: RunKubectl; calls: string[][] } {
  const calls: string[][] = [];
  const run: RunKubectl = async (args) => {
    calls.push(args);
    const get = args.indexOf('get');
    if (args[get + 1] === 'secret')
      return (
        answers.secrets?.[args[get + 2]!] ?? { exitCode: 1, stdout: '', stderr: 'Error from server (NotFound): secrets "x" not found\n' }
      );
    return answers.list ?? { exitCode: 0, stdout: JSON.stringify(list([])), stderr: '' };
  };
  return { run, calls };
}
const ok = (object: unknown): KubectlResult => ({ exitCode: 0, stdout: JSON.stringify(object), stderr: '' });
const refused = (stderr: string): KubectlResult => ({ exitCode: 1, stdout: '', stderr });

describe('--kubectl', () => {
  const objects = clusterObjects({ frontend: BEFORE, appServer: AFTER });
  const workloads = list(objects.filter((o) => o.kind !== 'Secret'));
  const theSecret = objects.find((o) => o.kind === 'Secret')!;

  it('asks for the workloads, then each Secret they read, with -n and --context; fixes carry --context', async () => {
    const { run, calls } = kubectl({ list: ok(workloads), secrets: { 'laminar-app-secrets': ok(theSecret) } });
    const result = await readCluster(run, { namespace: NS, context: 'prod' });
    expect(calls).toEqual([
      ['--context', 'prod', '-n', 'lmnr', 'get', 'deployments,statefulsets,replicasets,pods', '-o', 'json', '--show-managed-fields'],
      ['--context', 'prod', '-n', 'lmnr', 'get', 'secret', 'laminar-app-secrets', '-o', 'json', '--show-managed-fields'],
    ]);
    expect(result.sources).toEqual([{ kind: 'kubernetes', path: 'kubectl (context prod, namespace lmnr)' }]);
    const judged = judgeDeployment({ ...result, pods: result.pods ?? [] }, notChecked, { strict: false });
    expect(judged.findings.map((f) => `${f.kind} ${f.pod}`)).toEqual(['stale_pod laminar-frontend-5d4f8b7c9-x2x7k']);
    expect(judged.findings[0]!.fix).toBe(
      'confirm: kubectl exec laminar-frontend-5d4f8b7c9-x2x7k -n lmnr --context prod -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint ' +
        `(${fp(KEY)} is the Secret's key); if it differs: kubectl rollout restart deployment/laminar-frontend -n lmnr --context prod`,
    );
  });

  it("no -n and no --context: none passed (the context's namespace), the namespace named from the objects", async () => {
    const { run, calls } = kubectl({ list: ok(workloads), secrets: { 'laminar-app-secrets': ok(theSecret) } });
    const result = await readCluster(run, { namespace: null, context: null });
    expect(calls[0]).toEqual(['get', 'deployments,statefulsets,replicasets,pods', '-o', 'json', '--show-managed-fields']);
    expect(result.sources[0]!.path).toBe('kubectl (current context, namespace lmnr)');
  });

  it('a Secret it may not read: not_given notes for the services that read it, never a guess; the run goes on', async () => {
    const forbidden =
      'Error from server (Forbidden): secrets "laminar-app-secrets" is forbidden: User "system:serviceaccount:lmnr:lmnr-keys" ' +
      'cannot get resource "secrets" in API group "" in the namespace "lmnr"\n';
    const { run } = kubectl({ list: ok(workloads), secrets: { 'laminar-app-secrets': refused(forbidden) } });
    const result = await readCluster(run, { namespace: NS, context: null });
    const report = judgeDeployment({ ...result, pods: result.pods ?? [] }, notChecked, { strict: false });
    expect(report.findings).toEqual([]);
    expect(report.services.map((r) => r.status)).toEqual(['not_given', 'not_given', 'not_given', 'not_given']);
    const note = report.notes.find((n) => n.service === 'laminar-frontend' && n.variable === 'AEAD_SECRET_KEY');
    expect(note).toMatchObject({ kind: 'not_given' });
    expect(note!.detail).toBe(
      `envFrom Secret laminar-app-secrets: kubectl may not read it (${forbidden.trim()}); grant get on secret laminar-app-secrets to read it`,
    );
    expect(result.pods).toBeUndefined();
  });

  it('kubectl missing, no context, an unknown context, the workloads forbidden, not JSON: ConfigError (exit 3) with a hint', async () => {
    const cases: Array<[KubectlResult, string | null, RegExp]> = [
      [{ exitCode: null, stdout: '', stderr: '', notFound: true }, null, /^kubectl is not on PATH: --kubectl asks the cluster through it$/],
      [
        refused(
          'E0101 00:00:00.000000 1 memcache.go:265] couldn\'t get current server API group list: Get "http://localhost:8080/api"\n' +
            'The connection to the server localhost:8080 was refused - did you specify the right host or port?\n',
        ),
        null,
        /^kubectl has no current context to ask \(The connection to the server localhost:8080 was refused - did you specify the right host or port\?\)$/,
      ],
      [
        refused('Error in configuration: context was not found for specified context: staging\n'),
        'staging',
        /^kubectl has no context staging \(Error in configuration: context was not found for specified context: staging\)$/,
      ],
      [
        refused(
          'Error from server (Forbidden): deployments.apps is forbidden: User "jane" cannot list resource "deployments" in API group "apps" in the namespace "lmnr"\n',
        ),
        null,
        /^kubectl may not list deployments,statefulsets,replicasets,pods in namespace lmnr \(Error from server \(Forbidden\): deployments\.apps is forbidden: User "jane"/,
      ],
      [
        { exitCode: 0, stdout: 'NAME READY', stderr: '' },
        null,
        /^kubectl get deployments,statefulsets,replicasets,pods did not print JSON/,
      ],
    ];
    for (const [answer, context, message] of cases) {
      const { run } = kubectl({ list: answer });
      const error = await readCluster(run, { namespace: NS, context }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(message);
      expect((error as ConfigError).message).not.toContain('\n');
      expect((error as ConfigError).hint).toBeTruthy();
    }
  });

  it('an empty namespace: a note naming -n', async () => {
    const { run } = kubectl({ list: ok(list([])) });
    const result = await readCluster(run, { namespace: null, context: null });
    expect(result.notes[0]!.detail).toMatch(
      /^no Laminar workload .* in kubectl \(current context, the context's namespace\): pass -n NAMESPACE/,
    );
  });

  it('gatherDeployment runs it instead of looking for compose files', async () => {
    const { run, calls } = kubectl({ list: ok(workloads), secrets: { 'laminar-app-secrets': ok(theSecret) } });
    const io: DeploymentIo = {
      cwd: '/nonexistent-for-lmnr-keys-tests',
      shellEnv: {},
      readText: () => {
        throw Object.assign(new Error('no'), { code: 'ENOENT' });
      },
      isFile: () => false,
      readStdin: async () => '',
      runDocker: async () => ({ exitCode: null, stdout: '', stderr: '', notFound: true }),
      runKubectl: run,
    };
    const gathered = await gatherDeployment(io, {
      composeFiles: [],
      projectDirectory: null,
      serviceFiles: [],
      containers: null,
      noContainers: false,
      helmValues: [],
      manifests: null,
      kubectl: { namespace: NS, context: null },
    });
    expect(calls).toHaveLength(2);
    expect(gathered.compose).toBeNull();
    expect(gathered.pods.map((p) => p.pod)).toContain('laminar-frontend-5d4f8b7c9-x2x7k');
    const report = checkDeploymentDocument(judgeDeployment(gathered, notChecked, { strict: false }));
    expect(report.services.every((r) => r.source === 'kubernetes' && r.fingerprint === fp(KEY))).toBe(true);
    expectNoKeyIn([JSON.stringify(report), renderCheckDeployment(report, new Chalk({ level: 0 }))], [KEY, OTHER]);
  });
});
