/**
 * --metrics FILE: Prometheus text exposition format for node_exporter's textfile collector (or a
 * Pushgateway). One file per command, replaced whole (temporary file, rename) when the run ends.
 * Gauges only: each value is the state the run found. Every known label combination is written,
 * zeros included, so an alert sees a count go back to 0 instead of a series vanishing. A run that
 * failed (exit 2-4, or a signal) writes only the `last_run_*` series and carries the previous
 * `last_success` over: its counts are unknown, not zero.
 */
import type { DoctorReport } from '../core/doctor.js';
import { VALUE_STATUSES } from '../core/diagnose.js';
import { VERIFY_STATUSES, type VerifySummary } from '../core/verify.js';
import { FINDING_KINDS, type DeploymentFinding } from '../core/check-deployment.js';
import { PROVIDER_NAMES } from '../providers/names.js';
import { STORE_NAMES } from '../stores/stores.js';

export type MetricsCommand = 'doctor' | 'verify-provider' | 'check-deployment';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge';
  samples: Sample[];
}

/** `\`, `"` and line feeds escaped, as the text format requires inside label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

export function renderMetrics(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
        .join(',');
      lines.push(`${family.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** doctor: every store × every status (a store absent from the database counts 0 everywhere). */
export function doctorMetrics(report: Pick<DoctorReport, 'stores'>): MetricFamily[] {
  const samples: Sample[] = [];
  for (const store of STORE_NAMES) {
    const found = report.stores.find((s) => s.store === store);
    for (const status of VALUE_STATUSES) samples.push({ labels: { store, status }, value: found?.byStatus[status] ?? 0 });
  }
  return [
    {
      name: 'lmnr_keys_stored_values',
      help: 'Sealed values Laminar stores, by store and by what the current key makes of them (doctor).',
      type: 'gauge',
      samples,
    },
  ];
}

/** The provider label of credentials that belong to no provider (skipped rows). */
export const NO_PROVIDER = 'none';

/** verify-provider: every provider (and `none`) × every status. */
export function verifyMetrics(summary: Pick<VerifySummary, 'byProvider'>): MetricFamily[] {
  const samples: Sample[] = [];
  for (const provider of [...PROVIDER_NAMES, NO_PROVIDER]) {
    for (const status of VERIFY_STATUSES)
      samples.push({ labels: { provider, status }, value: summary.byProvider[provider]?.[status] ?? 0 });
  }
  return [
    {
      name: 'lmnr_keys_provider_credentials',
      help: 'Stored provider credentials, by provider and by what the test call answered (verify-provider).',
      type: 'gauge',
      samples,
    },
  ];
}

/** check-deployment: every finding kind. */
export function deploymentMetrics(findings: Pick<DeploymentFinding, 'kind'>[]): MetricFamily[] {
  return [
    {
      name: 'lmnr_keys_deployment_findings',
      help: 'Findings about how the Laminar services receive their keys, by kind (check-deployment).',
      type: 'gauge',
      samples: FINDING_KINDS.map((kind) => ({ labels: { kind }, value: findings.filter((f) => f.kind === kind).length })),
    },
  ];
}

export const LAST_SUCCESS = 'lmnr_keys_last_success_timestamp_seconds';

/**
 * The run's own series. A success is a run that completed its check (exit 0, or 1: problems
 * found, which the counts show); `lastSuccess` is then now, else the previous file's (0: never).
 */
export function runMetrics(command: MetricsCommand, exitCode: number, nowSeconds: number, lastSuccess: number): MetricFamily[] {
  const labels = { command };
  return [
    {
      name: 'lmnr_keys_last_run_timestamp_seconds',
      help: 'When the last lmnr-keys run of this command ended (Unix time).',
      type: 'gauge',
      samples: [{ labels, value: nowSeconds }],
    },
    {
      name: 'lmnr_keys_last_run_exit_code',
      help: 'Exit code of the last run: 0 healthy, 1 problems found, 2 usage or refused, 3 configuration, 4 database, 128+N signal N.',
      type: 'gauge',
      samples: [{ labels, value: exitCode }],
    },
    {
      name: LAST_SUCCESS,
      help: 'When a run of this command last completed its check (exit 0 or 1; Unix time; 0 = never).',
      type: 'gauge',
      samples: [{ labels, value: lastSuccess }],
    },
  ];
}

/** The `last_success` of `command` in a previous file's text; 0 when there is none. */
export function previousLastSuccess(text: string | null, command: MetricsCommand): number {
  if (!text) return 0;
  const line = text.split('\n').find((l) => l.startsWith(`${LAST_SUCCESS}{command="${escapeLabelValue(command)}"} `));
  const value = line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  return Number.isFinite(value) ? value : 0;
}

/** The command whose series a metrics file holds (null: none of ours), so one command never overwrites another's file. */
export function commandOfMetricsFile(text: string): string | null {
  const match = /^lmnr_keys_last_run_exit_code\{command="([^"]*)"\}/m.exec(text);
  return match ? match[1]! : null;
}
