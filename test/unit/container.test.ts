/**
 * The Dockerfile, .dockerignore, the compose overlay (compose.yaml) and docs/compose.md, read
 * statically: no Docker daemon here. What each must hold for the recipe to work and stay safe.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { interpolate } from '../../src/config/compose-interpolate.js';
import { parseComposeDotenv } from '../../src/config/compose-dotenv.js';
import { resolveDatabaseTarget } from '../../src/config/database-target.js';
import { KNOWN_VARIABLES, resolveBackupDirectory, resolveKeyDirectory } from '../../src/config/environment.js';
import { definitions } from '../../src/commands/definitions.js';
import { isLmnrKeysTool } from '../../src/deployment/services.js';
import { laminarDotenv } from '../support/deployment.js';
import { newKeyHex } from '../support/keys.js';

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

describe("compose.yaml (the overlay on Laminar's project)", () => {
  type Service = {
    build: string;
    profiles: string[];
    labels: Record<string, string>;
    user: string;
    read_only: boolean;
    tmpfs: string[];
    environment: Record<string, string>;
    volumes: Array<{ type: string; source: string; target: string; bind?: { create_host_path?: boolean } }>;
  };
  const overlay = parse(read('compose.yaml')) as { services: Record<string, Service> };
  const service = overlay.services['lmnr-keys']!;
  const key = newKeyHex();
  const dotenv = parseComposeDotenv(laminarDotenv(key));
  /** The service's environment as Compose gives it: the shell (empty here), then Laminar's .env. */
  const environment = (shell: Record<string, string> = {}) =>
    Object.fromEntries(
      Object.entries(service.environment).map(([name, raw]) => [name, interpolate(String(raw), (v) => shell[v] ?? dotenv.get(v)).value]),
    );

  it("one service, lmnr-keys, in profile tools, labelled as the tool, built from ./lmnr-keys (paths resolve from the first file's folder)", () => {
    expect(Object.keys(overlay.services)).toEqual(['lmnr-keys']);
    expect(service.profiles).toEqual(['tools']);
    expect(isLmnrKeysTool(service.labels)).toBe(true);
    expect(service.build).toBe('./lmnr-keys');
  });

  it("reaches Postgres as postgres:5432 with Laminar's .env credentials, through the variables lmnr-keys reads", () => {
    const env = environment();
    for (const name of Object.keys(env)) expect(Object.keys(KNOWN_VARIABLES), name).toContain(name);
    const target = resolveDatabaseTarget(env, undefined);
    expect(target).toMatchObject({ host: 'postgres', port: 5432, user: 'postgres', database: 'postgres', schema: null });
    expect(decodeURIComponent(new URL(target.connectionString).password)).toBe('postgres_passwordabc');
    expect(env.AEAD_SECRET_KEY).toBe(key);
    // Unset in .env: empty, which lmnr-keys reads as not set (no Compose warning either).
    expect(env.SLACK_ENCRYPTION_KEY).toBe('');
  });

  it('read-only, /tmp a tmpfs, as the image user unless told otherwise', () => {
    expect(service.read_only).toBe(true);
    expect(service.tmpfs).toContain('/tmp');
    const dockerfileUser = parseDockerfile(read('Dockerfile')).find((i) => i.keyword === 'USER')!.args;
    expect(interpolate(service.user, () => undefined).value).toBe(dockerfileUser);
    expect(interpolate(service.user, (v) => ({ LMNR_KEYS_UID: '1234', LMNR_KEYS_GID: '1234' })[v]).value).toBe('1234:1234');
  });

  it("backups and saved keys go to one bind-mounted host folder outside Laminar's checkout, never created by Docker", () => {
    const mounts = service.volumes;
    expect(mounts).toHaveLength(1);
    const [state] = mounts as [Service['volumes'][number]];
    expect(state).toMatchObject({ type: 'bind', target: '/state', bind: { create_host_path: false } });
    const env = environment();
    const inContainer = { LMNR_KEYS_BACKUP_DIR: env.LMNR_KEYS_BACKUP_DIR!, LMNR_KEYS_KEY_DIR: env.LMNR_KEYS_KEY_DIR! };
    expect(resolveBackupDirectory(inContainer)).toEqual({ path: '/state/backups', explicit: true });
    expect(resolveKeyDirectory(inContainer)).toBe('/state/keys');
    // A relative source would resolve inside Laminar's checkout (the project directory).
    const source = interpolate(state.source, () => undefined).value;
    expect(source).toBe('~/.local/state/lmnr-keys');
    expect(interpolate(state.source, (v) => (v === 'LMNR_KEYS_STATE_DIR' ? '/srv/lmnr-keys' : undefined)).value).toBe('/srv/lmnr-keys');
  });
});

describe('docs/compose.md', () => {
  const doc = read('docs/compose.md');

  it('gives the recipe, the state folder and the user exactly as compose.yaml and the Dockerfile have them', () => {
    const overlay = parse(read('compose.yaml')) as {
      services: Record<string, { environment: Record<string, string>; volumes: Array<{ source: string; target: string }> }>;
    };
    const service = overlay.services['lmnr-keys']!;
    expect(doc).toContain('docker compose -f docker-compose.yml -f lmnr-keys/compose.yaml run --rm -T lmnr-keys doctor');
    expect(doc).toContain('docker compose -f docker-compose.yml -f lmnr-keys/compose.yaml build lmnr-keys');
    expect(doc).toContain(`\`${interpolate(service.volumes[0]!.source, () => undefined).value}\``);
    expect(doc).toContain(`at \`${service.volumes[0]!.target}\``);
    for (const name of ['LMNR_KEYS_BACKUP_DIR', 'LMNR_KEYS_KEY_DIR'])
      expect(doc).toContain(`\`${service.environment[name]}\` (\`${name}\`)`);
    const [uid, gid] = parseDockerfile(read('Dockerfile'))
      .find((i) => i.keyword === 'USER')!
      .args.split(':');
    expect(doc).toContain(`install -d -m 0700 -o ${uid} -g ${gid} ~/.local/state/lmnr-keys`);
  });

  it("names check-deployment's compose flags as --help defines them", () => {
    const flags = definitions['check-deployment']().options.map((option) => option.flags);
    for (const flag of ['-p, --project-name <name>', '--profile <name>']) expect(flags).toContain(flag);
    expect(doc).toContain('`-p, --project-name NAME`');
    expect(doc).toContain('`--profile NAME` (repeatable)');
  });
});
