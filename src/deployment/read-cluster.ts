/**
 * check-deployment --kubectl: asks the cluster with kubectl (the operator's kubeconfig, context and
 * RBAC; no client library), then reads the objects as --manifests does (read-manifests.ts):
 * `get deployments,statefulsets,replicasets,pods -o json --show-managed-fields` (kubectl leaves
 * managedFields out unless asked), then `get secret NAME -o json --show-managed-fields` for each
 * Secret the Laminar workloads take their keys from. Secret data is decoded in memory for
 * fingerprints only. No kubectl, no context or a forbidden workload list ends the run (ConfigError);
 * a Secret that cannot be read is said for the services that read it, and the run goes on.
 */
import { ConfigError } from '../errors.js';
import { readKubernetesObjects, referencedSecrets } from './read-manifests.js';
import type { ExternalCommandResult, RunExternalCommand } from './external-command.js';
import type { ReaderResult } from './types.js';

export type KubectlResult = ExternalCommandResult;

/** Runs kubectl with these arguments (the environment, KUBECONFIG included, is inherited). */
export type RunKubectl = RunExternalCommand;

export interface ClusterTarget {
  /** -n/--namespace; null: the context's namespace. */
  namespace: string | null;
  /** --context; null: the current context. */
  context: string | null;
}

export const WORKLOAD_RESOURCES = 'deployments,statefulsets,replicasets,pods';

/** The line of kubectl's stderr that says what went wrong (not klog's `E0102 ...` lines), bounded. */
export function kubectlMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const said = lines.filter((line) => !/^[EWI]\d{4} /.test(line));
  return (said[0] ?? lines[lines.length - 1] ?? '').slice(0, 300);
}

const NO_CONTEXT =
  /context was not found for specified context|current-context is not set|no configuration has been provided|connection to the server localhost:8080 was refused/i;

function parseJson(stdout: string, what: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch (error) {
    throw new ConfigError(
      `kubectl ${what} did not print JSON (${(error as Error).message.split('\n')[0]})`,
      'check that `kubectl get pods -o json` works in this shell',
    );
  }
}

export async function readCluster(runKubectl: RunKubectl, target: ClusterTarget): Promise<ReaderResult> {
  const scope = [...(target.context ? ['--context', target.context] : []), ...(target.namespace ? ['-n', target.namespace] : [])];
  const listed = await runKubectl([...scope, 'get', WORKLOAD_RESOURCES, '-o', 'json', '--show-managed-fields']).catch(
    (error: Error): KubectlResult => ({ exitCode: null, stdout: '', stderr: error.message }),
  );
  if (listed.notFound) {
    throw new ConfigError(
      'kubectl is not on PATH: --kubectl asks the cluster through it',
      'install kubectl (or add it to PATH), or save `kubectl get deploy,sts,rs,pods,secrets -o yaml --show-managed-fields` ' +
        'where it runs and pass that file with --manifests',
    );
  }
  if (listed.exitCode !== 0) {
    const said = kubectlMessage(listed.stderr) || `exit ${listed.exitCode}`;
    if (NO_CONTEXT.test(listed.stderr)) {
      throw new ConfigError(
        target.context ? `kubectl has no context ${target.context} (${said})` : `kubectl has no current context to ask (${said})`,
        'pass --context NAME (kubectl config get-contexts lists them), or choose one with kubectl config use-context NAME',
      );
    }
    if (/\(Forbidden\)/.test(listed.stderr)) {
      throw new ConfigError(
        `kubectl may not list ${WORKLOAD_RESOURCES}${target.namespace ? ` in namespace ${target.namespace}` : ''} (${said})`,
        'grant get and list on deployments, statefulsets, replicasets (apps) and pods (see docs/operations.md, RBAC for --kubectl), ' +
          'or pass -n for the namespace Laminar runs in',
      );
    }
    throw new ConfigError(
      `kubectl get ${WORKLOAD_RESOURCES} failed (${said})`,
      `check that kubectl ${[...scope, 'get', 'pods'].join(' ')} works in this shell`,
    );
  }
  const list = parseJson(listed.stdout, `get ${WORKLOAD_RESOURCES}`);
  const items = (list as { items?: unknown }).items;
  const objects: unknown[] = Array.isArray(items) ? [...items] : [list];

  const unreadableSecrets = new Map<string, string>();
  for (const name of referencedSecrets(objects)) {
    const got = await runKubectl([...scope, 'get', 'secret', name, '-o', 'json', '--show-managed-fields']).catch(
      (error: Error): KubectlResult => ({ exitCode: null, stdout: '', stderr: error.message }),
    );
    if (got.exitCode === 0) {
      try {
        objects.push(JSON.parse(got.stdout));
        continue;
      } catch {
        unreadableSecrets.set(name, 'kubectl get secret did not print JSON');
        continue;
      }
    }
    const said = kubectlMessage(got.stderr) || `exit ${got.exitCode}`;
    unreadableSecrets.set(
      name,
      /\(Forbidden\)/.test(got.stderr)
        ? `kubectl may not read it (${said}); grant get on secret ${name} to read it`
        : /\(NotFound\)/.test(got.stderr)
          ? `kubectl did not find it (${said})`
          : `kubectl could not read it (${said})`,
    );
  }

  const namespace =
    target.namespace ??
    objects
      .map((o) => (o as { metadata?: { namespace?: unknown } })?.metadata?.namespace)
      .find((n): n is string => typeof n === 'string') ??
    null;
  const path = `kubectl (${target.context ? `context ${target.context}` : 'current context'}, ${namespace ? `namespace ${namespace}` : "the context's namespace"})`;
  return readKubernetesObjects(objects, {
    group: 'kubernetes',
    source: { kind: 'kubernetes', path },
    unreadableSecrets,
    ...(target.context ? { kubectlFlags: ` --context ${target.context}` } : {}),
    nothingFoundHint: target.namespace ? 'is Laminar in another namespace?' : 'pass -n NAMESPACE if Laminar runs in another namespace',
  });
}
