/**
 * The documentation's shape and its generated parts: a README read in minutes that links every
 * docs/ file, each docs/ file saying first what it answers, links that lead somewhere, and the
 * exit codes and flags equal to what the program prints (scripts/docs.mjs writes them).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { definitions } from '../../src/commands/definitions.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const docsFiles = fs
  .readdirSync(path.join(root, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/${file}`);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const heading = !inCode && /^#{1,6} (.*)$/.exec(line);
    if (heading)
      found.add(
        heading[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, '')
          .replace(/ /g, '-'),
      );
  }
  return found;
}

describe('the README and docs/', () => {
  it('the README is under 15 KB and links every docs/ file and the CHANGELOG', () => {
    const readme = read('README.md');
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
    for (const file of [...docsFiles, 'CHANGELOG.md']) expect(readme, file).toContain(`](${file})`);
  });

  it('every docs/ file says first what it answers', () => {
    for (const file of docsFiles) {
      const lines = read(file).split('\n');
      expect(lines[0], file).toMatch(/^# /);
      expect(lines.slice(1, 4).join(' '), file).toMatch(/^\s*What this answers: /);
    }
  });

  it('every relative link leads to a file that exists, and every #anchor to a heading in it', () => {
    const broken: string[] = [];
    for (const file of ['README.md', 'CHANGELOG.md', ...docsFiles]) {
      const text = read(file);
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [filePart, anchor] = target.split('#');
        const resolved = filePart ? path.join(path.dirname(path.join(root, file)), filePart) : path.join(root, file);
        if (!fs.existsSync(resolved)) {
          broken.push(`${file}: ${target} (no such file)`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${file}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the generated parts (exit codes, flags) are up to date: npm run docs', async () => {
    // @ts-expect-error: a plain ES module script, without types
    const { generatedFiles } = (await import('../../scripts/docs.mjs')) as {
      generatedFiles: () => Array<{ file: string; current: string; expected: string }>;
    };
    for (const { file, current, expected } of generatedFiles()) expect(current, `${file}: run npm run docs`).toBe(expected);
  });

  it('--help of every command and docs/commands.md name the same flags', () => {
    const reference = read('docs/commands.md').split('## Flags')[1]!;
    for (const name of Object.keys(definitions)) {
      const help = spawnSync(process.execPath, ['--', path.join(root, 'bin/lmnr-keys.js'), name, '--help'], { encoding: 'utf8' });
      expect(help.status).toBe(0);
      // Option lines of --help ("  -f, --file <path>  ...") and the first cell of the reference's rows.
      const helpFlags = new Set(
        [...(help.stdout.split('\nOptions:')[1] ?? '').matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!),
      );
      helpFlags.delete('--help');
      const section = reference.split(`\n### ${name}\n`)[1]!.split('\n### ')[0]!;
      const documented = new Set([...section.matchAll(/^\| `(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!));
      expect([...documented].sort(), name).toEqual([...helpFlags].sort());
    }
  });
});
