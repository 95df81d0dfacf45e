/**
 * Reads Kubernetes objects — what `helm template` or `kubectl get ... -o yaml` prints (multi-document
 * YAML or a JSON/YAML `List`), or what `--kubectl` fetched — and resolves each Laminar container's
 * key variables as Kubernetes does: an `env` entry (the last one of that name) wins over `envFrom`;
 * among `envFrom` sources the later wins; Secrets' `data` is base64, `stringData` is not (and wins).
 * A Secret that is not among the objects, that kubectl could not read, or that a
 * SecretProviderClass fills from AWS Secrets Manager or Vault, cannot be read: that is said, never
 * guessed. One row per workload: a ReplicaSet owned by a Deployment among the objects, and a pod
 * owned by one of them (or by a StatefulSet), belong to it. Running pods are reported with the
 * Secret each key comes from and its last write (`metadata.managedFields`), for stale_pod.
 */
import { KEY_VARIABLES, LAMINAR_SERVICES, OPERATION_MODE, recogniseService, withOperationMode, type LaminarService } from './services.js';
import type { DeploymentGroup, DeploymentNote, PodKeySource, ReaderResult, ReceivedVariable, SourceRef } from './types.js';
import { parseYamlStream, plain } from './yaml-file.js';

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj => value !== null && typeof value === 'object' && !Array.isArray(value);
const get = (value: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((current, key) => (isObject(current) ? current[key] : undefined), value);
const text = (value: unknown): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
/** A time as kubectl prints it (YAML 1.1 readers may have made it a Date). */
const timeText = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : text(value));
const listOf = (value: unknown): Obj[] => (Array.isArray(value) ? value.filter(isObject) : []);

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job']);

interface KeyValueObject {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  namespace: string | null;
  values: Map<string, string>;
  /** The newest metadata.managedFields[].time: the object's last write; null when none is given. */
  writtenAt: string | null;
}

interface ProviderSecret {
  secretName: string;
  provider: string;
  keys: Set<string>;
}

/** Objects in a stream, with Lists flattened. */
function flatten(objects: unknown[]): Obj[] {
  const out: Obj[] = [];
  for (const object of objects) {
    if (!isObject(object)) continue;
    if (Array.isArray(object.items) && typeof object.kind === 'string' && object.kind.endsWith('List')) out.push(...flatten(object.items));
    else out.push(object);
  }
  return out;
}

function providerLabel(provider: string): string {
  if (provider === 'aws') return 'AWS Secrets Manager';
  if (provider === 'vault') return 'Vault';
  return `the ${provider} secrets provider`;
}

/** The newest `time` among an object's managedFields (RFC 3339 compares by parsing); null without any. */
export function lastWrite(object: unknown): string | null {
  let newest: string | null = null;
  for (const entry of listOf(get(object, 'metadata', 'managedFields'))) {
    const time = timeText(entry.time);
    if (time === null || Number.isNaN(Date.parse(time))) continue;
    if (newest === null || Date.parse(time) > Date.parse(newest)) newest = time;
  }
  return newest;
}

type Resolution =
  | { kind: 'value'; value: string; from: string; secret?: KeyValueObject }
  | { kind: 'none'; from: string }
  | { kind: 'unreadable'; from: string; unreadable: NonNullable<ReceivedVariable['unreadable']> };

export interface KubernetesObjectsOptions {
  group: Extract<DeploymentGroup, 'manifests' | 'kubernetes'>;
  source: SourceRef;
  /** Secrets kubectl could not read (forbidden, not found): name -> why, said for each service that reads one. */
  unreadableSecrets?: ReadonlyMap<string, string>;
  /** kubectl flags every command a fix gives must carry (`--context CTX`), with a leading space. */
  kubectlFlags?: string;
  /** Added to the note that no Laminar workload was found. */
  nothingFoundHint?: string;
}

export function readManifests(input: string, label: string): ReaderResult {
  const docs = parseYamlStream(input, label, 'pass what `helm template` or `kubectl get deploy,statefulset,secret -o yaml` prints');
  return readKubernetesObjects(
    docs.map((doc) => plain(doc, doc.doc.contents)),
    { group: 'manifests', source: { kind: 'manifests', path: label } },
  );
}

/** A workload-kind object, the Laminar service it runs and that service's container in its pod spec. */
interface LaminarWorkload {
  object: Obj;
  kind: string;
  name: string;
  namespace: string | null;
  service: LaminarService;
  container: Obj;
  containerCount: number;
}

function podSpecOf(object: Obj, kind: string): unknown {
  return kind === 'Pod' ? get(object, 'spec') : get(object, 'spec', 'template', 'spec');
}

/** The Laminar service a workload-kind object runs, and its container (others are sidecars); null when none. */
function laminarWorkload(object: Obj, ownerHint?: LaminarWorkload): LaminarWorkload | null {
  const kind = text(object.kind);
  const name = text(get(object, 'metadata', 'name'));
  if (!kind || !name || !WORKLOAD_KINDS.has(kind)) return null;
  const namespace = text(get(object, 'metadata', 'namespace'));
  const containers = listOf(get(podSpecOf(object, kind), 'containers'));
  const found = (service: LaminarService, container: Obj | undefined) =>
    container ? { object, kind, name, namespace, service, container, containerCount: containers.length } : null;
  // A pod or ReplicaSet of a Laminar workload runs what its owner runs, in the container of the same name.
  if (ownerHint) return found(ownerHint.service, containers.find((c) => c.name === ownerHint.container.name) ?? containers[0]);
  const byName = recogniseService({ workload: name });
  if (byName) {
    const own = containers.find(
      (c) => byName.containerNames.includes(String(c.name)) || recogniseService({ image: text(c.image) }) !== undefined,
    );
    return found(byName, own ?? containers[0]);
  }
  for (const container of containers) {
    const service = recogniseService({ image: text(container.image) });
    if (service) return found(service, container);
  }
  return null;
}

/** Objects by kind and name, and each object's controlling owner among them (ownerReferences). */
function ownership(objects: Obj[]) {
  const byKindName = new Map<string, Obj[]>();
  for (const object of objects) {
    const key = `${text(object.kind)}/${text(get(object, 'metadata', 'name'))}`;
    byKindName.set(key, [...(byKindName.get(key) ?? []), object]);
  }
  const ownerOf = (object: Obj): Obj | null => {
    const references = listOf(get(object, 'metadata', 'ownerReferences'));
    const reference = references.find((r) => r.controller === true) ?? references[0];
    if (!reference) return null;
    const namespace = text(get(object, 'metadata', 'namespace'));
    const candidates = byKindName.get(`${text(reference.kind)}/${text(reference.name)}`) ?? [];
    const uid = text(reference.uid);
    return (
      candidates.find((c) => {
        const theirs = text(get(c, 'metadata', 'namespace'));
        const theirUid = text(get(c, 'metadata', 'uid'));
        return (theirs === namespace || theirs === null || namespace === null) && (uid === null || theirUid === null || uid === theirUid);
      }) ?? null
    );
  };
  /** The outermost owner among the objects (a pod -> its ReplicaSet -> its Deployment); the object itself when none. */
  const rootOf = (object: Obj): Obj => {
    let current = object;
    for (let depth = 0; depth < 4; depth++) {
      const owner = ownerOf(current);
      if (!owner || !WORKLOAD_KINDS.has(String(owner.kind))) break;
      current = owner;
    }
    return current;
  };
  return { rootOf };
}

/**
 * The Secrets the Laminar workloads among these objects take their keys from: every `envFrom`
 * secretRef, and the `secretKeyRef` of the variables check-deployment reads. What `--kubectl` fetches.
 */
export function referencedSecrets(input: unknown[]): string[] {
  const objects = flatten(input);
  const wanted = new Set<string>([...KEY_VARIABLES, OPERATION_MODE]);
  const names = new Set<string>();
  for (const object of objects) {
    const workload = laminarWorkload(object);
    if (!workload) continue;
    for (const source of listOf(workload.container.envFrom)) {
      const name = text(get(source, 'secretRef', 'name'));
      if (name) names.add(name);
    }
    for (const entry of listOf(workload.container.env)) {
      const name = text(get(entry, 'valueFrom', 'secretKeyRef', 'name'));
      if (name && wanted.has(String(entry.name))) names.add(name);
    }
  }
  return [...names].sort();
}

function restartCommand(kind: string, name: string, namespace: string | null, flags: string): string {
  const target = `${kind === 'Pod' ? 'pod' : kind.toLowerCase()}/${name}${namespace ? ` -n ${namespace}` : ''}${flags}`;
  return kind === 'Pod' || kind === 'Job' || kind === 'ReplicaSet'
    ? `recreate ${target} (a running pod keeps the environment it started with)`
    : `kubectl rollout restart ${target}`;
}

export function readKubernetesObjects(input: unknown[], options: KubernetesObjectsOptions): ReaderResult {
  const { group } = options;
  const flags = options.kubectlFlags ?? '';
  const label = options.source.path;
  const objects = flatten(input);
  const keyValues: KeyValueObject[] = [];
  const providerSecrets: ProviderSecret[] = [];
  for (const object of objects) {
    const name = text(get(object, 'metadata', 'name'));
    const namespace = text(get(object, 'metadata', 'namespace'));
    if (!name) continue;
    if (object.kind === 'Secret' || object.kind === 'ConfigMap') {
      const values = new Map<string, string>();
      const data = get(object, 'data');
      if (isObject(data)) {
        for (const [key, value] of Object.entries(data)) {
          const raw = text(value);
          if (raw !== null) values.set(key, object.kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw);
        }
      }
      const stringData = get(object, 'stringData');
      if (object.kind === 'Secret' && isObject(stringData)) {
        for (const [key, value] of Object.entries(stringData)) {
          const raw = text(value);
          if (raw !== null) values.set(key, raw);
        }
      }
      keyValues.push({ kind: object.kind, name, namespace, values, writtenAt: lastWrite(object) });
    }
    if (object.kind === 'SecretProviderClass') {
      const provider = text(get(object, 'spec', 'provider')) ?? 'external';
      const secretObjects = get(object, 'spec', 'secretObjects');
      for (const secretObject of Array.isArray(secretObjects) ? secretObjects : []) {
        const secretName = text(get(secretObject, 'secretName'));
        const data = get(secretObject, 'data');
        if (!secretName) continue;
        const keys = new Set((Array.isArray(data) ? data : []).map((d) => text(get(d, 'key'))).filter((k): k is string => k !== null));
        providerSecrets.push({ secretName, provider, keys });
      }
    }
  }
  const find = (kind: 'Secret' | 'ConfigMap', name: string, namespace: string | null) =>
    keyValues.find((o) => o.kind === kind && o.name === name && (o.namespace === namespace || o.namespace === null || namespace === null));

  /** Where `variable` comes from in this container of that workload, as Kubernetes resolves it. */
  const resolveVariable = (variable: string, container: Obj, workload: string, namespace: string | null): Resolution => {
    const notReadable = (refKind: 'Secret' | 'ConfigMap', refName: string, from: string, detail: string): Resolution => {
      const why = refKind === 'Secret' ? options.unreadableSecrets?.get(refName) : undefined;
      return { kind: 'unreadable', from, unreadable: { kind: 'not_given', detail: why ? `${from}: ${why}` : detail } };
    };
    const entry = listOf(container.env)
      .filter((e) => e.name === variable)
      .pop();
    if (entry) {
      const ref = get(entry, 'valueFrom', 'secretKeyRef') ?? get(entry, 'valueFrom', 'configMapKeyRef');
      if (!get(entry, 'valueFrom')) return { kind: 'value', value: text(entry.value) ?? '', from: `env of ${workload}` };
      if (!isObject(ref)) {
        return {
          kind: 'unreadable',
          from: `env of ${workload}`,
          unreadable: { kind: 'not_given', detail: `env of ${workload} takes ${variable} from a valueFrom this command cannot read` },
        };
      }
      const refKind = get(entry, 'valueFrom', 'secretKeyRef') ? 'Secret' : 'ConfigMap';
      const refName = String(ref.name);
      const refKey = String(ref.key);
      const from = `${refKind} ${refName} key ${refKey}`;
      const object = find(refKind, refName, namespace);
      if (object) {
        const value = object.values.get(refKey);
        if (value !== undefined) return { kind: 'value', value, from, ...(refKind === 'Secret' ? { secret: object } : {}) };
        return {
          kind: 'none',
          from: `${from}: that key does not exist${ref.optional === true ? ' (optional)' : ' (the pod cannot start: CreateContainerConfigError)'}`,
        };
      }
      const provided = refKind === 'Secret' ? providerSecrets.find((p) => p.secretName === refName) : undefined;
      if (provided)
        return {
          kind: 'unreadable',
          from,
          unreadable: {
            kind: 'external',
            detail: `${from} is filled from ${providerLabel(provided.provider)}, which this command cannot read`,
          },
        };
      return notReadable(
        refKind,
        refName,
        from,
        `${from} is not among the objects given; add it (kubectl get ${refKind.toLowerCase()} ${refName} -o yaml)`,
      );
    }
    for (const source of [...listOf(container.envFrom)].reverse()) {
      const prefix = text(source.prefix) ?? '';
      if (!variable.startsWith(prefix)) continue;
      const key = variable.slice(prefix.length);
      const ref = get(source, 'secretRef') ?? get(source, 'configMapRef');
      if (!isObject(ref)) continue;
      const refKind = get(source, 'secretRef') ? 'Secret' : 'ConfigMap';
      const refName = String(ref.name);
      const object = find(refKind, refName, namespace);
      if (object) {
        const value = object.values.get(key);
        if (value !== undefined)
          return { kind: 'value', value, from: `${refKind} ${refName} key ${key}`, ...(refKind === 'Secret' ? { secret: object } : {}) };
        continue;
      }
      const provided = refKind === 'Secret' ? providerSecrets.find((p) => p.secretName === refName) : undefined;
      if (provided) {
        if (!provided.keys.has(key)) continue;
        return {
          kind: 'unreadable',
          from: `${refKind} ${refName} key ${key}`,
          unreadable: {
            kind: 'external',
            detail:
              `${variable} comes from ${providerLabel(provided.provider)} (Secret ${refName}, ` +
              `synced by a SecretProviderClass), which this command cannot read`,
          },
        };
      }
      return notReadable(
        refKind,
        refName,
        `envFrom ${refKind} ${refName}`,
        `${workload} takes its environment from ${refKind} ${refName}, which is ` +
          `not among the objects given; add it (kubectl get ${refKind.toLowerCase()} ` +
          `${refName} -o yaml)`,
      );
    }
    return { kind: 'none', from: `neither env nor envFrom of ${workload}` };
  };
  const serviceOf = (workload: LaminarWorkload, description: string) => {
    const mode = resolveVariable(OPERATION_MODE, workload.container, description, workload.namespace);
    return withOperationMode(workload.service, mode.kind === 'value' ? mode.value : null);
  };

  const { rootOf } = ownership(objects);
  const workloads = new Map<Obj, LaminarWorkload>();
  for (const object of objects) {
    const root = rootOf(object);
    if (root !== object) continue;
    const workload = laminarWorkload(object);
    if (workload) workloads.set(object, workload);
  }

  const received: ReceivedVariable[] = [];
  const notes: DeploymentNote[] = [];
  for (const workload of workloads.values()) {
    const { kind, name, namespace, container } = workload;
    const description = `${kind} ${name}`;
    const restart = restartCommand(kind, name, namespace, flags);
    const service = serviceOf(workload, description);
    for (const variable of service.needs) {
      const resolution = resolveVariable(variable, container, description, namespace);
      const base = {
        group,
        role: service.role,
        service: name,
        variable,
        restart,
        setIn: resolution.kind === 'none' ? `the env or Secret of ${description}` : resolution.from,
      };
      if (resolution.kind === 'value') received.push({ ...base, value: resolution.value, from: resolution.from });
      else if (resolution.kind === 'none') received.push({ ...base, value: null, from: resolution.from });
      else received.push({ ...base, value: null, from: resolution.from, unreadable: resolution.unreadable });
    }
  }

  // Running pods of those workloads: where each key comes from in the pod's own spec, and since when it runs.
  const pods: PodKeySource[] = [];
  for (const object of objects) {
    if (object.kind !== 'Pod' || get(object, 'metadata', 'deletionTimestamp')) continue;
    const owner = workloads.get(rootOf(object));
    if (!owner) continue;
    const pod = owner.object === object ? owner : laminarWorkload(object, owner);
    if (!pod) continue;
    const containerName = String(pod.container.name);
    const status = listOf(get(object, 'status', 'containerStatuses')).find((s) => s.name === containerName);
    const startedAt = timeText(get(status, 'state', 'running', 'startedAt'));
    if (startedAt === null || Number.isNaN(Date.parse(startedAt))) continue;
    const description = `Pod ${pod.name}`;
    const service = serviceOf(pod, description);
    for (const variable of service.needs) {
      const resolution = resolveVariable(variable, pod.container, description, pod.namespace);
      if (resolution.kind !== 'value' || !resolution.secret) continue;
      const where = `${pod.namespace ? ` -n ${pod.namespace}` : ''}${pod.containerCount > 1 ? ` -c ${containerName}` : ''}${flags}`;
      pods.push({
        group,
        service: owner.name,
        role: service.role,
        workload: `${owner.kind} ${owner.name}`,
        pod: pod.name,
        container: containerName,
        startedAt,
        variable,
        secret: resolution.secret.name,
        value: resolution.value,
        secretWrittenAt: resolution.secret.writtenAt,
        confirm: `kubectl exec ${pod.name}${where} -- printenv ${variable} | lmnr-keys fingerprint`,
        restart: restartCommand(owner.kind, owner.name, owner.namespace, flags),
      });
    }
  }

  if (received.length === 0) {
    notes.push({
      kind: 'no_laminar_service',
      service: null,
      variable: null,
      detail:
        `no Laminar workload (${LAMINAR_SERVICES.flatMap((s) => s.workloads).join(', ')}) in ${label}` +
        (options.nothingFoundHint ? `: ${options.nothingFoundHint}` : ''),
    });
  }
  return { received, sources: [options.source], notes, ...(pods.length > 0 ? { pods } : {}) };
}
