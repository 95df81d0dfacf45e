#!/usr/bin/env node
/**
 * npm run docs: writes the generated parts of the documentation from the program itself, so they
 * cannot drift from it — the exit code table (src/errors.ts's EXIT_CODE_MEANINGS) in README.md and
 * docs/output.md, and every command's flags (src/commands/definitions.ts, the same objects --help
 * prints) in docs/commands.md. Each part sits between `<!-- generated:NAME -->` and
 * `<!-- end:NAME -->`; the rest of each file is written by hand. `--check` changes nothing and
 * exits 1 when a file is not up to date (test/unit/docs.test.ts runs the same check).
 * Needs the build (dist/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EXIT_CODE_MEANINGS } = await import(path.join(root, 'dist/errors.js'));
const { definitions } = await import(path.join(root, 'dist/commands/definitions.js'));
const { buildCli } = await import(path.join(root, 'dist/cli.js'));

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function exitCodeTable() {
  return [
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(EXIT_CODE_MEANINGS).map(([code, meaning]) => `| ${code} | ${cell(meaning)} |`),
  ].join('\n');
}

function optionRows(options) {
  return options
    .filter((option) => !option.hidden)
    .map((option) => {
      const fallback =
        option.defaultValue === undefined || option.negate || (Array.isArray(option.defaultValue) && option.defaultValue.length === 0)
          ? ''
          : JSON.stringify(option.defaultValue);
      const choices = option.argChoices ? ` (one of: ${option.argChoices.join(', ')})` : '';
      return `| \`${cell(option.flags)}\` | ${cell(option.description)}${cell(choices)} | ${fallback ? `\`${cell(fallback)}\`` : ''} |`;
    });
}

/** The flags of every command, as --help has them: the program's global options, then each command's. */
export function flagReference() {
  const program = buildCli(
    { exitCode: 0, commandName: 'lmnr-keys', output: null, captured: null, metrics: null },
    { processEnv: {}, cwd: root },
  );
  const parts = ['### Every command', '', '| flag | what it does | default |', '|---|---|---|', ...optionRows(program.options)];
  for (const name of Object.keys(definitions)) {
    const command = definitions[name]();
    const usage = command.usage();
    parts.push('', `### ${name}`, '', `\`lmnr-keys ${name} ${usage}\`: ${cell(command.description())}`);
    const rows = optionRows(command.options);
    if (rows.length > 0) parts.push('', '| flag | what it does | default |', '|---|---|---|', ...rows);
  }
  return parts.join('\n');
}

const REGIONS = {
  'README.md': { 'exit-codes': exitCodeTable },
  'docs/output.md': { 'exit-codes': exitCodeTable },
  'docs/commands.md': { flags: flagReference },
};

/** The files as they should be: [file, current text, expected text]. */
export function generatedFiles() {
  return Object.entries(REGIONS).map(([file, regions]) => {
    const current = fs.readFileSync(path.join(root, file), 'utf8');
    let expected = current;
    for (const [name, render] of Object.entries(regions)) {
      const start = `<!-- generated:${name} (npm run docs) -->`;
      const end = `<!-- end:${name} -->`;
      const from = expected.indexOf(start);
      const to = expected.indexOf(end);
      if (from < 0 || to < from) throw new Error(`${file} has no ${start} ... ${end} region`);
      expected = `${expected.slice(0, from + start.length)}\n${render()}\n${expected.slice(to)}`;
    }
    return { file, current, expected };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const { file, current, expected } of generatedFiles()) {
    if (current === expected) continue;
    stale += 1;
    if (check) console.error(`${file} is not up to date: run npm run docs`);
    else fs.writeFileSync(path.join(root, file), expected);
  }
  process.exit(check && stale > 0 ? 1 : 0);
}
