/**
 * Reads a metrics file as Prometheus does: parse-prometheus-text-format (a parser of the text
 * exposition format from the registry), and `promtool check metrics` where Debian's
 * `prometheus` package installed it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}

const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

export function parseMetrics(text: string): ParsedFamily[] {
  return parse(text);
}

/** name{labels} -> value, labels in the order given (`store,status`...). */
export function sampleValues(families: ParsedFamily[], name: string, labelNames: string[]): Map<string, number> {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no ${name} in the metrics`);
  return new Map(family.metrics.map((m) => [labelNames.map((label) => m.labels?.[label] ?? '').join(','), Number(m.value)]));
}

/** promtool's verdict, or null when promtool is not installed. */
export function promtoolCheck(text: string): { code: number | null; output: string } | null {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  if (found.status !== 0) return null;
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}
