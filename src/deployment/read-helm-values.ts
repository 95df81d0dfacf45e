/**
 * Reads the operator's values files for Laminar's Helm chart (lmnr-ai/lmnr-helm, charts/laminar)
 * and works out what each Laminar workload would receive, the way the chart's templates build it:
 * - values are merged over the chart's defaults as Helm does (later files win; maps merge, other
 *   values replace, `null` removes a default);
 * - the Secret `laminar-app-secrets` gets each non-empty `secrets.data` key, except keys listed in
 *   `secrets.awsSecretsManager.secretKeys` or `secrets.vault.secretKeys` (left out whether or not
 *   that store is enabled); when SLACK_ENCRYPTION_KEY is empty and neither key is external, the
 *   chart writes the AEAD_SECRET_KEY value into it;
 * - each workload takes that Secret, then `laminar-app-secrets-aws` and `-vault` when enabled,
 *   through envFrom (later wins), then its `extraEnv` (wins over envFrom).
 */
import { LAMINAR_DEFAULT_KEY_HEX } from '../crypto/keys.js';
import { ConfigError } from '../errors.js';
import type { SecretVariable } from '../stores/stores.js';
import { LAMINAR_SERVICES } from './services.js';
import type { ReaderResult, ReceivedVariable } from './types.js';
import { parseYamlFile, plain } from './yaml-file.js';

type Values = Record<string, unknown>;

/** The chart defaults that decide who gets which key (charts/laminar/values.yaml). */
export const CHART_DEFAULTS: Values = {
  secrets: {
    enabled: true,
    awsSecretsManager: { enabled: false, secretKeys: [] },
    vault: { enabled: false, secretKeys: [] },
    data: { AEAD_SECRET_KEY: LAMINAR_DEFAULT_KEY_HEX, SLACK_ENCRYPTION_KEY: '' },
  },
  frontend: { enabled: true, extraEnv: [] },
  appServer: { enabled: true, extraEnv: [] },
  appServerConsumer: { enabled: true, extraEnv: [] },
};

const SECRET = 'laminar-app-secrets';

const isObject = (value: unknown): value is Values => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Helm's coalescing of a values file over what is there: maps merge, null deletes, anything else replaces. */
export function mergeHelmValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(out[key])) out[key] = mergeHelmValues(out[key] as Values, value);
    else out[key] = value;
  }
  return out;
}

function getIn(values: unknown, keys: string[]): unknown {
  let current = values;
  for (const key of keys) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Go template truthiness for what values hold: "", 0, false, null, empty list/map are false. */
const truthy = (value: unknown): boolean =>
  !(
    value === undefined ||
    value === null ||
    value === '' ||
    value === 0 ||
    value === false ||
    (Array.isArray(value) && value.length === 0) ||
    (isObject(value) && Object.keys(value).length === 0)
  );

const asList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);

export interface HelmValuesFile {
  label: string;
  text: string;
}

export function readHelmValues(files: HelmValuesFile[]): ReaderResult {
  const parsed = files.map((file) => {
    const yaml = parseYamlFile(file.text, file.label, 'fix the values file so that `helm template` accepts it');
    const values = plain(yaml, yaml.doc.contents);
    if (values !== null && !isObject(values))
      throw new ConfigError(
        `${file.label} is not a Helm values file (its top level is not a mapping)`,
        'pass the values file(s) you give to helm install/upgrade -f',
      );
    return { label: file.label, values: (values ?? {}) as Values };
  });
  const values = parsed.reduce((merged, file) => mergeHelmValues(merged, file.values), CHART_DEFAULTS);
  /** Which file set a value last, for messages. */
  const setBy = (keys: string[]) =>
    [...parsed].reverse().find((file) => getIn(file.values, keys) !== undefined)?.label ?? 'the chart default';

  const secretsEnabled = truthy(getIn(values, ['secrets', 'enabled']));
  const data = (getIn(values, ['secrets', 'data']) ?? {}) as Values;
  const stores = [
    { label: 'AWS Secrets Manager', path: 'awsSecretsManager', secret: 'laminar-app-secrets-aws' },
    { label: 'Vault', path: 'vault', secret: 'laminar-app-secrets-vault' },
  ].map((store) => ({
    ...store,
    // The chart reads secretKeys whenever the section exists, enabled or not.
    keys: truthy(getIn(values, ['secrets', store.path])) ? asList(getIn(values, ['secrets', store.path, 'secretKeys'])) : [],
    enabled: truthy(getIn(values, ['secrets', store.path, 'enabled'])),
  }));
  const external = (key: string) => stores.some((store) => store.keys.includes(key));

  /** What `laminar-app-secrets` holds for a key, as the chart's secrets.yaml writes it. */
  const mainSecret = (key: SecretVariable): { value: string; from: string } | null => {
    if (truthy(data[key]) && !external(key)) {
      return { value: String(data[key]), from: `Secret ${SECRET} key ${key} (secrets.data.${key} in ${setBy(['secrets', 'data', key])})` };
    }
    if (
      key === 'SLACK_ENCRYPTION_KEY' &&
      !truthy(data[key]) &&
      !external(key) &&
      !external('AEAD_SECRET_KEY') &&
      truthy(data.AEAD_SECRET_KEY)
    ) {
      return {
        value: String(data.AEAD_SECRET_KEY),
        from:
          `Secret ${SECRET} key ${key} (the chart copies secrets.data.AEAD_SECRET_KEY ` +
          `from ${setBy(['secrets', 'data', 'AEAD_SECRET_KEY'])})`,
      };
    }
    return null;
  };

  const received: ReceivedVariable[] = [];
  const valuesFlags = files.map((file) => `-f ${file.label}`).join(' ');
  for (const service of LAMINAR_SERVICES) {
    if (!truthy(getIn(values, [service.helmValuesKey, 'enabled']))) continue;
    const workload = service.workloads[0]!;
    const extraEnv = getIn(values, [service.helmValuesKey, 'extraEnv']);
    const extraEnvFile = setBy([service.helmValuesKey, 'extraEnv']);
    for (const variable of service.needs) {
      const base = {
        group: 'helm-values' as const,
        role: service.role,
        service: workload,
        variable,
        setIn: `secrets.data.${variable} in ${setBy(['secrets', 'data', variable]) === 'the chart default' ? 'your values file' : setBy(['secrets', 'data', variable])}`,
        restart:
          `helm upgrade RELEASE CHART ${valuesFlags}, then kubectl rollout restart ` +
          `deployment/${workload} (the chart does not restart pods when its Secret ` +
          `changes)`,
      };
      const override = (Array.isArray(extraEnv) ? extraEnv : []).filter((e): e is Values => isObject(e) && e.name === variable).pop();
      if (override) {
        const where = `${service.helmValuesKey}.extraEnv in ${extraEnvFile}`;
        if ('value' in override || !('valueFrom' in override)) {
          received.push({
            ...base,
            setIn: where,
            value: override.value === undefined || override.value === null ? '' : String(override.value),
            from: where,
          });
          continue;
        }
        const ref = (getIn(override, ['valueFrom', 'secretKeyRef']) ?? getIn(override, ['valueFrom', 'configMapKeyRef'])) as
          Values | undefined;
        const detail = ref
          ? `${where} takes it from ${getIn(override, ['valueFrom', 'secretKeyRef']) ? 'Secret' : 'ConfigMap'} ` +
            `${String(ref.name)} key ${String(ref.key)}, which the values do not show: ` +
            `check it with --manifests`
          : `${where} takes it from a valueFrom this command cannot read`;
        received.push({ ...base, setIn: where, value: null, from: where, unreadable: { kind: 'not_given', detail } });
        continue;
      }
      // envFrom: laminar-app-secrets, then the AWS and Vault Secrets when enabled; the later wins.
      const winner = [...stores].reverse().find((store) => store.enabled && store.keys.includes(variable));
      if (winner) {
        received.push({
          ...base,
          value: null,
          from: `Secret ${winner.secret} (${winner.label})`,
          unreadable: {
            kind: 'external',
            detail:
              `${variable} is listed in secrets.${winner.path}.secretKeys: it comes from ` +
              `${winner.label}, which this command cannot read`,
          },
        });
        continue;
      }
      if (!secretsEnabled) {
        received.push({
          ...base,
          value: null,
          from: `Secret ${SECRET}`,
          unreadable: {
            kind: 'not_given',
            detail: `secrets.enabled is false: ${SECRET} is managed outside the chart; check it with --manifests`,
          },
        });
        continue;
      }
      const main = mainSecret(variable);
      if (main) {
        received.push({ ...base, ...main });
        continue;
      }
      const listedIn = stores.find((store) => store.keys.includes(variable));
      received.push({
        ...base,
        value: null,
        from: listedIn
          ? `nowhere: secrets.${listedIn.path}.secretKeys lists it, so ${SECRET} leaves it out, but ${listedIn.label} is not enabled`
          : `not in ${SECRET} (secrets.data.${variable} is empty) nor in ${service.helmValuesKey}.extraEnv`,
      });
    }
  }
  return { received, sources: files.map((file) => ({ kind: 'helm-values' as const, path: file.label })), notes: [] };
}
