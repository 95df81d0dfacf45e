/**
 * Which Laminar services need which key, and how to recognise them in each kind of deployment:
 * the one declarative list check-deployment works from (like STORES for the database). Adding a
 * service or a variable means editing this list, nothing else. See shared/LAMINAR.md, "Which
 * services read which key, and how deployments deliver them".
 */
import type { SecretVariable, StoreName } from '../stores/stores.js';

export type LaminarRole = 'frontend' | 'app-server' | 'app-server-consumer';

export interface LaminarService {
  role: LaminarRole;
  /** What it does with the keys, for humans. */
  describes: string;
  /** The key variables it seals or opens stored values with. */
  needs: readonly SecretVariable[];
  /**
   * Variables in `needs` it uses only for values of these stores: their absence is a finding when
   * one of these stores holds a sealed value (or the database was not checked), a note otherwise.
   */
  onlyFor?: Partial<Record<SecretVariable, { stores: readonly StoreName[]; why: string }>>;
  /** Service names in Laminar's compose files (and `--service NAME=...`). */
  composeNames: readonly string[];
  /** Image repositories, without tag or digest (the Helm chart runs the `-ee` builds). */
  images: readonly string[];
  /** Last folder of a compose `build:` context in Laminar's repository. */
  buildContexts: readonly string[];
  /** Workload names the Helm chart gives it (Deployment metadata.name). */
  workloads: readonly string[];
  /** Its section in the chart's values (enabled, extraEnv). */
  helmValuesKey: string;
  /** The container's name inside the workload's pod template (other containers are sidecars). */
  containerNames: readonly string[];
}

/** The variables check-deployment looks at, in display order. */
export const KEY_VARIABLES: readonly SecretVariable[] = ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'];

export const LAMINAR_SERVICES: readonly LaminarService[] = [
  {
    role: 'frontend',
    describes: 'the web app: seals and opens provider keys (AEAD_SECRET_KEY) and Slack tokens (SLACK_ENCRYPTION_KEY)',
    needs: ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'],
    composeNames: ['frontend'],
    images: ['ghcr.io/lmnr-ai/frontend', 'ghcr.io/lmnr-ai/frontend-ee', 'ghcr.io/lmnr-ai/frontend-ee-basepath'],
    buildContexts: ['frontend'],
    workloads: ['laminar-frontend'],
    helmValuesKey: 'frontend',
    containerNames: ['frontend'],
  },
  {
    role: 'app-server',
    describes:
      'the Rust server: opens hybrid-deployment secrets (AEAD_SECRET_KEY) and Slack tokens for notifications (SLACK_ENCRYPTION_KEY)',
    needs: ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'],
    composeNames: ['app-server'],
    images: ['ghcr.io/lmnr-ai/app-server', 'ghcr.io/lmnr-ai/app-server-ee'],
    buildContexts: ['app-server'],
    workloads: ['laminar-app-server'],
    helmValuesKey: 'appServer',
    containerNames: ['app-server'],
  },
  {
    role: 'app-server-consumer',
    describes:
      "the app-server in consumer mode (the chart's laminar-app-server-consumer, or OPERATION_MODE=consumer): opens Slack " +
      "tokens to send notifications (SLACK_ENCRYPTION_KEY) and a workspace data plane's URL and key to export spans (AEAD_SECRET_KEY)",
    needs: ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'],
    onlyFor: {
      AEAD_SECRET_KEY: {
        stores: ['workspace_deployments.private_key', 'workspace_deployments.data_plane_url'],
        why: "it opens a workspace data plane's URL and key with it to export spans (DataPlaneSpanHandler)",
      },
    },
    composeNames: ['app-server-consumer'],
    images: [],
    buildContexts: [],
    workloads: ['laminar-app-server-consumer'],
    helmValuesKey: 'appServerConsumer',
    containerNames: ['app-server-consumer'],
  },
];

/**
 * The label lmnr-keys's own compose service carries (compose.yaml at this repository's root, an
 * overlay on Laminar's project). It receives AEAD_SECRET_KEY like a Laminar service but seals
 * nothing for the platform: check-deployment never judges a service or container carrying it.
 */
export const TOOL_LABEL = 'dev.lmnr-keys.tool';

/** Whether a service's (or container's) labels mark it as lmnr-keys itself: the label set, to anything but `false`. */
export function isLmnrKeysTool(labels: Readonly<Record<string, string>> | null | undefined): boolean {
  const value = labels?.[TOOL_LABEL];
  return value !== undefined && value.trim().toLowerCase() !== 'false';
}

export const OPERATION_MODE = 'OPERATION_MODE';

/**
 * The app-server runs as producer, consumer or both (OPERATION_MODE; unset = both): started with
 * OPERATION_MODE=consumer it is the consumer, whatever its name. Laminar trims and lower-cases it.
 */
export function withOperationMode(service: LaminarService, operationMode: string | null | undefined): LaminarService {
  if (service.role !== 'app-server' || operationMode?.trim().toLowerCase() !== 'consumer') return service;
  return findService('app-server-consumer') ?? service;
}

export function findService(role: string): LaminarService | undefined {
  return LAMINAR_SERVICES.find((service) => service.role === role);
}

/** `ghcr.io/lmnr-ai/frontend:latest` or `...@sha256:...` -> `ghcr.io/lmnr-ai/frontend`, lower case. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0] ?? '';
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return (colon > slash ? withoutDigest.slice(0, colon) : withoutDigest).trim().toLowerCase();
}

export interface ServiceHints {
  /** A compose service name (or the `com.docker.compose.service` label). */
  composeName?: string | null;
  /** A Kubernetes workload name. */
  workload?: string | null;
  image?: string | null;
  /** A compose build context path. */
  buildContext?: string | null;
}

/** Which Laminar service this is, by name first, then image, then build context; undefined when none. */
export function recogniseService(hints: ServiceHints): LaminarService | undefined {
  const by = (test: (service: LaminarService) => boolean) => LAMINAR_SERVICES.find(test);
  if (hints.workload) {
    const found = by((s) => s.workloads.includes(hints.workload!));
    if (found) return found;
  }
  if (hints.composeName) {
    const found = by((s) => s.composeNames.includes(hints.composeName!));
    if (found) return found;
  }
  if (hints.image) {
    const repository = imageRepository(hints.image);
    const found = by((s) => s.images.includes(repository));
    if (found) return found;
  }
  if (hints.buildContext) {
    const folder =
      hints.buildContext
        .replace(/[\\/]+$/, '')
        .split(/[\\/]/)
        .pop() ?? '';
    const found = by((s) => s.buildContexts.includes(folder));
    if (found) return found;
  }
  return undefined;
}
