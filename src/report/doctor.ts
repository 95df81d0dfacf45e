/** The doctor document and its human rendering. */
import type { ChalkInstance } from 'chalk';
import { adviseOnFinding, describeDuplicate, invocation, type AdviceContext } from '../core/advice.js';
import type { DoctorReport, Finding } from '../core/doctor.js';
import { documentOf, type Envelope } from './document.js';
import { groupByWorkspaceAndProject, plural } from './format.js';
import { printable } from '../printable.js';

export interface DoctorDocument extends Envelope<'doctor'>, DoctorReport {}

/**
 * The document: the report, with each duplicate's `detail` (which prints a `set` command)
 * written for this run's `--env-file` flags; the human output prints that same detail.
 */
export function doctorDocument(report: DoctorReport, context: Pick<AdviceContext, 'envFiles'> = {}): DoctorDocument {
  const warnings = report.warnings.map((warning) => ({ ...warning, detail: describeDuplicate(warning, context) }));
  return documentOf('doctor', report.verdict.ok, { ...report, warnings });
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
  /** The run's --candidate flags (`candidateFlags`), which a printed quarantine must repeat. */
  candidates?: readonly string[];
}

export function renderDoctor(doc: DoctorDocument, c: ChalkInstance, options: DoctorRenderOptions): string {
  const lines: string[] = [];
  const { verdict } = doc;
  const adviceContext: AdviceContext = {
    quarantineAdvisable: verdict.quarantineAdvisable,
    envFiles: options.envFiles ?? [],
    candidates: options.candidates ?? [],
  };
  if (doc.writer) {
    lines.push(
      c.yellow.bold('An lmnr-keys writer is running on this database right now') +
        c.yellow(
          ` (${doc.writer.purpose ?? 'lmnr-keys'}, backend pid ${doc.writer.pid}${doc.writer.since ? `, since ${doc.writer.since}` : ''}): `,
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
          `Compare with \`${invocation('check-deployment', adviceContext)}\`, or \`docker compose exec frontend printenv AEAD_SECRET_KEY ` +
            '| lmnr-keys fingerprint`. Do not quarantine before you know.',
        ),
      '',
    );
  }
  lines.push(c.bold('Secrets'));
  for (const secret of doc.secrets) {
    const paint =
      secret.status === 'ok' ? c.green : secret.status === 'missing' && secret.name === 'SLACK_ENCRYPTION_KEY' ? c.yellow : c.red;
    const word = (SECRET_WORDS[secret.status] ?? secret.status).padEnd(SECRET_WORD_WIDTH);
    const fingerprint = secret.fingerprint ? c.dim(`fingerprint ${secret.fingerprint}`) : '';
    lines.push(`  ${secret.name.padEnd(22)} ${paint(word)}  ${fingerprint}`.trimEnd());
    if (secret.problem) lines.push(`    ${secret.status === 'public_default' ? c.red.bold('WARNING: ') : ''}${secret.problem}`);
  }

  lines.push('', c.bold('Stores'));
  for (const store of doc.stores) {
    if (!store.present) {
      lines.push(`  ${store.store.padEnd(38)} ${c.dim(`not present (${store.reason ?? 'older Laminar'})`)}`);
      continue;
    }
    const failing = store.failing > 0 ? c.red(`${store.failing} failing`) : c.green('0 failing');
    lines.push(`  ${store.store.padEnd(38)} ${plural(store.total, 'value').padEnd(14)} ${String(store.ok).padStart(8)} ok   ${failing}`);
  }

  if (doc.findings.length > 0) {
    lines.push('', c.bold('Values Laminar cannot use'));
    const summarise = !options.all && doc.findings.length > FULL_LIST_LIMIT;
    if (summarise) {
      appendSummary(lines, doc.findings, c);
      lines.push('', `  The first ${SHOWN_WHEN_SUMMARISED}:`);
    }
    appendFindings(lines, summarise ? doc.findings.slice(0, SHOWN_WHEN_SUMMARISED) : doc.findings, c, adviceContext);
    if (summarise)
      lines.push(
        `  ... and ${doc.findings.length - SHOWN_WHEN_SUMMARISED} more: list them all with \`${invocation('doctor', adviceContext)} --all\`, or \`--json\`.`,
      );
  }

  if (doc.warnings.length > 0) {
    lines.push('', c.bold('Warnings'));
    const shownWarnings =
      options.all || doc.warnings.length <= FULL_LIST_LIMIT ? doc.warnings : doc.warnings.slice(0, SHOWN_WHEN_SUMMARISED);
    if (shownWarnings.length < doc.warnings.length)
      lines.push(`  ${doc.warnings.length} key names are stored more than once in one project; the first ${shownWarnings.length}:`);
    for (const warning of shownWarnings) {
      const project = warning.projectName ? `"${printable(warning.projectName)}" (${warning.projectId})` : warning.projectId;
      lines.push(`  ${c.yellow('!')} project ${project}: ${warning.detail}`);
      const ids = warning.ids
        .slice(0, 10)
        .map((id) =>
          warning.openingIds.includes(id) ? `${id} (opens)` : warning.recoverableIds.includes(id) ? `${id} (opens under another key)` : id,
        );
      lines.push(`    ids: ${ids.join(', ')}${warning.ids.length > ids.length ? `, ... ${warning.ids.length - ids.length} more` : ''}`);
    }
    if (shownWarnings.length < doc.warnings.length)
      lines.push(`  ... and ${doc.warnings.length - shownWarnings.length} more: \`--all\` or \`--json\`.`);
  }

  if (doc.takenOut.length > 0) {
    lines.push('', c.bold('Taken out earlier'));
    for (const note of doc.takenOut) {
      const workspace = note.workspaceName
        ? `"${printable(note.workspaceName)}" (${note.workspaceId})`
        : (note.workspaceId ?? 'unknown workspace');
      lines.push(`  ${c.yellow('!')} workspace ${workspace} ${c.dim(`[${note.store} ${note.id}]`)}: ${note.detail}`);
    }
  }

  const commands = new Set<string>();
  for (const finding of doc.findings) {
    const command = adviseOnFinding(finding, adviceContext).command;
    if (command !== null) commands.add(command);
  }
  if (commands.size > 0) {
    lines.push('', c.bold('Next steps'));
    lines.push('  Re-seal what an available key opens (plans first; add --dry-run to only look):');
    for (const command of commands) lines.push(`    ${c.cyan(command)}`);
  }
  if (options.databaseUrlFlag && (commands.size > 0 || doc.findings.length > 0 || doc.warnings.length > 0))
    lines.push(c.dim('  (Add the --database-url you gave to these commands: it is not printed, since it holds the password.)'));

  lines.push('', verdictLine(doc, c, adviceContext));
  return lines.join('\n');
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

/** Counts per cause and per place, largest first: what an operator reads when thousands fail. */
function appendSummary(lines: string[], findings: Finding[], c: ChalkInstance): void {
  const byCause = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const finding of findings) {
    const cause = `${finding.status}${finding.decryptsWith ? ` (opens with ${finding.decryptsWith})` : ''} in ${finding.store}`;
    byCause.set(cause, (byCause.get(cause) ?? 0) + 1);
    const workspace = finding.workspaceName ? `"${printable(finding.workspaceName)}"` : (finding.workspaceId ?? 'no workspace');
    const place = finding.projectId
      ? `workspace ${workspace} / project ${finding.projectName ? `"${printable(finding.projectName)}"` : finding.projectId}`
      : `workspace ${workspace}`;
    byPlace.set(place, (byPlace.get(place) ?? 0) + 1);
  }
  const top = (counts: Map<string, number>, limit: number) => [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  lines.push(`  ${plural(findings.length, 'value')} fail. By cause:`);
  for (const [cause, count] of top(byCause, 20)) lines.push(`    ${String(count).padStart(8)}  ${cause}`);
  const places = top(byPlace, 10);
  lines.push(
    `  Where (${byPlace.size > places.length ? `the ${places.length} largest of ${byPlace.size} places` : plural(byPlace.size, 'place')}):`,
  );
  for (const [place, count] of places) lines.push(`    ${String(count).padStart(8)}  ${place}`);
  lines.push(c.dim('  (each cause has the same fix: the commands under "Next steps" cover every value they name)'));
}

function verdictLine(doc: DoctorDocument, c: ChalkInstance, context: AdviceContext): string {
  const { total } = doc.summary;
  if (doc.verdict.ok) {
    const defaultKey = doc.secrets.some((secret) => secret.status === 'public_default');
    return defaultKey
      ? c.yellow(
          `Verdict: all ${plural(total, 'stored secret')} open, but under Laminar's ` +
            `PUBLIC default key: rotate to a key of your own (lmnr-keys gen-secret --out ` +
            `FILE, then ${invocation('rotate', context)}).`,
        )
      : c.green(`Verdict: healthy: all ${plural(total, 'stored secret')} open under the current keys.`);
  }
  return c.red(`Verdict: problems found: ${doc.verdict.problems.join('; ')}.`);
}
