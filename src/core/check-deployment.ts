/**
 * check-deployment: which Laminar service holds which key, judged from what each deployment
 * source says (compose files and --service files, running containers, Helm values, rendered
 * manifests, a cluster through kubectl) and, when a database is at hand, from which key opens the
 * stored values.
 * Three parts: `gatherDeployment` runs the readers (IO passed in), `countValuesByKey` asks the
 * database (read-only), `judgeDeployment` turns both into findings (pure data, no IO).
 */
import path from 'node:path';
import type { Environment } from '../config/environment.js';
import { encodeAad } from '../crypto/aead.js';
import { checkSecret, fingerprintKey, laminarDefaultKey, LAMINAR_DEFAULT_KEY_HEX, type SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { ConfigError, UsageError } from '../errors.js';
import { findService, KEY_VARIABLES } from '../deployment/services.js';
import { displayPath, readCompose, type ComposeProject } from '../deployment/read-compose.js';
import { discoverContainers, readContainers, type RunDocker } from '../deployment/read-containers.js';
import { readHelmValues } from '../deployment/read-helm-values.js';
import { readCluster, type ClusterTarget, type RunKubectl } from '../deployment/read-cluster.js';
import { readManifests } from '../deployment/read-manifests.js';
import type {
  DeploymentGroup,
  DeploymentNote,
  FileAccess,
  PodKeySource,
  ReaderResult,
  ReceivedVariable,
  SourceRef,
} from '../deployment/types.js';
import { assertRowsVisible, checkStorePresence, scanStore } from '../stores/scan.js';
import { STORES, type SecretVariable, type StoreName } from '../stores/stores.js';
import { loadShape } from './diagnose.js';

// ---------------------------------------------------------------------------------------------
// Gathering: every source the operator named (or docker compose would find), as one plain list.

export interface DeploymentSourceOptions {
  composeFiles: string[];
  projectDirectory: string | null;
  /** -p/--project-name; null or absent: COMPOSE_PROJECT_NAME, the top-level `name:`, or the folder. */
  projectName?: string | null;
  /** --profile (repeatable); empty or absent: COMPOSE_PROFILES. */
  profiles?: string[];
  /** --service NAME=FILE */
  serviceFiles: string[];
  /** --containers FILE, or '-' for stdin. */
  containers: string | null;
  /** --no-containers: do not ask docker. */
  noContainers: boolean;
  helmValues: string[];
  /** --manifests FILE, or '-' for stdin. */
  manifests: string | null;
  /** --kubectl (with -n/--namespace, --context): ask the cluster; null when not given. */
  kubectl?: ClusterTarget | null;
}

export interface DeploymentIo extends FileAccess {
  cwd: string;
  /** The shell environment Compose would interpolate from (not --env-file). */
  shellEnv: Environment;
  readStdin: () => Promise<string>;
  runDocker: RunDocker;
  runKubectl: RunKubectl;
}

export interface GatheredDeployment extends ReaderResult {
  compose: ComposeProject | null;
  pods: PodKeySource[];
}

const GROUP_ORDER: readonly DeploymentGroup[] = ['compose', 'containers', 'helm-values', 'manifests', 'kubernetes'];

export const GROUP_TITLES: Record<DeploymentGroup, string> = {
  compose: 'docker compose files',
  containers: 'running containers',
  'helm-values': 'Helm values',
  manifests: 'Kubernetes manifests',
  kubernetes: 'Kubernetes cluster',
};

export async function gatherDeployment(io: DeploymentIo, options: DeploymentSourceOptions): Promise<GatheredDeployment> {
  if (options.containers === '-' && options.manifests === '-') {
    throw new UsageError('--containers and --manifests cannot both read stdin (-)', 'save one of them to a file');
  }
  const readInput = async (given: string, what: string, hint: string): Promise<{ text: string; label: string }> => {
    if (given === '-') return { text: await io.readStdin(), label: 'stdin' };
    const absolute = path.resolve(io.cwd, given);
    try {
      return { text: io.readText(absolute), label: displayPath(io.cwd, absolute) };
    } catch (error) {
      throw new ConfigError(`cannot read ${what} ${given} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, hint);
    }
  };
  const kubernetes = options.helmValues.length > 0 || options.manifests !== null || Boolean(options.kubectl);
  const results: ReaderResult[] = [];

  const compose = readCompose(io, {
    files: options.composeFiles,
    projectDirectory: options.projectDirectory,
    projectName: options.projectName ?? null,
    profiles: options.profiles ?? [],
    serviceFiles: options.serviceFiles,
    discover: options.composeFiles.length === 0 && !kubernetes,
  });
  results.push(compose);
  const anyOtherSource = options.serviceFiles.length > 0 || options.containers !== null || kubernetes;
  if (!compose.project && !anyOtherSource) {
    throw new ConfigError(
      `no compose file in ${options.projectDirectory ? path.resolve(io.cwd, options.projectDirectory) : io.cwd} or above ` +
        `(compose.yaml, compose.yml, docker-compose.yml, ` +
        `docker-compose.yaml) and no other source given`,
      "run it in Laminar's folder, or name what to check: -f FILE, --service NAME=ENV_FILE, --containers " +
        'FILE, --helm-values FILE, --manifests FILE, --kubectl',
    );
  }

  const composeCommand = compose.project?.command ?? 'docker compose';
  if (options.containers !== null) {
    const input = await readInput(
      options.containers,
      'the --containers file',
      'produce it with: docker inspect $(docker compose ps -q) > containers.json',
    );
    results.push(readContainers(input.text, input.label, composeCommand));
  } else if (compose.project && !options.noContainers) {
    const discovered = await discoverContainers(io.runDocker, compose.project.name);
    if ('note' in discovered) results.push({ received: [], sources: [], notes: [discovered.note] });
    else results.push(readContainers(discovered.text, discovered.label, composeCommand));
  }

  if (options.helmValues.length > 0) {
    const files = [];
    for (const file of options.helmValues)
      files.push(await readInput(file, 'the Helm values file', 'pass the values file(s) you give to helm install/upgrade -f'));
    results.push(readHelmValues(files));
  }
  if (options.manifests !== null) {
    const input = await readInput(
      options.manifests,
      'the --manifests file',
      'save what `helm template` or `kubectl get deploy,statefulset,secret -o yaml` prints',
    );
    results.push(readManifests(input.text, input.label));
  }
  if (options.kubectl) results.push(await readCluster(io.runKubectl, options.kubectl));

  return {
    received: results.flatMap((r) => r.received),
    sources: results.flatMap((r) => r.sources),
    notes: results.flatMap((r) => r.notes),
    pods: results.flatMap((r) => r.pods ?? []),
    compose: compose.project,
  };
}

// ---------------------------------------------------------------------------------------------
// The database: how many stored values open under each key found.

/** A distinct key the deployment holds, and the variables it was found under. */
export interface KeyToCount {
  key: SecretKey;
  variables: ReadonlySet<SecretVariable>;
}

export interface StoredCount {
  store: StoreName;
  present: boolean;
  /** Set values (unset deployment pairs are not counted). */
  values: number;
}

export interface KeyOpens {
  fingerprint: string;
  /** Values that open under it, across the stores it applies to. */
  values: number;
  byStore: Partial<Record<StoreName, number>>;
}

export interface DatabaseCounts {
  stored: StoredCount[];
  opens: KeyOpens[];
}

/**
 * Which stores a key is tried on: an AEAD_SECRET_KEY on the AEAD stores and on slack_integrations
 * too (Laminar's chart copies it into SLACK_ENCRYPTION_KEY); a SLACK_ENCRYPTION_KEY on Slack only.
 */
export function storesForKey(variables: ReadonlySet<SecretVariable>): StoreName[] {
  return STORES.filter(
    (store) => variables.has(store.secretVariable) || (variables.has('AEAD_SECRET_KEY') && store.secretVariable === 'SLACK_ENCRYPTION_KEY'),
  ).map((store) => store.name);
}

/** Counts, in one read-only snapshot, the values each key opens. Call loadCipher() first. */
export async function countValuesByKey(db: LaminarDb, keys: KeyToCount[], batchSize = 5000): Promise<DatabaseCounts> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const presence = new Map<StoreName, boolean>();
      for (const store of STORES) presence.set(store.name, (await checkStorePresence(trx, store)).present);
      await assertRowsVisible(trx, [...new Set(STORES.filter((s) => presence.get(s.name)).map((s) => s.table))]);
      const opens: KeyOpens[] = keys.map((k) => ({ fingerprint: k.key.fingerprint, values: 0, byStore: {} }));
      const stored: StoredCount[] = [];
      for (const store of STORES) {
        const present = presence.get(store.name)!;
        const count: StoredCount = { store: store.name, present, values: 0 };
        stored.push(count);
        if (!present) continue;
        const applicable = keys.map((k, index) => ({ k, index })).filter(({ k }) => storesForKey(k.variables).includes(store.name));
        for (const { index } of applicable) opens[index]!.byStore[store.name] = 0;
        for await (const batch of scanStore(trx, store, batchSize)) {
          for (const row of batch) {
            const shape = loadShape(store, row);
            if (shape.kind === 'unset') continue;
            count.values += 1;
            if (shape.kind !== 'loaded') continue;
            const aad = encodeAad(row.aad);
            for (const { k, index } of applicable) {
              if (shape.opener.open(k.key.bytes, aad)) {
                opens[index]!.values += 1;
                opens[index]!.byStore[store.name]! += 1;
              }
            }
            shape.opener.clear();
          }
        }
      }
      return { stored, opens };
    });
}

// ---------------------------------------------------------------------------------------------
// Judgement.

export type ServiceStatus = 'ok' | 'missing' | 'empty' | 'invalid' | 'public_default' | 'external' | 'not_given';

/** Every kind of finding, in the order they are judged (metrics write each, zeros included). */
export const FINDING_KINDS = [
  'missing',
  'empty',
  'invalid',
  'public_default',
  'mismatch',
  'shell_override',
  'stale_container',
  'stale_pod',
  'not_in_database',
] as const;

export type FindingKind = (typeof FINDING_KINDS)[number];

export interface ServiceRow {
  /** The compose service, workload or --service name. */
  service: string;
  /** The running container the row was read from (source `containers`), else null. */
  container: string | null;
  /** Which deployment group: compose, containers, helm-values, manifests. */
  source: DeploymentGroup;
  role: string;
  variable: SecretVariable;
  status: ServiceStatus;
  fingerprint: string | null;
  /** Where the value came from. */
  from: string;
}

export interface DeploymentFinding {
  kind: FindingKind;
  source: DeploymentGroup;
  service: string;
  container: string | null;
  /** The running pod a stale_pod finding is about, else null. */
  pod: string | null;
  variable: SecretVariable;
  detail: string;
  fix: string;
}

export type DatabasePart =
  | { checked: false; reason: string; error?: { exitCode: number; message: string; hint: string | null } }
  | { checked: true; stored: StoredCount[]; opens: Array<KeyOpens & { heldBy: string[]; publicDefault: boolean }> };

/** What check-deployment found; its document (src/report/check-deployment.ts) is ok exactly when `findings` is empty. */
export interface CheckDeploymentResult {
  sources: SourceRef[];
  services: ServiceRow[];
  findings: DeploymentFinding[];
  notes: DeploymentNote[];
  database: DatabasePart;
}

export interface JudgeOptions {
  /** A missing Slack key is a finding even when no Slack token is stored. */
  strict: boolean;
}

interface Evaluated {
  entry: ReceivedVariable;
  status: ServiceStatus;
  /** The key the service would use (cleaned when it needs cleanup), when there is one. */
  key: SecretKey | null;
  problem: string | null;
}

/** A service as messages name it: a running container by its own name and its compose service. */
function nameOf(entry: ReceivedVariable): string {
  return entry.container ? `container ${entry.container} (${entry.service})` : entry.service;
}

function evaluate(entry: ReceivedVariable): Evaluated {
  if (entry.unreadable) return { entry, status: entry.unreadable.kind, key: null, problem: entry.unreadable.detail };
  if (entry.refusal)
    return { entry, status: 'missing', key: null, problem: `docker compose refuses to start ${nameOf(entry)}: ${entry.refusal}` };
  if (entry.value === null)
    return { entry, status: 'missing', key: null, problem: `${nameOf(entry)} does not receive ${entry.variable} (${entry.from})` };
  if (entry.value.trim() === '') {
    return { entry, status: 'empty', key: null, problem: `${nameOf(entry)} receives ${entry.variable} empty (${entry.from})` };
  }
  const check = checkSecret(entry.variable, entry.value);
  if (check.status === 'invalid' || check.status === 'needs_cleanup') {
    const cleaned = check.key ? `; cleaned, it would be the key with fingerprint ${check.key.fingerprint}` : '';
    return { entry, status: 'invalid', key: check.key, problem: `${check.problem ?? `${entry.variable} is not a key`}${cleaned}` };
  }
  return { entry, status: check.status === 'public_default' ? 'public_default' : 'ok', key: check.key, problem: null };
}

/** Distinct keys held anywhere (plus Laminar's public default, always worth trying), for countValuesByKey. */
export function keysToCount(gathered: Pick<GatheredDeployment, 'received'>): KeyToCount[] {
  const byFingerprint = new Map<string, { key: SecretKey; variables: Set<SecretVariable> }>();
  const add = (key: SecretKey, variables: SecretVariable[]) => {
    const known = byFingerprint.get(key.fingerprint) ?? { key, variables: new Set<SecretVariable>() };
    for (const variable of variables) known.variables.add(variable);
    byFingerprint.set(key.fingerprint, known);
  };
  for (const entry of gathered.received) {
    const { key } = evaluate(entry);
    if (key) add(key, [entry.variable]);
  }
  add(laminarDefaultKey(), ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY']);
  return [...byFingerprint.values()];
}

const DEFAULT_FINGERPRINT = fingerprintKey(Buffer.from(LAMINAR_DEFAULT_KEY_HEX, 'hex'));

function describeHolder(e: Evaluated): string {
  return e.entry.container ? `${e.entry.service} (running container ${e.entry.container})` : e.entry.service;
}

export function judgeDeployment(
  gathered: Pick<GatheredDeployment, 'received' | 'sources' | 'notes'> & Partial<Pick<GatheredDeployment, 'pods'>>,
  database:
    | { checked: false; reason: string; error?: { exitCode: number; message: string; hint: string | null } }
    | { checked: true; counts: DatabaseCounts },
  options: JudgeOptions,
): CheckDeploymentResult {
  const evaluated = [...gathered.received].sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group)).map(evaluate);
  const findings: DeploymentFinding[] = [];
  const notes: DeploymentNote[] = [...gathered.notes];
  const counts = database.checked ? database.counts : null;
  const storedIn = (stores: StoreName[]) =>
    counts ? counts.stored.filter((s) => stores.includes(s.store)).reduce((sum, s) => sum + s.values, 0) : 0;
  const opensFor = (key: SecretKey, stores: StoreName[]) => {
    const found = counts?.opens.find((o) => o.fingerprint === key.fingerprint);
    return found ? stores.reduce((sum, store) => sum + (found.byStore[store] ?? 0), 0) : 0;
  };
  const storesOf = (variable: SecretVariable) => STORES.filter((s) => s.secretVariable === variable).map((s) => s.name);
  const slackTokensStored = storedIn(storesOf('SLACK_ENCRYPTION_KEY')) > 0;
  /** Why a stale key of this pod needs nothing yet (a note, not a finding), as for a missing one; null when it matters. */
  const stalenessOptional = (p: PodKeySource): string | null => {
    if (options.strict) return null;
    if (p.variable === 'SLACK_ENCRYPTION_KEY' && !slackTokensStored)
      return counts ? 'no Slack token is stored, so nothing needs it yet' : 'it only matters once Slack is connected';
    const onlyFor = findService(p.role)?.onlyFor?.[p.variable];
    if (onlyFor && counts && storedIn([...onlyFor.stores]) === 0)
      return `${onlyFor.why}; nothing is stored in ${onlyFor.stores.join(' or ')}, so nothing needs it yet`;
    return null;
  };
  const add = (e: Evaluated, kind: FindingKind, detail: string, fix: string) =>
    findings.push({
      kind,
      source: e.entry.group,
      service: e.entry.service,
      container: e.entry.container ?? null,
      pod: null,
      variable: e.entry.variable,
      detail,
      fix,
    });

  // Containers that belong to a compose service read from the files are judged against it
  // (stale_container); their own state repeats the files' findings otherwise.
  const composeServices = new Set(
    evaluated.filter((e) => e.entry.group === 'compose' && e.entry.composeService).map((e) => e.entry.composeService!),
  );
  const coveredContainer = (e: Evaluated) =>
    e.entry.group === 'containers' && e.entry.composeService !== undefined && composeServices.has(e.entry.composeService);

  // 1. Each value on its own.
  const publicDefaultPlans = new Map<string, { service: string; setIn: string }>();
  for (const e of evaluated) {
    const { entry } = e;
    if (e.status === 'external' || e.status === 'not_given') {
      notes.push({
        kind: e.status === 'external' ? 'external' : 'not_given',
        service: entry.service,
        variable: entry.variable,
        detail: e.problem ?? '',
      });
      continue;
    }
    if (coveredContainer(e)) continue;
    const slackOptional = entry.variable === 'SLACK_ENCRYPTION_KEY' && !options.strict && !slackTokensStored;
    const onlyFor = findService(entry.role)?.onlyFor?.[entry.variable];
    if ((e.status === 'missing' || e.status === 'empty') && onlyFor) {
      const stored = storedIn([...onlyFor.stores]);
      if (counts && stored === 0 && !options.strict) {
        notes.push({
          kind: e.status,
          service: entry.service,
          variable: entry.variable,
          detail: `${e.problem}: ${onlyFor.why}; nothing is stored in ${onlyFor.stores.join(' or ')}, so nothing needs it yet`,
        });
      } else {
        const why = counts
          ? `${stored} sealed value${stored === 1 ? ' is' : 's are'} stored in ${onlyFor.stores.join(', ')}`
          : `the database was not checked, so this command cannot tell whether any is stored in ${onlyFor.stores.join(' or ')}`;
        add(
          e,
          e.status,
          `${e.problem}: ${onlyFor.why}, and ${why}`,
          `give ${entry.service} ${entry.variable} (the same key as the other Laminar services) in ${entry.setIn}, then ${entry.restart}`,
        );
      }
      continue;
    }
    if ((e.status === 'missing' || e.status === 'empty') && slackOptional) {
      notes.push({
        kind: e.status,
        service: entry.service,
        variable: entry.variable,
        detail: `${e.problem}: ${counts ? 'no Slack token is stored, so nothing needs it yet' : 'it only matters once Slack is connected (with the database, this command checks whether Slack tokens are stored)'}`,
      });
      continue;
    }
    if (e.status === 'missing') {
      add(
        e,
        'missing',
        e.problem!,
        entry.refusal
          ? `set ${entry.setIn}, then ${entry.restart}`
          : `give ${entry.service} ${entry.variable} (the key your data is sealed with) in ${entry.setIn}, then ${entry.restart}`,
      );
    } else if (e.status === 'empty') {
      add(e, 'empty', e.problem!, `set ${entry.setIn} to the key your data is sealed with, then ${entry.restart}`);
    } else if (e.status === 'invalid') {
      add(e, 'invalid', `${entry.service}: ${e.problem}`, `write ${entry.setIn} as bare 64 hex characters, then ${entry.restart}`);
    } else if (e.status === 'public_default') {
      const store = entry.variable === 'SLACK_ENCRYPTION_KEY' ? ' --store slack_integrations' : '';
      // Another service of the same deployment holds a key of its own: the fix is to agree with it
      // (as the mismatch finding says), not a third key.
      const ownKey = evaluated.find(
        (o) =>
          o !== e &&
          o.entry.group === entry.group &&
          o.entry.variable === entry.variable &&
          o.key &&
          o.status !== 'public_default' &&
          !coveredContainer(o),
      );
      // A neighbour on the public default too already got the whole plan (one new key, one
      // rotation): this service takes the same key, or two plans would make two keys.
      const planned = !ownKey ? publicDefaultPlans.get(`${entry.group} ${entry.variable}`) : undefined;
      if (!ownKey && !planned) publicDefaultPlans.set(`${entry.group} ${entry.variable}`, { service: entry.service, setIn: entry.setIn });
      add(
        e,
        'public_default',
        `${entry.service} holds Laminar's public default ${entry.variable} (fingerprint ` +
          `${e.key!.fingerprint}, from ${entry.from}): anyone with a copy of the database ` +
          `can read what it seals`,
        planned
          ? `give it the new key of ${planned.service}'s fix (no second key, no second rotation): ` +
              (planned.setIn === entry.setIn
                ? `that fix already makes it the value of ${entry.setIn}; `
                : `make it the value of ${entry.setIn} too; `) +
              `then ${entry.restart}`
          : ownKey
            ? `put the key ${ownKey.entry.service} holds (${ownKey.key!.fingerprint}) ` +
              `in ${entry.setIn}, then ${entry.restart}; re-seal what it sealed meanwhile: ` +
              `lmnr-keys rotate${store} --from laminar-default --to env:${entry.variable} ` +
              `--yes`
            : `lmnr-keys gen-secret --out ~/.local/state/lmnr-keys/keys/new.key (outside ` +
              `Laminar's git checkout); lmnr-keys rotate${store} --from laminar-default ` +
              `--to file:$HOME/.local/state/lmnr-keys/keys/new.key --yes; make that key ` +
              `the value of ${entry.setIn}; then ${entry.restart}`,
      );
    }
    for (const shadow of entry.shellShadows ?? []) {
      if (shadow.shellValue === shadow.fileValue) continue;
      add(
        e,
        'shell_override',
        `this shell sets ${shadow.name}${shadow.fileValue === undefined ? `, and ${shadow.fileLabel} has none` : `, and ${shadow.fileLabel} holds another value`}: started from this shell, ${entry.service} gets the shell's value${shadow.fileValue === undefined ? '' : `, not ${shadow.fileLabel}'s`}`,
        `unset ${shadow.name} in this shell (or put the same key in ${shadow.fileLabel}), then ${entry.restart}`,
      );
    }
  }

  // 2. Services of one deployment holding different keys. (Containers of a compose service read
  // from the files are left to step 3: either they are stale, or the files disagree already.)
  for (const group of GROUP_ORDER) {
    for (const variable of ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'] as const) {
      const holders = evaluated.filter((e) => e.entry.group === group && e.entry.variable === variable && e.key && !coveredContainer(e));
      const fingerprints = [...new Set(holders.map((e) => e.key!.fingerprint))];
      if (fingerprints.length < 2) continue;
      const stores = storesOf(variable);
      // The reference key: the one that opens the stored values, else the one most services of
      // this deployment hold, else the one most sources agree on (a running container against
      // the files), else the first service's.
      const score = (fingerprint: string) => {
        const holder = holders.find((h) => h.key!.fingerprint === fingerprint)!;
        return [
          counts ? opensFor(holder.key!, stores) : 0,
          holders.filter((h) => h.key!.fingerprint === fingerprint).length,
          evaluated.filter((h) => h.entry.variable === variable && h.key?.fingerprint === fingerprint).length,
        ];
      };
      const reference = [...fingerprints].sort((a, b) => {
        const [sa, sb] = [score(a), score(b)];
        return sb[0]! - sa[0]! || sb[1]! - sa[1]! || sb[2]! - sa[2]!;
      })[0]!;
      const referenceHolder = holders.find((h) => h.key!.fingerprint === reference)!;
      const decided = counts !== null && opensFor(referenceHolder.key!, stores) > 0;
      for (const e of holders.filter((h) => h.key!.fingerprint !== reference)) {
        add(
          e,
          'mismatch',
          `${describeHolder(e)} holds ${variable} ${e.key!.fingerprint} (from ${e.entry.from}) ` +
            `but ${describeHolder(referenceHolder)} holds ${reference} (from ${referenceHolder.entry.from}): ` +
            `what one seals, the other cannot open`,
          decided
            ? `put the key ${referenceHolder.entry.service} holds (${reference}, the one ` +
                `the stored values open under) in ${e.entry.setIn}, then ${e.entry.restart}`
            : `decide which key is right (with the database, check-deployment says which ` +
                `one opens the stored values), put it in ${e.entry.setIn} and wherever else ` +
                `it differs, then ${e.entry.restart}`,
        );
      }
    }
  }

  // 3. Running containers created before their configuration changed.
  for (const e of evaluated.filter(coveredContainer)) {
    const configured = evaluated.find(
      (c) => c.entry.group === 'compose' && c.entry.composeService === e.entry.composeService && c.entry.variable === e.entry.variable,
    );
    if (!configured || configured.status === 'external' || configured.status === 'not_given') continue;
    const configuredValue = configured.entry.refusal ? null : configured.entry.value;
    if (configuredValue === e.entry.value) continue;
    const holds = e.key
      ? `holds ${e.entry.variable} ${e.key.fingerprint}`
      : e.entry.value === null
        ? `has no ${e.entry.variable}`
        : `holds a ${e.status} ${e.entry.variable}`;
    const gives = configured.key
      ? `gives it ${configured.key.fingerprint} (from ${configured.entry.from})`
      : configuredValue === null
        ? 'gives it none'
        : `gives it another value (from ${configured.entry.from})`;
    add(
      e,
      'stale_container',
      `container ${e.entry.container ?? e.entry.service} ${holds}, but the configuration of ${e.entry.composeService} ` +
        `now ${gives}: it was created before the change (docker compose restart ` +
        `keeps the old environment)`,
      e.entry.restart,
    );
  }

  // 4. Running pods started before the last write to the Secret their key comes from. Kubernetes
  // reads a Secret into the environment when a container starts and restarts nothing when it
  // changes; the write time moves with any change to the Secret, hence "may".
  const unjudged = new Map<string, { group: DeploymentGroup; secret: string; pods: Set<string> }>();
  const staleFound = new Set<string>();
  const pods = [...(gathered.pods ?? [])].sort((a, b) => KEY_VARIABLES.indexOf(a.variable) - KEY_VARIABLES.indexOf(b.variable));
  for (const p of pods) {
    if (p.secretWrittenAt === null) {
      const key = `${p.group}\u0000${p.secret}`;
      const entry = unjudged.get(key) ?? { group: p.group, secret: p.secret, pods: new Set<string>() };
      entry.pods.add(p.pod);
      unjudged.set(key, entry);
      continue;
    }
    if (!(Date.parse(p.startedAt) < Date.parse(p.secretWrittenAt))) continue;
    const podSecret = `${p.group}\u0000${p.pod}\u0000${p.secret}`;
    const held = p.value === null ? null : checkSecret(p.variable, p.value).key;
    const detail =
      `pod ${p.pod} (${p.workload}) started its ${p.container} container at ${p.startedAt}, before the last write to ` +
      `Secret ${p.secret} at ${p.secretWrittenAt}, where its ${p.variable} comes from: it may still hold the old value ` +
      `(a running container keeps the environment it started with; any write to the Secret moves that time, so the ` +
      `value may also be unchanged)`;
    const optional = stalenessOptional(p);
    if (optional !== null) {
      if (!staleFound.has(podSecret))
        notes.push({ kind: 'stale_pod', service: p.service, variable: p.variable, detail: `${detail}: ${optional}` });
      continue;
    }
    staleFound.add(podSecret);
    findings.push({
      kind: 'stale_pod',
      source: p.group,
      service: p.service,
      container: null,
      pod: p.pod,
      variable: p.variable,
      detail,
      fix:
        `confirm: ${p.confirm} (${held ? `${held.fingerprint} is the Secret's key` : "compare with the Secret's key"}); ` +
        `if it differs: ${p.restart}`,
    });
  }
  for (const { secret, pods: names } of unjudged.values()) {
    const listed = [...names];
    notes.push({
      kind: 'staleness_not_judged',
      service: null,
      variable: null,
      detail:
        `Secret ${secret} carries no metadata.managedFields (kubectl prints them only with --show-managed-fields), so ` +
        `whether running pods (${listed.slice(0, 3).join(', ')}${listed.length > 3 ? ` and ${listed.length - 3} more` : ''}) ` +
        `started before its last change cannot be judged`,
    });
  }

  // 5. Keys under which none of the stored values open.
  if (counts) {
    for (const e of evaluated) {
      if (!e.key || coveredContainer(e)) continue;
      const stores = storesOf(e.entry.variable);
      const total = storedIn(stores);
      if (total === 0 || opensFor(e.key, stores) > 0) continue;
      const opener = evaluated.find((o) => o.key && opensFor(o.key, stores) > 0);
      const defaultOpens = counts.opens.find((o) => o.fingerprint === DEFAULT_FINGERPRINT);
      const defaultCount = defaultOpens ? stores.reduce((sum, store) => sum + (defaultOpens.byStore[store] ?? 0), 0) : 0;
      const where = `${total} value${total === 1 ? ' is' : 's are'} stored in ${stores.join(', ')}`;
      const storeFlag = e.entry.variable === 'SLACK_ENCRYPTION_KEY' ? ' --store slack_integrations' : '';
      if (opener) {
        add(
          e,
          'not_in_database',
          `${where}; none opens under the ${e.entry.variable} ${describeHolder(e)} ` +
            `holds (${e.key.fingerprint}); ${opensFor(opener.key!, stores)} open under ` +
            `the key ${describeHolder(opener)} holds (${opener.key!.fingerprint}, its ` +
            `${opener.entry.variable})`,
          `give ${e.entry.service} that key (${opener.key!.fingerprint}) in ${e.entry.setIn}, ` +
            `then ${e.entry.restart}; or, if ${e.key.fingerprint} is the new key, re-seal ` +
            `first: lmnr-keys rotate${storeFlag} --from <the key ${opener.entry.service} ` +
            `holds> --to <the new key>`,
        );
      } else if (defaultCount > 0) {
        add(
          e,
          'not_in_database',
          `${where}; none opens under the ${e.entry.variable} ${describeHolder(e)} ` +
            `holds (${e.key.fingerprint}); ${defaultCount} open under Laminar's public ` +
            `default key: the key was changed without re-sealing`,
          `lmnr-keys rotate${storeFlag} --from laminar-default --to <the key ${e.entry.service} ` +
            `holds> --yes (e.g. --to env:${e.entry.variable} with --env-file pointing ` +
            `at ${e.entry.setIn.replace(/^.* in /, '')})`,
        );
      } else {
        add(
          e,
          'not_in_database',
          `${where}; none opens under the ${e.entry.variable} ${describeHolder(e)} ` +
            `holds (${e.key.fingerprint}), nor under any other key this deployment holds`,
          `find the key they were sealed with (lmnr-keys doctor --candidate file:OLD.key), then ` +
            `lmnr-keys rotate${storeFlag} --from file:OLD.key --to env:${e.entry.variable} (with ` +
            `${e.entry.variable} set to the key the services hold)`,
        );
      }
    }
  }

  const services: ServiceRow[] = evaluated.map((e) => ({
    service: e.entry.service,
    container: e.entry.container ?? null,
    source: e.entry.group,
    role: e.entry.role,
    variable: e.entry.variable,
    status: e.status,
    fingerprint: e.key?.fingerprint ?? null,
    from: e.entry.from,
  }));
  const databasePart: DatabasePart = counts
    ? {
        checked: true,
        stored: counts.stored,
        opens: counts.opens.map((o) => ({
          ...o,
          heldBy: [
            ...new Set(
              evaluated.filter((e) => e.key?.fingerprint === o.fingerprint).map((e) => `${describeHolder(e)} ${e.entry.variable}`),
            ),
          ],
          publicDefault: o.fingerprint === DEFAULT_FINGERPRINT,
        })),
      }
    : {
        checked: false,
        reason: database.checked ? '' : database.reason,
        ...(!database.checked && database.error ? { error: database.error } : {}),
      };
  return {
    sources: gathered.sources,
    services,
    findings,
    notes,
    database: databasePart,
  };
}
