/** Rendering of verify-provider results: a table for humans, JUnit for CI, GitHub annotations. */
import type { ChalkInstance } from 'chalk';
import { printable } from '../printable.js';
import type { VerifyResult, VerifyStatus } from '../core/verify.js';
import type { NameDirectory } from '../stores/scan.js';
import { groupByWorkspaceAndProject } from './format.js';
import { documentOf, type Envelope } from './document.js';

export const STATUS_WORDS: Record<VerifyStatus, string> = {
  ok: 'ok',
  invalid_key: 'invalid key',
  quota_exceeded: 'quota exhausted',
  rate_limited: 'rate limited (transient)',
  access_denied: 'access denied',
  provider_error: 'provider outage or error',
  network_error: 'network error (no response)',
  decode_failed: 'cannot decrypt (nothing sent)',
  incomplete_credentials: 'incomplete credentials',
  skipped: 'skipped',
};

/** Every status a run can fail on (--fail-on); ok and skipped never fail it. */
export const FAILABLE_STATUSES: VerifyStatus[] = (Object.keys(STATUS_WORDS) as VerifyStatus[]).filter((s) => s !== 'ok' && s !== 'skipped');

export interface VerifyDocument extends Envelope<'verify-provider'> {
  results: VerifyResult[];
  summary: Partial<Record<VerifyStatus, number>>;
  /** How many results are in --fail-on. */
  failing: number;
}

export function verifyDocument(results: VerifyResult[], failing: (r: VerifyResult) => boolean): VerifyDocument {
  const count = results.filter(failing).length;
  return documentOf('verify-provider', count === 0, { results, summary: summarize(results), failing: count });
}

export function summarize(results: VerifyResult[]): Partial<Record<VerifyStatus, number>> {
  const summary: Partial<Record<VerifyStatus, number>> = {};
  for (const result of results) summary[result.status] = (summary[result.status] ?? 0) + 1;
  return summary;
}

function paint(c: ChalkInstance, status: VerifyStatus): (text: string) => string {
  if (status === 'ok') return c.green;
  if (status === 'skipped') return c.dim;
  if (status === 'rate_limited' || status === 'provider_error' || status === 'network_error') return c.yellow;
  return c.red;
}

/** More results than this are summarised (counts, then the first ones that are not ok) unless --all. */
const FULL_LIST_LIMIT = 100;
const SHOWN_WHEN_SUMMARISED = 20;

export function renderVerify(
  doc: VerifyDocument,
  names: NameDirectory | null,
  c: ChalkInstance,
  failing: (r: VerifyResult) => boolean,
  options: { all: boolean } = { all: false },
): string {
  const lines: string[] = [];
  const decodeFailed = doc.summary.decode_failed ?? 0;
  if (doc.results.length >= 3 && decodeFailed >= doc.results.length * 0.75) {
    lines.push(
      c.red.bold(
        `${decodeFailed} of ${doc.results.length} stored credentials do not open under AEAD_SECRET_KEY, so none of them was sent. `,
      ) + c.red('First question: is it the key Laminar runs with? `lmnr-keys doctor`, `lmnr-keys check-deployment`.'),
      '',
    );
  }
  const summarise = !options.all && doc.results.length > FULL_LIST_LIMIT;
  let shown = doc.results;
  if (summarise) {
    const byStatusAndProvider = new Map<string, number>();
    for (const r of doc.results) {
      const label = `${STATUS_WORDS[r.status]} (${r.provider ?? 'no provider'})`;
      byStatusAndProvider.set(label, (byStatusAndProvider.get(label) ?? 0) + 1);
    }
    lines.push(`${doc.results.length} credentials. By status and provider:`);
    for (const [label, count] of [...byStatusAndProvider.entries()].sort((a, b) => b[1] - a[1]))
      lines.push(`  ${String(count).padStart(8)}  ${label}`);
    shown = doc.results.filter((r) => r.status !== 'ok' && r.status !== 'skipped').slice(0, SHOWN_WHEN_SUMMARISED);
    lines.push('', `The first ${shown.length} that are not ok:`);
  }
  const located = shown.map((r) => {
    const project = r.projectId ? names?.projects.get(r.projectId) : undefined;
    return {
      ...r,
      projectName: project?.name ?? null,
      workspaceName: r.workspaceId ? (names?.workspaces.get(r.workspaceId) ?? null) : null,
    };
  });
  for (const workspace of groupByWorkspaceAndProject(located)) {
    if (located.some((r) => r.projectId)) lines.push(`${c.bold('Workspace')} ${workspace.label}`);
    for (const project of workspace.projects) {
      if (project.label) lines.push(`  ${c.bold('Project')} ${project.label}`);
      lines.push(
        `    ${'provider'.padEnd(10)} ${'key'.padEnd(22)} ${'status'.padEnd(30)} ${'HTTP'.padEnd(5)} ${'retry'.padEnd(6)} message`,
      );
      for (const r of project.items) {
        const retry = r.retryAfterSeconds === null ? '' : `${Math.round(r.retryAfterSeconds)}s`;
        lines.push(
          `    ${(r.provider ?? '-').padEnd(10)} ${printable(r.name).padEnd(22)} ${paint(c, r.status)(STATUS_WORDS[r.status].padEnd(30))} ${String(r.httpStatus ?? '').padEnd(5)} ${retry.padEnd(6)} ${r.detail ?? ''}`,
        );
      }
    }
  }
  if (summarise) lines.push('', `All ${doc.results.length}: \`--all\`, \`--json\` or \`--junit FILE\`.`);
  const counts = (statuses: Array<[string, number]>) =>
    statuses.map(([status, n]) => `${n} ${STATUS_WORDS[status as VerifyStatus]}`).join(', ');
  const entries = Object.entries(doc.summary) as Array<[VerifyStatus, number]>;
  if (doc.ok) {
    lines.push(
      '',
      c.green(
        doc.results.length === 0
          ? 'Verdict: no provider credentials stored: nothing to verify.'
          : `Verdict: every credential passes (${counts(entries)}).`,
      ),
    );
  } else {
    const failingStatuses = new Set(doc.results.filter(failing).map((r) => r.status));
    const rest = entries.filter(([status]) => !failingStatuses.has(status));
    lines.push(
      '',
      c.red(
        `Verdict: ${doc.failing} failing (${counts(entries.filter(([status]) => failingStatuses.has(status)))})${rest.length > 0 ? `; also ${counts(rest)}` : ''}.`,
      ),
    );
  }
  return lines.join('\n');
}

function xml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // XML 1.0 cannot carry most control characters.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/** One testcase per credential; failing when not ok (skipped stays skipped). */
export function renderJunit(results: VerifyResult[], failing: (r: VerifyResult) => boolean): string {
  const failures = results.filter(failing).length;
  const skipped = results.filter((r) => r.status === 'skipped').length;
  const cases = results.map((r) => {
    const name = xml(`${r.provider ?? 'unknown'} ${r.name}${r.id ? ` (${r.id})` : ''}`);
    const classname = xml(r.projectId ? `lmnr-keys.project.${r.projectId}` : 'lmnr-keys.key');
    const message = xml(`${STATUS_WORDS[r.status]}${r.httpStatus ? ` (HTTP ${r.httpStatus})` : ''}${r.detail ? `: ${r.detail}` : ''}`);
    if (r.status === 'skipped') return `    <testcase classname="${classname}" name="${name}"><skipped message="${message}"/></testcase>`;
    if (failing(r))
      return `    <testcase classname="${classname}" name="${name}"><failure type="${r.status}" message="${message}"/></testcase>`;
    if (r.status !== 'ok') return `    <testcase classname="${classname}" name="${name}"><system-out>${message}</system-out></testcase>`;
    return `    <testcase classname="${classname}" name="${name}"/>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="lmnr-keys verify-provider" tests="${results.length}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="verify-provider" tests="${results.length}" failures="${failures}" skipped="${skipped}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** GitHub Actions workflow commands: ::error:: for failing results, ::warning:: for other non-ok ones. */
export function githubAnnotations(results: VerifyResult[], failing: (r: VerifyResult) => boolean): string[] {
  const escape = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return results
    .filter((r) => r.status !== 'ok' && r.status !== 'skipped')
    .map((r) => {
      const level = failing(r) ? 'error' : 'warning';
      return `::${level} title=lmnr-keys ${r.provider ?? ''} ${printable(r.name)}::${escape(`${r.projectId ? `project ${r.projectId}: ` : ''}${printable(r.name)} ${STATUS_WORDS[r.status]}${r.detail ? ` - ${r.detail}` : ''}`)}`;
    });
}
