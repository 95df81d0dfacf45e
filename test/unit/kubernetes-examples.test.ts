/**
 * examples/kubernetes/: every file parses, holds the properties docs/operations.md (Kubernetes) promises
 * (a hardened pod, the chart's Secret by reference, backups on a claim, the narrow Role), and
 * every container's args are flags lmnr-keys accepts: parsed by the real program (src/cli.ts),
 * with the command's handler replaced so nothing runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli.js';
import type { CommandName } from '../../src/commands/definitions.js';
import { KNOWN_VARIABLES } from '../../src/config/environment.js';
import { WORKLOAD_RESOURCES } from '../../src/deployment/read-cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLES = path.join(here, '../../examples/kubernetes');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

function load(file: string): Obj[] {
  const docs = parseAllDocuments(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'));
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) expect(doc.errors, `${file}: ${doc.errors[0]?.message}`).toEqual([]);
  return docs.map((doc) => doc.toJS() as Obj).filter((o) => o !== null);
}
const byKind = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

/** Parses `lmnr-keys ARGS` with the real program; returns the exit code, the command run and the flags it received. */
async function parseArgs(args: string[]): Promise<{ code: number; command: string | null; flags: Obj | null }> {
  let command: string | null = null;
  let flags: Obj | null = null;
  const capture = (name: string) => async () => async (_ctx: unknown, received: Obj) => {
    command = name;
    flags = received;
    return 0 as const;
  };
  const names = ['doctor', 'rotate', 'check-deployment', 'fingerprint'] as const satisfies readonly CommandName[];
  const actions = Object.fromEntries(names.map((name) => [name, capture(name)]));
  const code = await main(['node', 'lmnr-keys', ...args], { processEnv: {}, cwd: os.tmpdir(), actions: actions as never });
  return { code, command, flags };
}

/** Checks that hold for every lmnr-keys pod here; returns its one container. */
function expectHardenedPod(podSpec: Obj, what: string): Obj {
  expect(podSpec.securityContext?.runAsNonRoot, `${what}: runAsNonRoot`).toBe(true);
  expect(podSpec.restartPolicy, `${what}: restartPolicy`).toBe('Never');
  expect(podSpec.automountServiceAccountToken, `${what}: no API token`).toBe(false);
  expect(podSpec.containers).toHaveLength(1);
  const container = podSpec.containers[0] as Obj;
  expect(container.image, `${what}: image pinned by digest`).toMatch(/^ghcr\.io\/YOUR-ORG\/lmnr-keys@sha256:[0-9a-f]{64}$/);
  expect(container.command).toEqual(['lmnr-keys']);
  expect(container.securityContext?.readOnlyRootFilesystem, `${what}: read-only root`).toBe(true);
  expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
  expect(container.resources?.limits?.memory, `${what}: memory limit`).toBe('256Mi');
  // HOME is writable: an emptyDir mounted there.
  const env = (container.env ?? []) as Obj[];
  const home = env.find((e) => e.name === 'HOME')?.value;
  const homeMount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === home);
  expect(homeMount, `${what}: HOME on a volume`).toBeDefined();
  expect((podSpec.volumes as Obj[]).find((v) => v.name === homeMount!.name)?.emptyDir, `${what}: HOME on an emptyDir`).toBeDefined();
  // Only variables lmnr-keys reads, HOME, and the ones its args name (env:NAME).
  const referenced = new Set((container.args as string[]).filter((a) => a.startsWith('env:')).map((a) => a.slice(4)));
  for (const name of referenced)
    expect(
      env.map((e) => e.name),
      `${what}: env:${name} is given`,
    ).toContain(name);
  for (const entry of env)
    expect(entry.name === 'HOME' || entry.name in KNOWN_VARIABLES || referenced.has(entry.name), `${what}: ${entry.name} is read`).toBe(
      true,
    );
  // Keys come by reference, never written into the file.
  for (const entry of env.filter((e) => /_KEY$|^DATABASE_URL$/.test(e.name))) expect(entry.value, `${what}: ${entry.name}`).toBeUndefined();
  return container;
}
const envFrom = (container: Obj, name: string): Obj | undefined =>
  (container.env as Obj[]).find((e) => e.name === name)?.valueFrom?.secretKeyRef;

describe('examples/kubernetes', () => {
  it('holds exactly the three examples, each valid YAML', () => {
    expect(fs.readdirSync(EXAMPLES).sort()).toEqual(['cronjob-doctor.yaml', 'job-rotate.yaml', 'rbac-check-deployment.yaml']);
  });

  it("cronjob-doctor: nightly doctor, never two at once, hardened, the chart's Secret through secretKeyRef", async () => {
    const cronJob = byKind(load('cronjob-doctor.yaml'), 'CronJob');
    expect(cronJob.apiVersion).toBe('batch/v1');
    expect(cronJob.spec.concurrencyPolicy).toBe('Forbid');
    expect(cronJob.spec.schedule).toMatch(/^\S+ \S+ \* \* \*$/);
    const container = expectHardenedPod(cronJob.spec.jobTemplate.spec.template.spec, 'cronjob-doctor');
    expect(envFrom(container, 'AEAD_SECRET_KEY')).toEqual({ name: 'laminar-app-secrets', key: 'AEAD_SECRET_KEY' });
    expect(envFrom(container, 'DATABASE_URL')).toMatchObject({ key: 'DATABASE_URL' });
    const parsed = await parseArgs(container.args);
    expect(parsed).toMatchObject({ code: 0, command: 'doctor' });
  });

  it('job-rotate: rotate --yes, backups on the PersistentVolumeClaim it defines, the old key from a Secret of its own', async () => {
    const objects = load('job-rotate.yaml');
    const claim = byKind(objects, 'PersistentVolumeClaim');
    const job = byKind(objects, 'Job');
    const podSpec = job.spec.template.spec;
    const container = expectHardenedPod(podSpec, 'job-rotate');
    expect(job.spec.backoffLimit).toBe(0);

    const backupDir = (container.env as Obj[]).find((e) => e.name === 'LMNR_KEYS_BACKUP_DIR')?.value as string;
    const mount = (container.volumeMounts as Obj[]).find((m) => backupDir === m.mountPath || backupDir.startsWith(`${m.mountPath}/`));
    expect(mount, 'LMNR_KEYS_BACKUP_DIR is on a mounted volume').toBeDefined();
    const volume = (podSpec.volumes as Obj[]).find((v) => v.name === mount!.name)!;
    expect(volume.emptyDir, 'not an emptyDir: it dies with the pod').toBeUndefined();
    expect(volume.persistentVolumeClaim?.claimName).toBe(claim.metadata.name);
    expect(podSpec.securityContext.fsGroup, 'the non-root user can write on the claim').toBeDefined();

    const parsed = await parseArgs(container.args);
    expect(parsed).toMatchObject({ code: 0, command: 'rotate' });
    const flags = parsed.flags!;
    expect(flags.yes).toBe(true);
    expect(flags.dryRun).toBeUndefined();
    expect(flags.backup).not.toBe(false);
    expect(flags.to).toBe('env:AEAD_SECRET_KEY');
    expect(envFrom(container, 'AEAD_SECRET_KEY')).toEqual({ name: 'laminar-app-secrets', key: 'AEAD_SECRET_KEY' });
    const old = (flags.from as string[]).filter((ref) => ref.startsWith('env:')).map((ref) => ref.slice(4));
    expect(old).toHaveLength(1);
    const oldRef = envFrom(container, old[0]!);
    expect(oldRef?.name, 'the old key comes from a Secret').toBeDefined();
    expect(oldRef!.name, 'a separate Secret: the chart’s holds the new key by then').not.toBe('laminar-app-secrets');
  });

  it('rbac-check-deployment: get/list on the workloads --kubectl reads, get on the one Secret, bound to a ServiceAccount', () => {
    const objects = load('rbac-check-deployment.yaml');
    const account = byKind(objects, 'ServiceAccount');
    const role = byKind(objects, 'Role');
    const binding = byKind(objects, 'RoleBinding');
    const granted = (group: string, resource: string) =>
      (role.rules as Obj[]).filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource));
    for (const resource of WORKLOAD_RESOURCES.split(',')) {
      const rules = granted(resource === 'pods' ? '' : 'apps', resource);
      expect(rules, resource).toHaveLength(1);
      expect(rules[0]!.verbs.sort(), resource).toEqual(['get', 'list']);
      expect(rules[0]!.resourceNames, resource).toBeUndefined();
    }
    const secrets = granted('', 'secrets');
    expect(secrets).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['laminar-app-secrets'], verbs: ['get'] }]);
    // Nothing else: no wildcard, no write.
    expect((role.rules as Obj[]).flatMap((r) => r.verbs).every((v: string) => v === 'get' || v === 'list')).toBe(true);
    expect(JSON.stringify(role.rules)).not.toContain('*');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
    for (const object of objects) expect(object.metadata.namespace).toBe(role.metadata.namespace);
  });

  it('the args check can fail: a misspelt flag is refused by the same parse', async () => {
    const refused = await parseArgs(['rotate', '--from', 'env:OLD', '--to', 'env:AEAD_SECRET_KEY', '--yess']);
    expect(refused.code).toBe(2);
    expect(refused.command).toBeNull();
  });
});
