/**
 * GitHub's job summary: with GITHUB_STEP_SUMMARY set, doctor, verify-provider and
 * check-deployment append GitHub-flavoured Markdown to that file — the verdict, a table of counts,
 * the first findings with their fix, "and N more". Bounded well under GitHub's 1 MiB (a summary
 * over it is dropped): at most STEP_SUMMARY_BYTES, whatever the number of findings. Names and
 * details come from the database and the operator's files: shown as printable text, escaped for
 * Markdown, and passed through the run's redactor by the caller.
 */
import type { DoctorReport, Finding } from '../core/doctor.js';
import { adviseOnFinding, type AdviceContext } from '../core/advice.js';
import type { VerifyResult, VerifyStatus, VerifySummary } from '../core/verify.js';
import type { CheckDeploymentResult } from '../core/check-deployment.js';
import { printable } from '../printable.js';
import { STATUS_WORDS } from './verify.js';

export const STEP_SUMMARY_BYTES = 64 * 1024;
/** Findings listed in full; the rest are counted. */
export const STEP_SUMMARY_FINDINGS = 20;
const DETAIL_CHARACTERS = 600;

export interface SummaryItem {
  title: string;
  detail: string | null;
  /** The command that fixes it. */
  fix: string | null;
  /** What to do when no one command does, in words with `commands` in backticks. */
  next?: string | null;
}

export interface StepSummary {
  command: string;
  ok: boolean;
  verdict: string;
  table: { headers: string[]; rows: Array<Array<string | number>> };
  items: SummaryItem[];
  /** How many findings there are in all (items holds the first ones). */
  total: number;
}

/** Text as Markdown shows it literally: printable, no HTML, no table breaks, no emphasis. */
export function markdownText(text: string): string {
  return printable(text)
    .replace(/\\/g, '\\\\')
    .replace(/([`*[\]<>|#~])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

/** A command as inline code (a backtick inside gets a longer fence, as CommonMark allows). */
function code(text: string): string {
  const clean = printable(text).replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...(clean.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${longest > 0 ? ' ' : ''}${clean}${longest > 0 ? ' ' : ''}${fence}`;
}

/** Our own advice: words as text, what it puts in backticks as code. */
function prose(text: string): string {
  return text
    .split('`')
    .map((part, index) => (index % 2 === 1 ? code(part) : markdownText(part)))
    .join('');
}

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

export function renderStepSummary(summary: StepSummary): string {
  const parts: string[] = [];
  parts.push(`## lmnr-keys ${summary.command}: ${summary.ok ? 'healthy' : 'problems found'}\n\n`);
  parts.push(`${summary.ok ? '✅' : '❌'} ${markdownText(summary.verdict)}\n\n`);
  if (summary.table.rows.length > 0) {
    parts.push(`| ${summary.table.headers.map(markdownText).join(' | ')} |\n`);
    parts.push(`|${summary.table.headers.map((_, i) => (i === summary.table.headers.length - 1 ? ' ---: ' : ' --- ')).join('|')}|\n`);
    for (const row of summary.table.rows) parts.push(`| ${row.map((cell) => markdownText(String(cell))).join(' | ')} |\n`);
    parts.push('\n');
  }
  const closing = (shown: number) =>
    summary.total > shown ? `\nand ${summary.total - shown} more: see the run's log or its JSON report (\`--json-out\`).\n` : '';
  let body = '';
  let shown = 0;
  if (summary.items.length > 0) body += `### ${summary.total === 1 ? 'Finding' : 'Findings'}\n\n`;
  const head = parts.join('');
  for (const item of summary.items.slice(0, STEP_SUMMARY_FINDINGS)) {
    const entry =
      `${shown + 1}. **${markdownText(clip(item.title, 200))}**` +
      (item.detail ? `: ${markdownText(clip(item.detail, DETAIL_CHARACTERS))}` : '') +
      (item.fix ? `\n   Fix: ${code(clip(item.fix, DETAIL_CHARACTERS))}` : '') +
      (!item.fix && item.next ? `\n   Next: ${prose(clip(item.next, DETAIL_CHARACTERS))}` : '') +
      '\n';
    // Room for the closing line too: the whole summary stays under the bound.
    if (Buffer.byteLength(head + body + entry + closing(shown + 1)) > STEP_SUMMARY_BYTES - 256) break;
    body += entry;
    shown += 1;
  }
  return `${head}${body}${closing(shown)}\n`;
}

/** The summary of a run that could not complete (exit 2-4, a signal): what stopped it and what to do. */
export function renderFailedRunSummary(command: string, failure: { exitCode: number; message: string; hint: string | null }): string {
  return (
    `## lmnr-keys ${command}: could not complete (exit ${failure.exitCode})\n\n` +
    `❌ ${markdownText(failure.message)}\n\n` +
    (failure.hint ? `${markdownText(failure.hint)}\n\n` : '')
  );
}

/** doctor: the verdict, values per store and status, the first failing values with their fix. */
export function doctorStepSummary(report: DoctorReport, context: AdviceContext): StepSummary {
  const rows: Array<Array<string | number>> = [];
  for (const store of report.stores.filter((s) => s.present)) {
    for (const [status, count] of Object.entries(store.byStatus)) if (count) rows.push([store.store, status, count]);
  }
  const items = report.failures.sample.slice(0, STEP_SUMMARY_FINDINGS).map((finding: Finding) => {
    const advice = adviseOnFinding(finding, context);
    const place = finding.projectName ?? finding.workspaceName ?? finding.projectId ?? finding.workspaceId;
    return {
      title: `${finding.status}: ${finding.store} ${finding.name}${place ? ` (${place})` : ''}`,
      detail: finding.detail,
      fix: advice.command,
      next: advice.nextStep,
    };
  });
  const verdict = report.verdict.ok
    ? report.verdict.noSecretsYet
      ? 'No secret is stored yet.'
      : `Every stored value opens under the current key (${report.summary.total} values).`
    : report.verdict.problems.join(' ');
  return {
    command: 'doctor',
    ok: report.verdict.ok,
    verdict,
    table: { headers: ['store', 'status', 'values'], rows },
    items,
    total: report.summary.failing,
  };
}

/** What to do about a credential, by what its provider answered: words, with `commands` in backticks. */
export function verifyNextStep(r: Pick<VerifyResult, 'status' | 'projectId' | 'name' | 'provider'>): string | null {
  const set = (name: string) => `\`lmnr-keys set --project ${r.projectId ?? 'PROJECT'} --name ${name} --value env:NEW_KEY --yes\``;
  const next: Record<VerifyStatus, string | null> = {
    ok: null,
    invalid_key: `replace the key with a valid one: ${set(r.name)} (or in Laminar's project settings)`,
    quota_exceeded: `raise the quota or add billing at ${r.provider ?? 'the provider'}, or replace the key: ${set(r.name)}`,
    rate_limited: 'transient: run verify-provider again later (with a lower `--concurrency`)',
    access_denied: "give the key access to the model in the provider's console, or probe another model with `--model PROVIDER=ID`",
    provider_error: "the provider's side (or a proxy answering for it): check its status page, then run verify-provider again",
    network_error: 'check that this machine reaches the provider (proxy, firewall, DNS), or use `--base-url` for a gateway',
    decode_failed: 'the key Laminar runs with does not open it, so nothing was sent: `lmnr-keys doctor` names the cause',
    incomplete_credentials: 'save the companion values the provider needs in the same project (`lmnr-keys set --name ...`)',
    skipped: null,
  };
  return next[r.status];
}

/** verify-provider: the verdict, credentials per provider and status, the first that fail. */
export function verifyStepSummary(
  summary: VerifySummary,
  notOk: readonly VerifyResult[],
  failingCount: number,
  failing: (r: VerifyResult) => boolean,
): StepSummary {
  const rows: Array<Array<string | number>> = [];
  for (const [provider, statuses] of Object.entries(summary.byProvider))
    for (const [status, count] of Object.entries(statuses)) if (count) rows.push([provider, status, count]);
  const listed = notOk.filter(failing);
  const items = listed.slice(0, STEP_SUMMARY_FINDINGS).map((r) => ({
    title: `${STATUS_WORDS[r.status]}: ${r.provider ?? 'unknown'} ${r.name}${r.projectId ? ` (project ${r.projectId})` : ''}`,
    detail: `${r.httpStatus ? `HTTP ${r.httpStatus}` : ''}${r.httpStatus && r.detail ? ': ' : ''}${r.detail ?? ''}` || null,
    fix: null,
    next: verifyNextStep(r),
  }));
  return {
    command: 'verify-provider',
    ok: failingCount === 0,
    verdict:
      failingCount === 0
        ? summary.total === 0
          ? 'No provider credential is stored: nothing to verify.'
          : `Every credential passes (${summary.total}).`
        : `${failingCount} of ${summary.total} credentials fail.`,
    table: { headers: ['provider', 'status', 'credentials'], rows },
    items,
    total: failingCount,
  };
}

/** check-deployment: the verdict, findings per kind, the first findings with their fix. */
export function deploymentStepSummary(result: CheckDeploymentResult): StepSummary {
  const byKind = new Map<string, number>();
  for (const finding of result.findings) byKind.set(finding.kind, (byKind.get(finding.kind) ?? 0) + 1);
  return {
    command: 'check-deployment',
    ok: result.findings.length === 0,
    verdict:
      result.findings.length === 0
        ? result.services.length === 0
          ? 'No Laminar service found to check.'
          : 'Every Laminar service found holds a valid key, the same as its neighbours.'
        : `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} about how the services receive their keys.`,
    table: { headers: ['finding', 'count'], rows: [...byKind] },
    items: result.findings.slice(0, STEP_SUMMARY_FINDINGS).map((finding) => ({
      title: `${finding.kind}: ${finding.service}${finding.container ? ` (container ${finding.container})` : ''}${finding.pod ? ` (pod ${finding.pod})` : ''} ${finding.variable}`,
      detail: finding.detail,
      // check-deployment's fixes are sentences with commands inside: shown as text.
      fix: null,
      next: finding.fix.replace(/`/g, "'"),
    })),
    total: result.findings.length,
  };
}
