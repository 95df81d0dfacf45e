/**
 * The Dockerfile and .dockerignore, read statically: no Docker daemon here. What each must hold
 * for the image to build and stay safe.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (name: string) => fs.readFileSync(path.join(root, name), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions: comments and blank lines dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (pending === '' && /^\s*(#|$)/.test(line)) continue;
    if (/^\s*#/.test(line)) continue; // a comment inside a continued instruction
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, '').trim()} `;
    if (continued) continue;
    const [keyword = '', ...rest] = pending.trim().split(/\s+/);
    instructions.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
    pending = '';
  }
  return instructions;
}

/** The instructions of each stage, FROM first. */
function stages(instructions: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') out.push([]);
    out[out.length - 1]?.push(instruction);
  }
  return out;
}

describe('Dockerfile', () => {
  const instructions = parseDockerfile(read('Dockerfile'));
  const [build, run] = stages(instructions) as [Instruction[], Instruction[]];

  it('the parser sees what is there (a test that cannot fail is a defect)', () => {
    expect(parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  # inside\n  && y\n')).toEqual([
      { keyword: 'FROM', args: 'a AS b' },
      { keyword: 'RUN', args: 'x && y' },
    ]);
    expect(stages(instructions)).toHaveLength(2);
  });

  it('every stage starts from node:20-alpine pinned by digest, the same image', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args.split(/\s+/)[0]!);
    expect(froms).toHaveLength(2);
    for (const from of froms) expect(from).toMatch(/^node:20-alpine@sha256:[0-9a-f]{64}$/);
    expect(new Set(froms).size).toBe(1);
  });

  it('builds with npm ci --omit=optional after copying what `prepare` (the build) needs, and prunes the devDependencies', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.json && node scripts/bundle.mjs');
    const runIndex = build.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(runIndex).toBeGreaterThan(0);
    const install = build[runIndex]!.args;
    expect(install).toMatch(/\bnpm ci\b[^&]*--omit=optional/);
    expect(install).toMatch(/\bnpm prune\b[^&]*--omit=dev[^&]*--omit=optional/);
    const copied = build
      .slice(0, runIndex)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'bin']) expect(copied).toContain(needed);
    for (const source of copied) expect(fs.existsSync(path.join(root, source)), source).toBe(true);
  });

  it('runs as a numeric non-root user, the bin as ENTRYPOINT (exec form), with only the built files and production dependencies', () => {
    const users = run.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(gid)).toBeGreaterThan(0);
    // USER comes before ENTRYPOINT, after every COPY (those stay root-owned, read-only to the user).
    const index = (keyword: string) => run.map((i) => i.keyword).lastIndexOf(keyword);
    expect(index('USER')).toBeGreaterThan(index('COPY'));
    const entrypoint = JSON.parse(run.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint).toEqual(['/app/bin/lmnr-keys.js']);
    expect(run.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    expect(fs.statSync(path.join(root, 'bin/lmnr-keys.js')).mode & 0o111).not.toBe(0);
    const fromBuild = run.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    for (const copy of fromBuild) expect(copy).toMatch(/^--from=build \/build\/(package\.json|bin|dist|node_modules) /);
  });

  it('.dockerignore lets in only what the build copies: no .env, key file, backup or node_modules', () => {
    const lines = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const allowed = lines.slice(1).map((l) => {
      expect(l.startsWith('!')).toBe(true);
      return l.slice(1);
    });
    expect(allowed.sort()).toEqual(['bin', 'package-lock.json', 'package.json', 'scripts', 'src', 'tsconfig.json']);
  });
});
