/**
 * The plain list every deployment reader returns: "service S receives variable V with this value
 * from this place". Readers only report facts; judging them is src/core/check-deployment.ts.
 * Values are keys: they stay in memory, are never rendered, and only their fingerprints leave.
 */
import type { SecretVariable } from '../stores/stores.js';
import type { LaminarRole } from './services.js';

/** One deployment whose services must agree with each other. */
export type DeploymentGroup = 'compose' | 'containers' | 'helm-values' | 'manifests' | 'kubernetes';

export interface ShellShadow {
  /** The variable looked up in the shell. */
  name: string;
  shellValue: string;
  /** What the file the shell shadows holds for it (undefined: nothing). */
  fileValue: string | undefined;
  /** That file, for messages (`.env`, `frontend/.env.local`). */
  fileLabel: string;
}

export interface ReceivedVariable {
  group: DeploymentGroup;
  role: LaminarRole;
  /** The service as its source names it: compose service (a container's `com.docker.compose.service` label), workload. */
  service: string;
  /** The running container this was read from (containers only): `lmnr-frontend-1`. */
  container?: string;
  variable: SecretVariable;
  /** What the service gets; null when it does not receive the variable at all. */
  value: string | null;
  /** Where the value comes from, for humans (never the value itself). */
  from: string;
  /** Where the operator changes this value (a file, a values key), for fixes. */
  setIn: string;
  /** The command that applies a configuration change to this service. */
  restart: string;
  /** The compose service a container was created for (containers) or that this is (compose). */
  composeService?: string;
  /** Compose refuses to start this service: its message (`${VAR:?message}` unset). */
  refusal?: string;
  /** The value lives where this command cannot read it: say so, never guess. */
  unreadable?: { kind: 'external' | 'not_given'; detail: string };
  /** Variables the value was taken from the shell for, shadowing a file. */
  shellShadows?: ShellShadow[];
}

export interface SourceRef {
  kind: 'compose' | 'dotenv' | 'env_file' | 'service-env' | 'containers' | 'helm-values' | 'manifests' | 'kubernetes';
  path: string;
}

export interface DeploymentNote {
  kind: string;
  service: string | null;
  variable: string | null;
  detail: string;
}

/**
 * A running pod's Laminar container, and the Secret one of its key variables comes from, with that
 * Secret's last write: the facts the stale_pod judgement compares (Kubernetes reads a Secret into
 * the environment when the container starts, and never again).
 */
export interface PodKeySource {
  group: DeploymentGroup;
  /** The workload row the pod belongs to (its Deployment or StatefulSet, else the pod itself). */
  service: string;
  role: LaminarRole;
  /** That workload for humans: `Deployment laminar-frontend`. */
  workload: string;
  pod: string;
  container: string;
  /** `status.containerStatuses[].state.running.startedAt` of that container (RFC 3339). */
  startedAt: string;
  variable: SecretVariable;
  secret: string;
  /** What the Secret holds for it now (stays in memory; only its fingerprint leaves); null when it holds none. */
  value: string | null;
  /** The newest `metadata.managedFields[].time` of the Secret; null when the input carries no managedFields. */
  secretWrittenAt: string | null;
  /** `kubectl exec POD ... -- printenv VARIABLE | lmnr-keys fingerprint`: what the container really holds. */
  confirm: string;
  /** The command that recreates the pod (the owner's rollout restart). */
  restart: string;
}

export interface ReaderResult {
  received: ReceivedVariable[];
  sources: SourceRef[];
  notes: DeploymentNote[];
  /** Running pods and where their keys come from (Kubernetes objects that include pods only). */
  pods?: PodKeySource[];
}

export const emptyResult = (): ReaderResult => ({ received: [], sources: [], notes: [] });

/** File access the readers need; tests pass the real one on temporary folders. */
export interface FileAccess {
  /** Throws the Node error (ENOENT, EACCES...) when it cannot read. */
  readText: (absolutePath: string) => string;
  isFile: (absolutePath: string) => boolean;
}
