/** Human rendering of a CheckDeploymentReport: a table per deployment source, the findings with their fixes, a verdict. */
import type { ChalkInstance } from 'chalk';
import { GROUP_TITLES, type CheckDeploymentReport, type ServiceRow } from '../core/check-deployment.js';
import type { DeploymentGroup } from '../deployment/types.js';
import { plural } from './format.js';

const STATUS_WORDS: Record<ServiceRow['status'], string> = {
  ok: 'ok',
  missing: 'missing',
  empty: 'empty',
  invalid: 'invalid',
  public_default: 'PUBLIC default key',
  external: 'external (not read)',
  not_given: 'not given (not read)',
};

function table(rows: string[][], c: ChalkInstance, paint: (row: number, column: number, text: string) => string): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row, index) =>
    `  ${row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .map((cell, column) => (index === 0 ? c.dim(cell) : paint(index, column, cell)))
      .join('  ')}`.trimEnd(),
  );
}

export function renderCheckDeployment(report: CheckDeploymentReport, c: ChalkInstance): string {
  const lines: string[] = [];
  lines.push(c.bold('Read'));
  for (const source of report.sources) lines.push(`  ${source.kind.padEnd(12)} ${source.path}`);
  if (report.sources.length === 0) lines.push(c.dim('  nothing'));

  const groups = [...new Set(report.services.map((row) => row.source))] as DeploymentGroup[];
  for (const group of groups) {
    const rows = report.services.filter((row) => row.source === group);
    lines.push('', c.bold(GROUP_TITLES[group]));
    const cells = [['SERVICE', 'VARIABLE', 'FINGERPRINT', 'STATUS', 'FROM'], ...rows.map((row) => [row.service, row.variable, row.fingerprint ?? '-', STATUS_WORDS[row.status], row.from])];
    lines.push(
      ...table(cells, c, (index, column, text) => {
        if (column !== 3) return text;
        const status = rows[index - 1]!.status;
        return status === 'ok' ? c.green(text) : status === 'external' || status === 'not_given' ? c.yellow(text) : c.red(text);
      }),
    );
  }

  lines.push('', c.bold('Database'));
  const database = report.database;
  if (!database.checked) {
    lines.push(c.dim(`  not checked: ${database.error ? database.error.message : database.reason}`));
  } else {
    const stored = database.stored.filter((s) => s.present);
    lines.push(`  stored: ${stored.map((s) => `${s.store} ${s.values}`).join(' · ') || 'no store present'}`);
    const cells = [
      ['KEY', 'OPENS', 'HELD BY'],
      ...database.opens
        .filter((o) => !o.publicDefault || o.values > 0 || o.heldBy.length > 0)
        .map((o) => [o.fingerprint, plural(o.values, 'value'), [o.publicDefault ? "Laminar's public default key" : '', ...o.heldBy].filter(Boolean).join(', ') || '-']),
    ];
    lines.push(...table(cells, c, (_, column, text) => text));
  }

  if (report.findings.length > 0) {
    lines.push('', c.bold('Findings'));
    for (const finding of report.findings) {
      lines.push(`  ${c.red('x')} ${c.red(finding.kind)}  ${finding.service} ${finding.variable} ${c.dim(`(${GROUP_TITLES[finding.source]})`)}`);
      lines.push(`    ${finding.detail}`);
      lines.push(`    fix: ${c.cyan(finding.fix)}`);
    }
  }
  if (report.notes.length > 0) {
    lines.push('', c.bold('Notes'));
    for (const note of report.notes) {
      const about = [note.service, note.variable].filter(Boolean).join(' ');
      lines.push(`  ${c.yellow('-')} ${about ? `${about}: ` : ''}${note.detail}`);
    }
  }

  lines.push('', verdict(report, c));
  return lines.join('\n');
}

function verdict(report: CheckDeploymentReport, c: ChalkInstance): string {
  if (!report.ok) {
    const kinds = [...new Set(report.findings.map((f) => f.kind))].join(', ');
    return c.red(`Verdict: ${plural(report.findings.length, 'finding')} (${kinds}): fix them with the commands above.`);
  }
  if (report.services.length === 0) return c.yellow('Verdict: no Laminar service found to check.');
  const database = report.database.checked ? ', and the stored values open under them' : '';
  const unread = report.services.some((row) => row.status === 'external' || row.status === 'not_given') ? ' (some values could not be read: see the notes)' : '';
  return c.green(`Verdict: healthy: every Laminar service found holds a valid key, the same as its neighbours${database}${unread}.`);
}
