/** Rendering of verify-provider results: a table for humans, JUnit for CI, GitHub annotations. */
import type { ChalkInstance } from 'chalk';
import { printable } from '../printable.js';
import type { VerifyResult, VerifyStatus, VerifySummary } from '../core/verify.js';
import type { NameDirectory } from '../stores/scan.js';
import { groupByWorkspaceAndProject } from './format.js';
import type { JsonElementWriter } from './json-stream.js';

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

/** The document's fields after the streamed results. */
export function verifyDocumentTail(summary: VerifySummary, failing: number) {
  return { summary: summary.byStatus, byProvider: summary.byProvider, total: summary.total, failing };
}

/** A result as one compact JSON line (field order as before: projectId ... detail). */
export function writeVerifyResult(out: JsonElementWriter, r: VerifyResult): void {
  out.raw('{"projectId":');
  out.string(r.projectId);
  out.raw(',"workspaceId":');
  out.string(r.workspaceId);
  out.raw(',"id":');
  out.string(r.id);
  out.raw(',"name":');
  out.string(r.name);
  out.raw(',"provider":');
  out.string(r.provider);
  out.raw(',"status":');
  out.string(r.status);
  out.raw(
    `,"httpStatus":${r.httpStatus === null ? 'null' : String(r.httpStatus)},"retryAfterSeconds":${r.retryAfterSeconds === null ? 'null' : String(r.retryAfterSeconds)},"detail":`,
  );
  out.string(r.detail);
  out.raw('}');
}

/**
 * What the human report keeps of a run: every result while there are at most FULL_LIST_LIMIT
 * (they are all listed), and the first SHOWN_WHEN_SUMMARISED that are not ok; counts come from
 * the summary. Bounded whatever the number of credentials.
 */
export class VerifyReportSample {
  readonly first: VerifyResult[] = [];
  readonly notOk: VerifyResult[] = [];

  add(result: VerifyResult): void {
    if (this.first.length <= FULL_LIST_LIMIT) this.first.push(result);
    if (result.status !== 'ok' && result.status !== 'skipped' && this.notOk.length < SHOWN_WHEN_SUMMARISED) this.notOk.push(result);
  }
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
  summary: VerifySummary,
  sample: VerifyReportSample,
  failingCount: number,
  names: NameDirectory | null,
  c: ChalkInstance,
  failing: (r: VerifyResult) => boolean,
  options: { all: boolean; streamed?: boolean } = { all: false },
): string {
  const lines: string[] = [];
  const total = summary.total;
  const decodeFailed = summary.byStatus.decode_failed ?? 0;
  if (total >= 3 && decodeFailed >= total * 0.75) {
    lines.push(
      c.red.bold(`${decodeFailed} of ${total} stored credentials do not open under AEAD_SECRET_KEY, so none of them was sent. `) +
        c.red('First question: is it the key Laminar runs with? `lmnr-keys doctor`, `lmnr-keys check-deployment`.'),
      '',
    );
  }
  const summarise = total > FULL_LIST_LIMIT;
  let shown = options.streamed ? [] : sample.first;
  if (summarise) {
    lines.push(`${total} credentials. By status and provider:`);
    const rows: Array<[string, number]> = [];
    for (const [provider, statuses] of Object.entries(summary.byProvider))
      for (const [status, count] of Object.entries(statuses))
        rows.push([`${STATUS_WORDS[status as VerifyStatus]} (${provider === 'none' ? 'no provider' : provider})`, count]);
    for (const [label, count] of rows.sort((a, b) => b[1] - a[1])) lines.push(`  ${String(count).padStart(8)}  ${label}`);
    shown = options.streamed ? [] : sample.notOk;
    if (!options.streamed) lines.push('', `The first ${shown.length} that are not ok:`);
  }
  appendResults(lines, shown, names, c);
  if (summarise && !options.streamed) lines.push('', `All ${total}: \`--all\`, \`--json\` or \`--junit FILE\`.`);
  const counts = (statuses: Array<[string, number]>) =>
    statuses.map(([status, n]) => `${n} ${STATUS_WORDS[status as VerifyStatus]}`).join(', ');
  const entries = Object.entries(summary.byStatus) as Array<[VerifyStatus, number]>;
  if (failingCount === 0) {
    lines.push(
      '',
      c.green(
        total === 0
          ? 'Verdict: no provider credentials stored: nothing to verify.'
          : `Verdict: every credential passes (${counts(entries)}).`,
      ),
    );
  } else {
    const failingStatuses = new Set(entries.filter(([status]) => failing({ status } as VerifyResult)).map(([status]) => status));
    const rest = entries.filter(([status]) => !failingStatuses.has(status));
    lines.push(
      '',
      c.red(
        `Verdict: ${failingCount} failing (${counts(entries.filter(([status]) => failingStatuses.has(status)))})${rest.length > 0 ? `; also ${counts(rest)}` : ''}.`,
      ),
    );
  }
  return lines.join('\n');
}

/** Results grouped by workspace and project, as a table. */
function appendResults(lines: string[], shown: VerifyResult[], names: NameDirectory | null, c: ChalkInstance): void {
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
      for (const r of project.items) lines.push(renderResultRow(r, c));
    }
  }
}

/** One result as a table row (--all streams these, with its place). */
export function renderResultRow(r: VerifyResult, c: ChalkInstance, withPlace = false): string {
  const retry = r.retryAfterSeconds === null ? '' : `${Math.round(r.retryAfterSeconds)}s`;
  const place = withPlace && r.projectId ? ` ${c.dim(`[project ${r.projectId}]`)}` : '';
  return `    ${(r.provider ?? '-').padEnd(10)} ${printable(r.name).padEnd(22)} ${paint(c, r.status)(STATUS_WORDS[r.status].padEnd(30))} ${String(r.httpStatus ?? '').padEnd(5)} ${retry.padEnd(6)} ${r.detail ?? ''}${place}`;
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
export function junitTestcase(r: VerifyResult, failing: (r: VerifyResult) => boolean): string {
  const name = xml(`${r.provider ?? 'unknown'} ${r.name}${r.id ? ` (${r.id})` : ''}`);
  const classname = xml(r.projectId ? `lmnr-keys.project.${r.projectId}` : 'lmnr-keys.key');
  const message = xml(`${STATUS_WORDS[r.status]}${r.httpStatus ? ` (HTTP ${r.httpStatus})` : ''}${r.detail ? `: ${r.detail}` : ''}`);
  if (r.status === 'skipped') return `    <testcase classname="${classname}" name="${name}"><skipped message="${message}"/></testcase>`;
  if (failing(r))
    return `    <testcase classname="${classname}" name="${name}"><failure type="${r.status}" message="${message}"/></testcase>`;
  if (r.status !== 'ok') return `    <testcase classname="${classname}" name="${name}"><system-out>${message}</system-out></testcase>`;
  return `    <testcase classname="${classname}" name="${name}"/>`;
}

/** The JUnit document's opening (its counts are known only at the end: see JunitWriter). */
export function junitHead(tests: number, failures: number, skipped: number): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="lmnr-keys verify-provider" tests="${tests}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="verify-provider" tests="${tests}" failures="${failures}" skipped="${skipped}">`,
    '',
  ].join('\n');
}

export const JUNIT_TAIL = '  </testsuite>\n</testsuites>\n';

/** The whole report of a run that could not complete: one testcase in error, saying why. */
export function junitRunFailed(message: string): string {
  return (
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<testsuites name="lmnr-keys verify-provider" tests="1" failures="0" errors="1" skipped="0">',
      '  <testsuite name="verify-provider" tests="1" failures="0" errors="1" skipped="0">',
      `    <testcase classname="lmnr-keys" name="verify-provider"><error message="${xml(`the run could not complete: ${message}`)}"/></testcase>`,
      '',
    ].join('\n') + JUNIT_TAIL
  );
}

/** Kept per kind of annotation: GitHub shows no more than 10 of each kind per step. */
const ANNOTATIONS_PER_KIND = 10;

/**
 * GitHub Actions workflow commands, as results arrive: ::error:: for failing results,
 * ::warning:: for other non-ok ones, the first 10 of each kind; then one summary annotation.
 */
export class GithubAnnotations {
  private readonly shown = { error: 0, warning: 0 };
  private readonly total = { error: 0, warning: 0 };

  constructor(
    private readonly failing: (r: VerifyResult) => boolean,
    private readonly emit: (line: string) => void,
  ) {}

  add(r: VerifyResult): void {
    if (r.status === 'ok' || r.status === 'skipped') return;
    const level = this.failing(r) ? 'error' : 'warning';
    this.total[level] += 1;
    if (this.shown[level] >= ANNOTATIONS_PER_KIND) return;
    this.shown[level] += 1;
    this.emit(
      `::${level} title=lmnr-keys ${r.provider ?? ''} ${printable(r.name)}::${escapeAnnotation(`${r.projectId ? `project ${r.projectId}: ` : ''}${printable(r.name)} ${STATUS_WORDS[r.status]}${r.detail ? ` - ${r.detail}` : ''}`)}`,
    );
  }

  /** The one annotation that counts everything, when anything was left out. */
  finish(summary: VerifySummary): void {
    const left = this.total.error - this.shown.error + (this.total.warning - this.shown.warning);
    if (left === 0) return;
    const counts = Object.entries(summary.byStatus)
      .map(([status, n]) => `${n} ${STATUS_WORDS[status as VerifyStatus]}`)
      .join(', ');
    this.emit(
      `::${this.total.error > 0 ? 'error' : 'warning'} title=lmnr-keys verify-provider::${escapeAnnotation(`${summary.total} credentials: ${counts}. ${left} more not shown as annotations (GitHub shows 10 of each kind): see the report (--json, --junit)`)}`,
    );
  }
}

/** A workflow command's message: %, CR and LF escaped as GitHub reads them. */
export function escapeAnnotation(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
