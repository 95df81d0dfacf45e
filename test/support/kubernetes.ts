/**
 * Kubernetes objects as kubectl prints them with `-o json --show-managed-fields` (the fields
 * lmnr-keys reads, and a few it ignores), shaped after shared/OPERATIONS.md: a Deployment owns a
 * ReplicaSet that owns the pods, a StatefulSet owns its pods, a Secret's managedFields carry
 * the time of each manager's last write. And a stand-in `kubectl` that answers from such objects,
 * like the real one: a `List` for a multi-kind get, the object for `get KIND NAME`, managedFields
 * only with --show-managed-fields, `Error from server (...)` and exit 1 when refused.
 */
import fs from 'node:fs';
import path from 'node:path';

type Obj = Record<string, unknown>;

export interface ContainerSpec {
  name: string;
  image: string;
  envFrom?: string[];
  env?: Array<Record<string, unknown>>;
}

function containerOf(spec: ContainerSpec): Obj {
  return {
    name: spec.name,
    image: spec.image,
    imagePullPolicy: 'Always',
    ...(spec.envFrom ? { envFrom: spec.envFrom.map((name) => ({ secretRef: { name } })) } : {}),
    ...(spec.env ? { env: spec.env } : {}),
  };
}

const uidOf = (kind: string, name: string) => `uid-${kind.toLowerCase()}-${name}`;

function metadata(kind: string, name: string, namespace: string, owner?: { kind: string; name: string }): Obj {
  return {
    name,
    namespace,
    uid: uidOf(kind, name),
    creationTimestamp: '2026-01-01T00:00:00Z',
    ...(owner
      ? {
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: owner.kind,
              name: owner.name,
              uid: uidOf(owner.kind, owner.name),
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        }
      : {}),
    managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1' }],
  };
}

export function deployment(name: string, namespace: string, containers: ContainerSpec[]): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata('Deployment', name, namespace),
    spec: { replicas: 1, template: { metadata: { labels: { app: name } }, spec: { containers: containers.map(containerOf) } } },
  };
}

export function statefulSet(name: string, namespace: string, containers: ContainerSpec[]): Obj {
  return { ...deployment(name, namespace, containers), kind: 'StatefulSet', metadata: metadata('StatefulSet', name, namespace) };
}

export function replicaSet(name: string, namespace: string, ownerDeployment: string, containers: ContainerSpec[], replicas = 1): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: metadata('ReplicaSet', name, namespace, { kind: 'Deployment', name: ownerDeployment }),
    spec: { replicas, template: { spec: { containers: containers.map(containerOf) } } },
  };
}

/** A pod; `startedAt` null leaves its container waiting (not running). */
export function pod(
  name: string,
  namespace: string,
  owner: { kind: 'ReplicaSet' | 'StatefulSet'; name: string } | null,
  containers: ContainerSpec[],
  startedAt: string | null,
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: metadata('Pod', name, namespace, owner ?? undefined),
    spec: { containers: containers.map(containerOf) },
    status: {
      phase: startedAt ? 'Running' : 'Pending',
      startTime: '2026-01-01T00:00:00Z',
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        ready: startedAt !== null,
        restartCount: 0,
        state: startedAt ? { running: { startedAt } } : { waiting: { reason: 'ContainerCreating' } },
      })),
    },
  };
}

/** A Secret, values base64 in `data`; one managedFields entry per write time (helm, then kubectl...). */
export function secret(name: string, namespace: string, data: Record<string, string>, writes: string[]): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      uid: uidOf('Secret', name),
      creationTimestamp: writes[0] ?? '2026-01-01T00:00:00Z',
      managedFields: writes.map((time, index) => ({
        manager: index === 0 ? 'helm' : 'kubectl-edit',
        operation: 'Update',
        apiVersion: 'v1',
        time,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': Object.fromEntries(Object.keys(data).map((k) => [`f:${k}`, {}])) },
      })),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export function list(items: Obj[]): Obj {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

/** Without --show-managed-fields, kubectl leaves metadata.managedFields out. */
export function withoutManagedFields<T>(object: T): T {
  return JSON.parse(JSON.stringify(object), (key, value) => (key === 'managedFields' ? undefined : value)) as T;
}

/** What the stand-in kubectl answers from: a cluster's objects by namespace, its contexts, what it refuses. */
export interface FakeCluster {
  /** The kubeconfig's current context (null: none, kubectl falls back to localhost:8080). */
  currentContext: string | null;
  /** Each context's namespace. */
  contexts: Record<string, string>;
  objects: Record<string, Obj[]>;
  /** `workloads` (the multi-kind get), or `secret/NAME`. */
  forbidden?: string[];
  /** The service account the refusals name. */
  user?: string;
}

/**
 * Writes the stand-in `kubectl` (a Node script run by this Node) into `bin`, answering from the
 * cluster in `state` (a JSON file, rewritable between runs) and recording every argv in `log`
 * (one JSON array per line).
 */
export function writeFakeKubectl(bin: string, state: string, log: string): void {
  fs.mkdirSync(bin, { recursive: true });
  const script = `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const cluster = JSON.parse(fs.readFileSync(${JSON.stringify(state)}, 'utf8'));
const fail = (text) => { process.stderr.write(text + '\\n'); process.exit(1); };
let context = null, namespace = null, output = null, showManaged = false;
const words = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--context') context = args[++i];
  else if (a.startsWith('--context=')) context = a.slice(10);
  else if (a === '-n' || a === '--namespace') namespace = args[++i];
  else if (a.startsWith('--namespace=')) namespace = a.slice(12);
  else if (a === '-o' || a === '--output') output = args[++i];
  else if (a === '--show-managed-fields') showManaged = true;
  else if (a.startsWith('-')) fail('error: unknown flag: ' + a);
  else words.push(a);
}
if (context === null) context = cluster.currentContext;
if (context === null) {
  for (let i = 0; i < 3; i++)
    process.stderr.write('E0101 00:00:00.000000   4242 memcache.go:265] "Unhandled Error" err="couldn\\'t get current server API group list: Get \\\\"http://localhost:8080/api?timeout=32s\\\\": dial tcp 127.0.0.1:8080: connect: connection refused"\\n');
  fail('The connection to the server localhost:8080 was refused - did you specify the right host or port?');
}
if (!(context in cluster.contexts)) fail('Error in configuration: context was not found for specified context: ' + context);
if (namespace === null) namespace = cluster.contexts[context];
const user = cluster.user || 'system:serviceaccount:' + namespace + ':lmnr-keys';
const forbidden = cluster.forbidden || [];
if (words[0] !== 'get' || output !== 'json') fail('error: the stand-in kubectl only answers get -o json');
const strip = (o) => showManaged ? o : JSON.parse(JSON.stringify(o), (k, v) => (k === 'managedFields' ? undefined : v));
const objects = cluster.objects[namespace] || [];
const plural = { Deployment: 'deployments', StatefulSet: 'statefulsets', ReplicaSet: 'replicasets', Pod: 'pods', Secret: 'secrets' };
const group = { deployments: 'apps', statefulsets: 'apps', replicasets: 'apps', pods: '', secrets: '' };
if (words.length === 2) {
  const kinds = words[1].split(',');
  if (forbidden.includes('workloads')) {
    for (const kind of kinds)
      process.stderr.write('Error from server (Forbidden): ' + kind + (group[kind] ? '.' + group[kind] : '') + ' is forbidden: User "' + user + '" cannot list resource "' + kind + '" in API group "' + group[kind] + '" in the namespace "' + namespace + '"\\n');
    process.exit(1);
  }
  const items = objects.filter((o) => kinds.includes(plural[o.kind]));
  process.stdout.write(JSON.stringify({ apiVersion: 'v1', items: items.map(strip), kind: 'List', metadata: { resourceVersion: '' } }, null, 4) + '\\n');
  process.exit(0);
}
if (words.length === 3 && words[1] === 'secret') {
  const name = words[2];
  if (forbidden.includes('secret/' + name))
    fail('Error from server (Forbidden): secrets "' + name + '" is forbidden: User "' + user + '" cannot get resource "secrets" in API group "" in the namespace "' + namespace + '"');
  const found = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
  if (!found) fail('Error from server (NotFound): secrets "' + name + '" not found');
  process.stdout.write(JSON.stringify(strip(found), null, 4) + '\\n');
  process.exit(0);
}
fail('error: the stand-in kubectl does not know: ' + args.join(' '));
`;
  fs.writeFileSync(path.join(bin, 'kubectl'), script, { mode: 0o755 });
}
