/** The doctor document and its human rendering. */
import type { ChalkInstance } from 'chalk';
import { adviseOnFinding, describeDuplicate, invocation, type AdviceContext } from '../core/advice.js';
import type { DoctorReport, Finding, SecretReport } from '../core/doctor.js';
import type { CauseCount } from '../core/failure-tally.js';
import type { JsonElementWriter } from './json-stream.js';
import { groupByWorkspaceAndProject, plural } from './format.js';
import { printable } from '../printable.js';

/**
 * The document's fields after the streamed findings, in order: the report, with each
 * duplicate's `detail` (which prints a `set` command) written for this run's `--env-file`
 * flags; the human output prints that same detail.
 */
export function doctorDocumentTail(report: DoctorReport, context: Pick<AdviceContext, 'envFiles'> = {}) {
  return {
    stores: report.stores,
    summary: report.summary,
    failures: report.failures,
    warnings: report.warnings.map((warning) => ({ ...warning, detail: describeDuplicate(warning, context) })),
    takenOut: report.takenOut,
    writer: report.writer,
    verdict: report.verdict,
  };
}

/**
 * A finding as one compact JSON line, exactly JSON.stringify(finding) (a unit test holds them
 * equal), written field by field into the document's buffer: a million findings stream through
 * here, and a string per finding was what grew the garbage collector's young generation.
 */
export function writeFinding(out: JsonElementWriter, f: Finding): void {
  out.raw('{"store":');
  out.string(f.store);
  out.raw(',"id":');
  out.string(f.id);
  out.raw(',"workspaceId":');
  out.string(f.workspaceId);
  out.raw(',"workspaceName":');
  out.string(f.workspaceName);
  out.raw(',"projectId":');
  out.string(f.projectId);
  out.raw(',"projectName":');
  out.string(f.projectName);
  out.raw(',"name":');
  out.string(f.name);
  out.raw(',"status":');
  out.string(f.status);
  out.raw(',"decryptsWith":');
  out.string(f.decryptsWith);
  out.raw(',"detail":');
  out.string(f.detail);
  out.raw('}');
}

const SECRET_WORDS: Record<string, string> = {
  ok: 'ok',
  missing: 'missing',
  invalid: 'invalid',
  needs_cleanup: 'needs cleanup',
  public_default: "Laminar's PUBLIC default key",
};
const SECRET_WORD_WIDTH = Math.max(...Object.values(SECRET_WORDS).map((word) => word.length));

/** More failing values than this are summarised (counts per place and cause, the first ones in full) unless --all. */
export const FULL_LIST_LIMIT = 100;
const SHOWN_WHEN_SUMMARISED = 20;

export interface DoctorRenderOptions {
  all: boolean;
  /** The run's `--env-file` flags, repeated in every command printed. */
  envFiles?: readonly string[];
  /** The run named its database with --database-url, which is never printed (it holds the password). */
  databaseUrlFlag?: boolean;
  /** The run's --candidate flags (`candidateFlags`), which a printed doctor or quarantine must repeat. */
  candidates?: readonly string[];
  /** The run's other flags that change doctor's answer (--strict), repeated in a printed doctor. */
  doctorFlags?: readonly string[];
}

function adviceContextOf(report: Pick<DoctorReport, 'verdict'>, options: DoctorRenderOptions): AdviceContext {
  return {
    quarantineAdvisable: report.verdict.quarantineAdvisable,
    envFiles: options.envFiles ?? [],
    candidates: options.candidates ?? [],
  };
}

/** doctor as the operator reruns it: the run's env files, candidates and flags that change the answer. */
function doctorAgain(options: DoctorRenderOptions, context: AdviceContext): string {
  return [invocation('doctor', context), ...(options.candidates ?? []), ...(options.doctorFlags ?? [])].join(' ');
}

/** The first part of the human report, before any failing value: the key variables. */
export function renderDoctorHead(secrets: SecretReport[], c: ChalkInstance): string {
  const lines = [c.bold('Secrets')];
  for (const secret of secrets) {
    const paint =
      secret.status === 'ok' ? c.green : secret.status === 'missing' && secret.name === 'SLACK_ENCRYPTION_KEY' ? c.yellow : c.red;
    const word = (SECRET_WORDS[secret.status] ?? secret.status).padEnd(SECRET_WORD_WIDTH);
    const fingerprint = secret.fingerprint ? c.dim(`fingerprint ${secret.fingerprint}`) : '';
    lines.push(`  ${secret.name.padEnd(22)} ${paint(word)}  ${fingerprint}`.trimEnd());
    if (secret.problem) lines.push(`    ${secret.status === 'public_default' ? c.red.bold('WARNING: ') : ''}${secret.problem}`);
  }
  return lines.join('\n');
}

/** The heading of the streamed list (--all). */
export function renderFindingsHeading(c: ChalkInstance): string {
  return `\n${c.bold('Values Laminar cannot use')}`;
}

const PROJECT_MARK = '\u0001project\u0001';
const NAME_MARK = '\u0001name\u0001';

/**
 * --all's lines, as renderFindingLine writes them, part by part into stdout's buffer: a million
 * findings and no string per line. Each cause's advice is worked out once, with marks where the
 * value's project and name go, and split around them.
 */
export class FindingLines {
  private readonly advice = new Map<string, { cause: string; next: string[] }>();
  private readonly x: string;
  private readonly dim: (text: string) => string;
  private readonly red: (text: string) => string;

  constructor(
    private readonly c: ChalkInstance,
    private readonly context: AdviceContext,
    private readonly out: { part: (text: string) => void; end: () => void },
  ) {
    this.x = c.red('x');
    this.dim = (text) => c.dim(text);
    this.red = (text) => c.red(text);
  }

  write(f: Finding): void {
    const { out } = this;
    const colored = this.c.level > 0;
    out.part('  ');
    out.part(this.x);
    out.part(' ');
    out.part(printable(f.name));
    out.part(' ');
    if (colored) out.part(this.dim(`[${f.store} ${f.id}]`));
    else {
      out.part('[');
      out.part(f.store);
      out.part(' ');
      out.part(f.id);
      out.part(']');
    }
    out.part(' ');
    out.part(colored ? this.red(f.status) : f.status);
    out.part(' ');
    out.part(colored ? this.dim(`in ${placeLabel(f)}`) : `in ${placeLabel(f)}`);
    out.end();
    const advice = this.adviceFor(f);
    out.part('    cause: ');
    out.part(advice.cause);
    out.end();
    out.part('    next:  ');
    for (const piece of advice.next) {
      if (piece === PROJECT_MARK) out.part(f.projectId ?? 'PROJECT_ID');
      else if (piece === NAME_MARK) out.part(f.name);
      else out.part(piece);
    }
    out.end();
  }

  private adviceFor(f: Finding): { cause: string; next: string[] } {
    const key = `${f.store}\u0000${f.status}\u0000${f.decryptsWith ?? ''}\u0000${f.detail ?? ''}`;
    let known = this.advice.get(key);
    if (known) return known;
    const marked = adviseOnFinding({ ...f, projectId: PROJECT_MARK, name: NAME_MARK }, this.context);
    const next = advice(marked, this.c).split(/(\u0001project\u0001|\u0001name\u0001)/);
    known = { cause: marked.cause, next };
    // The cause and next step of a value whose detail is its own (malformed) are not kept: they would not repeat.
    if (this.advice.size < 1000 && !marked.cause.includes(PROJECT_MARK) && !marked.cause.includes(NAME_MARK)) this.advice.set(key, known);
    else known = { cause: adviseOnFinding(f, this.context).cause, next: [advice(adviseOnFinding(f, this.context), this.c)] };
    return known;
  }
}

function advice(advice: { command: string | null; nextStep: string }, c: ChalkInstance): string {
  return advice.command ? c.cyan(advice.command) : advice.nextStep;
}

/** One failing value, with its place, cause and next step (--all streams these). */
export function renderFindingLine(finding: Finding, c: ChalkInstance, context: AdviceContext): string {
  const advice = adviseOnFinding(finding, context);
  return [
    `  ${c.red('x')} ${printable(finding.name)} ${c.dim(`[${finding.store} ${finding.id}]`)} ${c.red(finding.status)} ${c.dim(`in ${placeLabel(finding)}`)}`,
    `    cause: ${advice.cause}`,
    `    next:  ${advice.command ? c.cyan(advice.command) : advice.nextStep}`,
  ].join('\n');
}

/**
 * The report after the scan. With `streamed` (--all), the failing values were already printed
 * one by one and are not listed again; otherwise the first ones are listed whole (all of them
 * up to SAMPLE_SIZE) with counts per cause and place.
 */
export function renderDoctor(report: DoctorReport, c: ChalkInstance, options: DoctorRenderOptions, streamed = false): string {
  const lines: string[] = [];
  const { verdict } = report;
  const adviceContext = adviceContextOf(report, options);
  if (report.writer) {
    lines.push(
      c.yellow.bold('An lmnr-keys writer is running on this database right now') +
        c.yellow(
          ` (${report.writer.purpose ?? 'lmnr-keys'}, backend pid ${report.writer.pid}${report.writer.since ? `, since ${report.writer.since}` : ''}): `,
        ) +
        c.yellow(
          'values it has not reached yet still open only under its old key. Run doctor again when it has ' +
            'finished; do not quarantine meanwhile.',
        ),
      '',
    );
  }
  for (const suspect of verdict.suspectedWrongKey) {
    lines.push(
      c.red.bold(`${suspect.failing} of ${suspect.total} ${suspect.store} values open under no key lmnr-keys knows. `) +
        c.red(`First question: is ${suspect.variable} (fingerprint ${suspect.fingerprint ?? 'none'}) the key Laminar runs with? `) +
        c.red(
          `Compare with \`${invocation('check-deployment', adviceContext)}\`, or \`docker compose exec -T frontend printenv AEAD_SECRET_KEY ` +
            '| lmnr-keys fingerprint`. Do not quarantine before you know.',
        ),
      '',
    );
  }
  if (!streamed) lines.push(renderDoctorHead(report.secrets, c));

  lines.push('', c.bold('Stores'));
  for (const store of report.stores) {
    if (!store.present) {
      lines.push(`  ${store.store.padEnd(38)} ${c.dim(`not present (${store.reason ?? 'older Laminar'})`)}`);
      continue;
    }
    const failing = store.failing > 0 ? c.red(`${store.failing} failing`) : c.green('0 failing');
    lines.push(`  ${store.store.padEnd(38)} ${plural(store.total, 'value').padEnd(14)} ${String(store.ok).padStart(8)} ok   ${failing}`);
  }

  const failing = report.summary.failing;
  const { failures } = report;
  if (failing > 0 && !streamed) {
    lines.push('', c.bold('Values Laminar cannot use'));
    const summarise = !options.all && failing > FULL_LIST_LIMIT;
    if (summarise) {
      appendSummary(lines, report, c);
      lines.push('', `  The first ${SHOWN_WHEN_SUMMARISED}:`);
    }
    appendFindings(lines, summarise ? failures.sample.slice(0, SHOWN_WHEN_SUMMARISED) : failures.sample, c, adviceContext);
    if (summarise)
      lines.push(
        `  ... and ${failing - SHOWN_WHEN_SUMMARISED} more: list them all with \`${doctorAgain(options, adviceContext)} --all\`, or \`--json\`.`,
      );
  } else if (failing > FULL_LIST_LIMIT) {
    lines.push('', c.bold('Summary of the values above'));
    appendSummary(lines, report, c);
  }

  if (report.warnings.length > 0) {
    lines.push('', c.bold('Warnings'));
    const shownWarnings =
      options.all || report.warnings.length <= FULL_LIST_LIMIT ? report.warnings : report.warnings.slice(0, SHOWN_WHEN_SUMMARISED);
    if (shownWarnings.length < report.warnings.length)
      lines.push(`  ${report.warnings.length} key names are stored more than once in one project; the first ${shownWarnings.length}:`);
    for (const warning of shownWarnings) {
      const project = warning.projectName ? `"${printable(warning.projectName)}" (${warning.projectId})` : warning.projectId;
      lines.push(`  ${c.yellow('!')} project ${project}: ${describeDuplicate(warning, adviceContext)}`);
      const ids = warning.ids
        .slice(0, 10)
        .map((id) =>
          warning.openingIds.includes(id) ? `${id} (opens)` : warning.recoverableIds.includes(id) ? `${id} (opens under another key)` : id,
        );
      lines.push(`    ids: ${ids.join(', ')}${warning.ids.length > ids.length ? `, ... ${warning.ids.length - ids.length} more` : ''}`);
    }
    if (shownWarnings.length < report.warnings.length)
      lines.push(
        `  ... and ${report.warnings.length - shownWarnings.length} more: \`${doctorAgain(options, adviceContext)} --all\` or \`--json\`.`,
      );
  }

  if (report.takenOut.length > 0) {
    lines.push('', c.bold('Taken out earlier'));
    for (const note of report.takenOut) {
      const workspace = note.workspaceName
        ? `"${printable(note.workspaceName)}" (${note.workspaceId})`
        : (note.workspaceId ?? 'unknown workspace');
      lines.push(`  ${c.yellow('!')} workspace ${workspace} ${c.dim(`[${note.store} ${note.id}]`)}: ${note.detail}`);
    }
  }

  // One step per cause: the advice depends on the cause alone, never on the value (the per-value
  // details, a project or a name, are the placeholders PROJECT_ID and NAME here).
  const commands = new Set<string>();
  const otherSteps = new Map<string, number>();
  for (const cause of failures.causes) {
    const advice = adviseOnFinding(representative(cause), adviceContext);
    if (advice.command !== null) commands.add(advice.command);
    else otherSteps.set(advice.nextStep, (otherSteps.get(advice.nextStep) ?? 0) + cause.count);
  }
  if (commands.size > 0 || (otherSteps.size > 0 && failing > FULL_LIST_LIMIT)) lines.push('', c.bold('Next steps'));
  if (commands.size > 0) {
    lines.push('  Re-seal what an available key opens (plans first; add --dry-run to only look):');
    for (const command of commands) lines.push(`    ${c.cyan(command)}`);
  }
  // Listed one by one above when there are few; summarised here when there are many.
  if (failing > FULL_LIST_LIMIT)
    for (const [step, count] of otherSteps) lines.push(`  For ${plural(count, 'value')} no available key re-seals: ${step}`);
  if (options.databaseUrlFlag && (commands.size > 0 || failing > 0 || report.warnings.length > 0))
    lines.push(c.dim('  (Add the --database-url you gave to these commands: it is not printed, since it holds the password.)'));

  lines.push('', verdictLine(report, c, adviceContext));
  return lines.join('\n');
}

/** A finding standing for every value of one cause (advice depends on the cause, not the value). */
function representative(cause: CauseCount): Finding {
  return {
    store: cause.store,
    id: '',
    workspaceId: null,
    workspaceName: null,
    projectId: null,
    projectName: null,
    name: 'NAME',
    status: cause.status as Finding['status'],
    decryptsWith: cause.decryptsWith,
    detail: null,
  };
}

function placeLabel(item: {
  workspaceId: string | null;
  workspaceName: string | null;
  projectId: string | null;
  projectName: string | null;
}): string {
  const workspace = item.workspaceName ? `"${printable(item.workspaceName)}"` : (item.workspaceId ?? 'no workspace');
  return item.projectId
    ? `workspace ${workspace} / project ${item.projectName ? `"${printable(item.projectName)}" (${item.projectId})` : item.projectId}`
    : `workspace ${workspace}${item.workspaceId && item.workspaceName ? ` (${item.workspaceId})` : ''}`;
}

function appendFindings(lines: string[], findings: Finding[], c: ChalkInstance, context: AdviceContext): void {
  for (const workspace of groupByWorkspaceAndProject(findings)) {
    lines.push(`  ${c.bold('Workspace')} ${workspace.label}`);
    for (const project of workspace.projects) {
      const indent = project.label ? '      ' : '    ';
      if (project.label) lines.push(`    ${c.bold('Project')} ${project.label}`);
      for (const finding of project.items) {
        const advice = adviseOnFinding(finding, context);
        lines.push(
          `${indent}${c.red('x')} ${printable(finding.name)} ${c.dim(`[${finding.store} ${finding.id}]`)} ${c.red(finding.status)}`,
        );
        lines.push(`${indent}  cause: ${advice.cause}`);
        lines.push(`${indent}  next:  ${advice.command ? c.cyan(advice.command) : advice.nextStep}`);
      }
    }
  }
}

/** Counts per cause and per place (by id, named), largest first: what an operator reads when thousands fail. */
function appendSummary(lines: string[], report: DoctorReport, c: ChalkInstance): void {
  const { failures } = report;
  lines.push(`  ${plural(report.summary.failing, 'value')} fail. By cause:`);
  for (const cause of failures.causes.slice(0, 20))
    lines.push(
      `    ${String(cause.count).padStart(8)}  ${cause.status}${cause.decryptsWith ? ` (opens with ${cause.decryptsWith})` : ''} in ${cause.store}`,
    );
  lines.push(
    `  Where (${failures.placeCount > failures.places.length ? `the ${failures.places.length} largest of ${failures.placeCount} places` : plural(failures.placeCount, 'place')}):`,
  );
  for (const place of failures.places) lines.push(`    ${String(place.count).padStart(8)}  ${placeLabel(place)}`);
  lines.push(c.dim('  (each cause has one fix: "Next steps" below says it for every value of that cause)'));
}

function verdictLine(report: DoctorReport, c: ChalkInstance, context: AdviceContext): string {
  const { total } = report.summary;
  if (report.verdict.ok && report.verdict.noSecretsYet)
    return c.yellow(
      'Verdict: no stored secrets yet: the Laminar tables are there but hold no provider key, deployment or Slack token. ' +
        'If you expected some, check that this is the database Laminar uses (the line "Reading Postgres at ..." above).',
    );
  if (report.verdict.ok) {
    const defaultKey = report.secrets.some((secret) => secret.status === 'public_default');
    return defaultKey
      ? c.yellow(
          `Verdict: all ${plural(total, 'stored secret')} open, but under Laminar's ` +
            `PUBLIC default key: rotate to a key of your own (lmnr-keys gen-secret --out ` +
            `FILE, then ${invocation('rotate', context)}).`,
        )
      : c.green(`Verdict: healthy: all ${plural(total, 'stored secret')} open under the current keys.`);
  }
  return c.red(`Verdict: problems found: ${report.verdict.problems.join('; ')}.`);
}
