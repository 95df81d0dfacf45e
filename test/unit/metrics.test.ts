import { describe, expect, it } from 'vitest';
import {
  commandOfMetricsFile,
  deploymentMetrics,
  doctorMetrics,
  previousLastSuccess,
  renderMetrics,
  runMetrics,
  verifyMetrics,
} from '../../src/report/metrics.js';
import { VALUE_STATUSES } from '../../src/core/diagnose.js';
import { VERIFY_STATUSES } from '../../src/core/verify.js';
import { FINDING_KINDS } from '../../src/core/check-deployment.js';
import { STORE_NAMES } from '../../src/stores/stores.js';
import { PROVIDER_NAMES } from '../../src/providers/names.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { parseMetrics, promtoolCheck, sampleValues } from '../support/prometheus.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('Prometheus text format', () => {
  it('escapes backslash, quote and line feed in label values, and the parser reads them back', () => {
    const text = renderMetrics([
      { name: 'lmnr_keys_test', help: 'a \\ help\nline', type: 'gauge', samples: [{ labels: { place: 'a"b\\c\nd' }, value: 2 }] },
    ]);
    expect(text).toBe('# HELP lmnr_keys_test a \\\\ help\\nline\n# TYPE lmnr_keys_test gauge\nlmnr_keys_test{place="a\\"b\\\\c\\nd"} 2\n');
    const [family] = parseMetrics(text);
    expect(family!.metrics[0]!.labels).toEqual({ place: 'a"b\\c\nd' });
  });

  it('doctor writes every store and every status, zeros included, and the counts it found', () => {
    const text = renderMetrics(
      doctorMetrics({
        stores: [
          {
            store: 'provider_api_keys',
            present: true,
            total: 5,
            ok: 3,
            failing: 2,
            byStatus: { ok: 3, wrong_secret: 1, malformed: 1 },
          },
        ],
      }),
    );
    const values = sampleValues(parseMetrics(text), 'lmnr_keys_stored_values', ['store', 'status']);
    expect(values.size).toBe(STORE_NAMES.length * VALUE_STATUSES.length);
    expect(values.get('provider_api_keys,ok')).toBe(3);
    expect(values.get('provider_api_keys,wrong_secret')).toBe(1);
    expect(values.get('provider_api_keys,not_utf8')).toBe(0);
    expect(values.get('slack_integrations,ok')).toBe(0);
  });

  it('verify-provider: every provider (and none) by every status; check-deployment: every finding kind', () => {
    const verify = sampleValues(
      parseMetrics(renderMetrics(verifyMetrics({ byProvider: { openai: { ok: 2, quota_exceeded: 1 }, none: { skipped: 4 } } }))),
      'lmnr_keys_provider_credentials',
      ['provider', 'status'],
    );
    expect(verify.size).toBe((PROVIDER_NAMES.length + 1) * VERIFY_STATUSES.length);
    expect(verify.get('openai,quota_exceeded')).toBe(1);
    expect(verify.get('none,skipped')).toBe(4);
    expect(verify.get('anthropic,invalid_key')).toBe(0);
    const findings = sampleValues(
      parseMetrics(renderMetrics(deploymentMetrics([{ kind: 'mismatch' }, { kind: 'mismatch' }, { kind: 'missing' }]))),
      'lmnr_keys_deployment_findings',
      ['kind'],
    );
    expect(findings.size).toBe(FINDING_KINDS.length);
    expect(findings.get('mismatch')).toBe(2);
    expect(findings.get('public_default')).toBe(0);
  });

  it("a run's series, and the last success a failed run carries over", () => {
    const text = renderMetrics(runMetrics('doctor', 1, 1765000000.5, 1765000000.5));
    expect(commandOfMetricsFile(text)).toBe('doctor');
    expect(previousLastSuccess(text, 'doctor')).toBe(1765000000.5);
    expect(previousLastSuccess(text, 'verify-provider')).toBe(0);
    expect(previousLastSuccess(null, 'doctor')).toBe(0);
    expect(commandOfMetricsFile('# nothing of ours\n')).toBeNull();
  });

  it('promtool accepts every family (skipped loudly without promtool)', (context) => {
    const text = renderMetrics([
      ...doctorMetrics({ stores: [] }),
      ...verifyMetrics({ byProvider: {} }),
      ...deploymentMetrics([]),
      ...runMetrics('doctor', 0, 1765000000, 1765000000),
    ]);
    const checked = promtoolCheck(text);
    if (checked === null) {
      console.warn('*** SKIPPED: promtool is not installed (apt-get install prometheus) ***');
      context.skip();
      return;
    }
    expect(checked).toEqual({ code: 0, output: '' });
  });
});

describe('the example alert rules', () => {
  const rules = path.join(root, 'examples/prometheus/lmnr-keys-alerts.yml');

  it('name only series lmnr-keys writes', () => {
    const written = new Set([
      ...[...doctorMetrics({ stores: [] }), ...verifyMetrics({ byProvider: {} }), ...deploymentMetrics([])].map((f) => f.name),
      ...runMetrics('doctor', 0, 0, 0).map((f) => f.name),
    ]);
    const groups = YAML.parse(fs.readFileSync(rules, 'utf8')).groups as Array<{ rules: Array<{ alert: string; expr: string }> }>;
    const named = groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/lmnr_keys_[a-z_]+/g) ?? []));
    expect(named.length).toBeGreaterThan(4);
    for (const name of named) expect(written).toContain(name);
  });

  it('fire as test/prometheus/alerts.test.yml expects (promtool test rules; skipped loudly without promtool)', (context) => {
    if (spawnSync('sh', ['-c', 'command -v promtool']).status !== 0) {
      console.warn('*** SKIPPED: promtool is not installed (apt-get install prometheus) ***');
      context.skip();
      return;
    }
    const checked = spawnSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' });
    expect(checked.status, checked.stdout + checked.stderr).toBe(0);
    const tested = spawnSync('promtool', ['test', 'rules', path.join(root, 'test/prometheus/alerts.test.yml')], { encoding: 'utf8' });
    expect(tested.status, tested.stdout + tested.stderr).toBe(0);
  });
});
