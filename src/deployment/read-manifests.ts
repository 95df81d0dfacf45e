/**
 * Reads rendered Kubernetes objects (what `helm template` or `kubectl get deploy,statefulset,secret
 * -o yaml` prints: multi-document YAML or a JSON/YAML `List`) and resolves each Laminar container's
 * key variables as Kubernetes does: an `env` entry (the last one of that name) wins over `envFrom`;
 * among `envFrom` sources the later wins; Secrets' `data` is base64, `stringData` is not (and wins).
 * A Secret that is not among the objects, or that a SecretProviderClass fills from AWS Secrets
 * Manager or Vault, cannot be read: that is said, never guessed.
 */
import { LAMINAR_SERVICES, OPERATION_MODE, recogniseService, withOperationMode, type LaminarService } from './services.js';
import type { DeploymentNote, ReaderResult, ReceivedVariable } from './types.js';
import { parseYamlStream, plain } from './yaml-file.js';

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj => value !== null && typeof value === 'object' && !Array.isArray(value);
const get = (value: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((current, key) => (isObject(current) ? current[key] : undefined), value);
const text = (value: unknown): string | null =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job']);

interface KeyValueObject {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  namespace: string | null;
  values: Map<string, string>;
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

type Resolution =
  | { kind: 'value'; value: string; from: string }
  | { kind: 'none'; from: string }
  | { kind: 'unreadable'; from: string; unreadable: NonNullable<ReceivedVariable['unreadable']> };

export function readManifests(input: string, label: string): ReaderResult {
  const docs = parseYamlStream(input, label, 'pass what `helm template` or `kubectl get deploy,statefulset,secret -o yaml` prints');
  const objects = flatten(docs.map((doc) => plain(doc, doc.doc.contents)));
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
      keyValues.push({ kind: object.kind, name, namespace, values });
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

  const received: ReceivedVariable[] = [];
  const notes: DeploymentNote[] = [];
  for (const object of objects) {
    const kind = text(object.kind);
    const name = text(get(object, 'metadata', 'name'));
    if (!kind || !name || !WORKLOAD_KINDS.has(kind)) continue;
    const namespace = text(get(object, 'metadata', 'namespace'));
    const podSpec = kind === 'Pod' ? get(object, 'spec') : get(object, 'spec', 'template', 'spec');
    const containers = (Array.isArray(get(podSpec, 'containers')) ? (get(podSpec, 'containers') as unknown[]) : []).filter(isObject);
    const byName = recogniseService({ workload: name });
    const pick = (): { service: LaminarService; container: Obj } | null => {
      if (byName) {
        const own = containers.find(
          (c) => byName.containerNames.includes(String(c.name)) || recogniseService({ image: text(c.image) }) !== undefined,
        );
        const container = own ?? containers[0];
        return container ? { service: byName, container } : null;
      }
      for (const container of containers) {
        const service = recogniseService({ image: text(container.image) });
        if (service) return { service, container };
      }
      return null;
    };
    const picked = pick();
    if (!picked) continue;
    const { container } = picked;
    const workload = `${kind} ${name}`;
    const restartTarget = kind === 'Pod' ? `pod/${name}` : `${kind.toLowerCase()}/${name}`;
    const restart =
      kind === 'Pod' || kind === 'Job' || kind === 'ReplicaSet'
        ? `recreate ${restartTarget}${namespace ? ` -n ${namespace}` : ''} (a running pod keeps the environment it started with)`
        : `kubectl rollout restart ${restartTarget}${namespace ? ` -n ${namespace}` : ''}`;

    const resolveVariable = (variable: string): Resolution => {
      const envList = (Array.isArray(container.env) ? container.env : []).filter(isObject);
      const entry = envList.filter((e) => e.name === variable).pop();
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
          if (value !== undefined) return { kind: 'value', value, from };
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
        return {
          kind: 'unreadable',
          from,
          unreadable: {
            kind: 'not_given',
            detail: `${from} is not among the objects given; add it (kubectl get ${refKind.toLowerCase()} ${refName} -o yaml)`,
          },
        };
      }
      const envFrom = (Array.isArray(container.envFrom) ? container.envFrom : []).filter(isObject);
      for (const source of [...envFrom].reverse()) {
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
          if (value !== undefined) return { kind: 'value', value, from: `${refKind} ${refName} key ${key}` };
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
        return {
          kind: 'unreadable',
          from: `envFrom ${refKind} ${refName}`,
          unreadable: {
            kind: 'not_given',
            detail:
              `${workload} takes its environment from ${refKind} ${refName}, which is ` +
              `not among the objects given; add it (kubectl get ${refKind.toLowerCase()} ` +
              `${refName} -o yaml)`,
          },
        };
      }
      return { kind: 'none', from: `neither env nor envFrom of ${workload}` };
    };

    const mode = resolveVariable(OPERATION_MODE);
    const service = withOperationMode(picked.service, mode.kind === 'value' ? mode.value : null);
    for (const variable of service.needs) {
      const resolution = resolveVariable(variable);
      const base = {
        group: 'manifests' as const,
        role: service.role,
        service: name,
        variable,
        restart,
        setIn: resolution.kind === 'none' ? `the env or Secret of ${workload}` : resolution.from,
      };
      if (resolution.kind === 'value') received.push({ ...base, value: resolution.value, from: resolution.from });
      else if (resolution.kind === 'none') received.push({ ...base, value: null, from: resolution.from });
      else received.push({ ...base, value: null, from: resolution.from, unreadable: resolution.unreadable });
    }
  }
  if (received.length === 0) {
    notes.push({
      kind: 'no_laminar_service',
      service: null,
      variable: null,
      detail: `no Laminar workload (${LAMINAR_SERVICES.flatMap((s) => s.workloads).join(', ')}) in ${label}`,
    });
  }
  return { received, sources: [{ kind: 'manifests', path: label }], notes };
}
