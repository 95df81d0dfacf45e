/** The check-deployment document and its human rendering: a table per deployment source, the findings with their fixes, a verdict. */
import type { ChalkInstance } from 'chalk';
import { GROUP_TITLES, type CheckDeploymentResult, type ServiceRow } from '../core/check-deployment.js';
import type { DeploymentGroup } from '../deployment/types.js';
import { printable } from '../printable.js';
import { documentOf, type Envelope } from './document.js';
import { plural } from './format.js';

export interface CheckDeploymentDocument extends Envelope<'check-deployment'>, CheckDeploymentResult {}

/**
 * ok exactly when the run exits 0: no finding (notes never fail a run), and no database part that
 * failed (that run exits 4 after printing what the files showed).
 */
export function checkDeploymentDocument(result: CheckDeploymentResult): CheckDeploymentDocument {
  const databaseFailed = !result.database.checked && result.database.error !== undefined;
  return documentOf('check-deployment', result.findings.length === 0 && !databaseFailed, result);
}

export interface FingerprintBody {
  fingerprint: string | null;
  status: string;
  problem: string | null;
  /** stdin ended in CR LF (a TTY: docker compose exec without -T): fingerprinted without the CR, noted. */
  ttyLineEnding?: boolean;
}

export function fingerprintDocument(ok: boolean, body: FingerprintBody) {
  return documentOf('fingerprint', ok, body);
}

const STATUS_WORDS: Record<ServiceRow['status'], string> = {
  ok: 'ok',
  missing: 'missing',
  empty: 'empty',
  invalid: 'invalid',
  public_default: 'PUBLIC default key',
  external: 'external (not read)',
  not_given: 'not given (not read)',
};

function table(cells: string[][], c: ChalkInstance, paint: (row: number, column: number, text: string) => string): string[] {
  // Names, paths and places come from the operator's files: shown only as printable text.
  const rows = cells.map((row) => row.map(printable));
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row, index) =>
    `  ${row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .map((cell, column) => (index === 0 ? c.dim(cell) : paint(index, column, cell)))
      .join('  ')}`.trimEnd(),
  );
}

export function renderCheckDeployment(report: CheckDeploymentDocument, c: ChalkInstance): string {
  const lines: string[] = [];
  lines.push(c.bold('Read'));
  for (const source of report.sources) lines.push(`  ${source.kind.padEnd(12)} ${printable(source.path)}`);
  if (report.sources.length === 0) lines.push(c.dim('  nothing'));

  const groups = [...new Set(report.services.map((row) => row.source))] as DeploymentGroup[];
  for (const group of groups) {
    const rows = report.services.filter((row) => row.source === group);
    lines.push('', c.bold(GROUP_TITLES[group]));
    // Running containers are named twice: their compose service, and the container itself.
    const containers = group === 'containers';
    const cells = [
      ['SERVICE', ...(containers ? ['CONTAINER'] : []), 'VARIABLE', 'FINGERPRINT', 'STATUS', 'FROM'],
      ...rows.map((row) => [
        row.service,
        ...(containers ? [row.container ?? '-'] : []),
        row.variable,
        row.fingerprint ?? '-',
        STATUS_WORDS[row.status],
        row.from,
      ]),
    ];
    const statusColumn = containers ? 4 : 3;
    lines.push(
      ...table(cells, c, (index, column, text) => {
        if (column !== statusColumn) return text;
        const status = rows[index - 1]!.status;
        return status === 'ok' ? c.green(text) : status === 'external' || status === 'not_given' ? c.yellow(text) : c.red(text);
      }),
    );
  }

  lines.push('', c.bold('Database'));
  const database = report.database;
  if (!database.checked) {
    lines.push(c.dim(`  not checked: ${printable(database.error ? database.error.message : database.reason)}`));
  } else {
    const stored = database.stored.filter((s) => s.present);
    lines.push(`  stored: ${stored.map((s) => `${s.store} ${s.values}`).join(' · ') || 'no store present'}`);
    const cells = [
      ['KEY', 'OPENS', 'HELD BY'],
      ...database.opens
        .filter((o) => !o.publicDefault || o.values > 0 || o.heldBy.length > 0)
        .map((o) => [
          o.fingerprint,
          plural(o.values, 'value'),
          [o.publicDefault ? "Laminar's public default key" : '', ...o.heldBy].filter(Boolean).join(', ') || '-',
        ]),
    ];
    lines.push(...table(cells, c, (_row, _column, text) => text));
  }

  if (report.findings.length > 0) {
    lines.push('', c.bold('Findings'));
    for (const finding of report.findings) {
      lines.push(
        `  ${c.red('x')} ${c.red(finding.kind)}  ${printable(finding.service)}` +
          `${finding.container ? ` (container ${printable(finding.container)})` : ''}` +
          `${finding.pod ? ` (pod ${printable(finding.pod)})` : ''} ${finding.variable} ` +
          `${c.dim(`(${GROUP_TITLES[finding.source]})`)}`,
      );
      lines.push(`    ${printable(finding.detail)}`);
      lines.push(`    fix: ${c.cyan(printable(finding.fix))}`);
    }
  }
  if (report.notes.length > 0) {
    lines.push('', c.bold('Notes'));
    for (const note of report.notes) {
      const about = [note.service, note.variable].filter(Boolean).join(' ');
      lines.push(`  ${c.yellow('-')} ${printable(about ? `${about}: ` : '')}${printable(note.detail)}`);
    }
  }

  lines.push('', verdict(report, c));
  return lines.join('\n');
}

function verdict(report: CheckDeploymentDocument, c: ChalkInstance): string {
  if (report.findings.length === 0 && !report.ok) {
    return c.red('Verdict: no finding in what was read, but the database could not be checked (the error follows).');
  }
  if (!report.ok) {
    const kinds = [...new Set(report.findings.map((f) => f.kind))].join(', ');
    return c.red(`Verdict: ${plural(report.findings.length, 'finding')} (${kinds}): fix them with the commands above.`);
  }
  if (report.services.length === 0) return c.yellow('Verdict: no Laminar service found to check.');
  const database = report.database.checked ? ', and the stored values open under them' : '';
  const unread = report.services.some((row) => row.status === 'external' || row.status === 'not_given')
    ? ' (some values could not be read: see the notes)'
    : '';
  return c.green(`Verdict: healthy: every Laminar service found holds a valid key, the same as its neighbours${database}${unread}.`);
}
