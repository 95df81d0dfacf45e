/** Human rendering of a DoctorReport. */
import type { ChalkInstance } from 'chalk';
import { adviseOnFinding } from '../core/advice.js';
import type { DoctorReport, Finding } from '../core/doctor.js';
import { groupByWorkspaceAndProject, plural } from './format.js';

const SECRET_WORDS: Record<string, string> = {
  ok: 'ok',
  missing: 'missing',
  invalid: 'invalid',
  needs_cleanup: 'needs cleanup',
  public_default: "Laminar's PUBLIC default key",
};

export function renderDoctor(report: DoctorReport, c: ChalkInstance, strict: boolean): string {
  const lines: string[] = [];
  lines.push(c.bold('Secrets'));
  for (const secret of report.secrets) {
    const paint = secret.status === 'ok' ? c.green : secret.status === 'missing' && secret.name === 'SLACK_ENCRYPTION_KEY' ? c.yellow : c.red;
    const fingerprint = secret.fingerprint ? c.dim(`fingerprint ${secret.fingerprint}`) : '';
    lines.push(`  ${secret.name.padEnd(22)} ${paint(SECRET_WORDS[secret.status] ?? secret.status).padEnd(20)} ${fingerprint}`);
    if (secret.problem) lines.push(`    ${secret.status === 'public_default' ? c.red.bold('WARNING: ') : ''}${secret.problem}`);
  }

  lines.push('', c.bold('Stores'));
  for (const store of report.stores) {
    if (!store.present) {
      lines.push(`  ${store.store.padEnd(38)} ${c.dim(`not present (${store.reason ?? 'older Laminar'})`)}`);
      continue;
    }
    const failing = store.failing > 0 ? c.red(`${store.failing} failing`) : c.green('0 failing');
    lines.push(`  ${store.store.padEnd(38)} ${plural(store.total, 'value').padEnd(10)} ${String(store.ok).padStart(6)} ok   ${failing}`);
  }

  if (report.findings.length > 0) {
    lines.push('', c.bold('Values Laminar cannot use'));
    lines.push(...renderFindings(report.findings, c));
  }

  if (report.warnings.length > 0) {
    lines.push('', c.bold('Warnings'));
    for (const warning of report.warnings) {
      const project = warning.projectName ? `"${warning.projectName}" (${warning.projectId})` : warning.projectId;
      lines.push(`  ${c.yellow('!')} project ${project}: ${warning.detail}`);
      lines.push(`    ids: ${warning.ids.map((id) => (warning.openingIds.includes(id) ? `${id} (opens)` : id)).join(', ')}`);
    }
  }

  if (report.takenOut.length > 0) {
    lines.push('', c.bold('Taken out earlier'));
    for (const note of report.takenOut) {
      const workspace = note.workspaceName ? `"${note.workspaceName}" (${note.workspaceId})` : note.workspaceId ?? 'unknown workspace';
      lines.push(`  ${c.yellow('!')} workspace ${workspace} ${c.dim(`[${note.store} ${note.id}]`)}: ${note.detail}`);
    }
  }

  const commands = [...new Set(report.findings.map((finding) => adviseOnFinding(finding).command).filter((cmd): cmd is string => cmd !== null))];
  if (commands.length > 0) {
    lines.push('', c.bold('Next steps'));
    lines.push('  Re-seal what an available key opens (plans first; add --dry-run to only look):');
    for (const command of commands) lines.push(`    ${c.cyan(command)}`);
  }

  lines.push('', verdictLine(report, c, strict));
  return lines.join('\n');
}

function renderFindings(findings: Finding[], c: ChalkInstance): string[] {
  const lines: string[] = [];
  for (const workspace of groupByWorkspaceAndProject(findings)) {
    lines.push(`  ${c.bold('Workspace')} ${workspace.label}`);
    for (const project of workspace.projects) {
      const indent = project.label ? '      ' : '    ';
      if (project.label) lines.push(`    ${c.bold('Project')} ${project.label}`);
      for (const finding of project.items) {
        const advice = adviseOnFinding(finding);
        lines.push(`${indent}${c.red('x')} ${finding.name} ${c.dim(`[${finding.store} ${finding.id}]`)} ${c.red(finding.status)}`);
        lines.push(`${indent}  cause: ${advice.cause}`);
        lines.push(`${indent}  next:  ${advice.command ? c.cyan(advice.command) : advice.nextStep}`);
      }
    }
  }
  return lines;
}

function verdictLine(report: DoctorReport, c: ChalkInstance, strict: boolean): string {
  const { total, failing } = report.summary;
  if (report.ok) {
    const defaultKey = report.secrets.some((secret) => secret.status === 'public_default');
    return defaultKey
      ? c.yellow(`Verdict: all ${plural(total, 'stored secret')} open, but under Laminar's PUBLIC default key: rotate to a key of your own (lmnr-keys gen-secret, then lmnr-keys rotate).`)
      : c.green(`Verdict: healthy: all ${plural(total, 'stored secret')} open under the current keys.`);
  }
  const reasons: string[] = [];
  if (failing > 0) reasons.push(`${failing} of ${plural(total, 'stored secret')} cannot be used by Laminar`);
  if (report.secrets.some((secret) => secret.status === 'needs_cleanup')) reasons.push('a key variable needs cleanup');
  if (strict && report.secrets.some((secret) => secret.status === 'public_default')) reasons.push("Laminar's public default key is in use (--strict)");
  if (strict && report.warnings.length > 0) reasons.push('duplicate key names (--strict)');
  return c.red(`Verdict: problems found: ${reasons.join('; ')}.`);
}
