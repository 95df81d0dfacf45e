/**
 * The only module that reads process.env and env files. Everything is parsed once into
 * validated values; nothing downstream sees raw configuration text.
 */
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, UsageError } from './errors.js';
import {
  cleanSecretText,
  isKeyHex,
  keyFromHex,
  laminarDefaultKey,
  LAMINAR_DEFAULT_LABEL,
  type SecretKey,
} from './crypto/keys.js';

/** Every variable the tool reads. Documented in .env.example. */
export const KNOWN_VARIABLES = [
  'DATABASE_URL',
  'DATABASE_USERNAME',
  'DATABASE_PASSWORD',
  'DATABASE_HOST',
  'DATABASE_PORT',
  'DATABASE_DATABASE',
  'POSTGRES_USER',
  'POSTGRES_PASSWORD',
  'POSTGRES_DB',
  'POSTGRES_PORT',
  'AEAD_SECRET_KEY',
  'SLACK_ENCRYPTION_KEY',
] as const;

export type Environment = Readonly<Record<string, string | undefined>>;

/** The process environment, read here and nowhere else; everything else gets it passed in. */
export function readProcessEnvironment(): Environment {
  return process.env;
}

export interface EnvironmentSource {
  /** The process environment; wins over files. */
  processEnv: Environment;
  /** --env-file paths as given; when empty, `.env` in cwd is read if present. */
  envFiles: string[];
  cwd: string;
}

export interface LoadedEnvironment {
  env: Environment;
  /** Files actually read, for --debug. */
  filesRead: string[];
}

/**
 * Reads env files (later files win over earlier ones, as in docker compose) and overlays the
 * process environment. Laminar's own `.env` works as-is.
 */
export function loadEnvironment({ processEnv, envFiles, cwd }: EnvironmentSource): LoadedEnvironment {
  const explicit = envFiles.length > 0;
  const candidates = explicit ? envFiles : ['.env'];
  const merged: Record<string, string | undefined> = {};
  const filesRead: string[] = [];
  for (const file of candidates) {
    const fullPath = path.resolve(cwd, file);
    let text: string;
    try {
      text = fs.readFileSync(fullPath, 'utf8');
    } catch (error) {
      if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(
        `cannot read env file ${file} (${code})`,
        code === 'ENOENT' ? 'check the path given to --env-file' : 'check the file permissions',
      );
    }
    if (text.includes('\0')) {
      throw new ConfigError(`env file ${file} is not a text file`, 'point --env-file at a KEY=value file such as Laminar\'s .env');
    }
    // A BOM would otherwise become part of the first variable's name.
    Object.assign(merged, dotenv.parse(text.replace(/^\uFEFF/, '')));
    filesRead.push(fullPath);
  }
  for (const [name, value] of Object.entries(processEnv)) {
    if (value !== undefined) merged[name] = value;
  }
  return { env: merged, filesRead };
}

/** Where to connect, with the password kept apart from anything printable. */
export interface DatabaseTarget {
  connectionString: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** Which setting it came from, for messages. */
  source: string;
}

/** host:port/database, never the user's password. */
export function describeTarget(target: Pick<DatabaseTarget, 'host' | 'port' | 'database'>): string {
  return `${target.host}:${target.port}/${target.database}`;
}

function parsePostgresUrl(text: string, source: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigError(
      `${source} is not a valid URL`,
      'use postgres://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode special characters in the password)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      `${source} must start with postgres:// or postgresql:// (it starts with ${url.protocol}//)`,
      'use postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  const port = url.port ? Number(url.port) : 5432;
  let user: string;
  try {
    user = decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw new ConfigError(`${source} has a badly percent-encoded user or password`, 'percent-encode special characters, e.g. @ as %40, % as %25');
  }
  return {
    connectionString: url.toString(),
    host: url.hostname || 'localhost',
    port,
    database,
    user,
    source,
  };
}

function buildUrl(parts: { user: string; password?: string | undefined; host: string; port: string; database: string }): string {
  const url = new URL('postgres://localhost');
  url.hostname = parts.host;
  url.port = parts.port;
  url.username = encodeURIComponent(parts.user);
  if (parts.password) url.password = encodeURIComponent(parts.password);
  url.pathname = `/${encodeURIComponent(parts.database)}`;
  return url.toString();
}

function checkPort(port: string, source: string): string {
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new ConfigError(`${source} must be a port number from 1 to 65535`, 'fix the port in your environment or env file');
  }
  return port;
}

/**
 * The database to use, in order: --database-url; DATABASE_URL; the DATABASE_* parts Laminar's
 * web app accepts; the POSTGRES_* variables of Laminar's compose `.env` (the quickstart
 * publishes Postgres on localhost:POSTGRES_PORT, 5433 by default).
 */
export function resolveDatabaseTarget(env: Environment, flagUrl: string | undefined): DatabaseTarget {
  if (flagUrl !== undefined && flagUrl !== '') return parsePostgresUrl(flagUrl, '--database-url');
  const url = env.DATABASE_URL;
  if (url !== undefined && url.trim() !== '') return parsePostgresUrl(url, 'DATABASE_URL');
  if (env.DATABASE_HOST) {
    const port = checkPort(env.DATABASE_PORT || '5432', 'DATABASE_PORT');
    return parsePostgresUrl(
      buildUrl({
        user: env.DATABASE_USERNAME || 'postgres',
        password: env.DATABASE_PASSWORD,
        host: env.DATABASE_HOST,
        port,
        database: env.DATABASE_DATABASE || 'postgres',
      }),
      'DATABASE_HOST/DATABASE_PORT/DATABASE_USERNAME/DATABASE_PASSWORD/DATABASE_DATABASE',
    );
  }
  if (env.POSTGRES_USER && env.POSTGRES_PASSWORD) {
    const port = checkPort(env.POSTGRES_PORT || '5433', 'POSTGRES_PORT');
    return parsePostgresUrl(
      buildUrl({
        user: env.POSTGRES_USER,
        password: env.POSTGRES_PASSWORD,
        host: 'localhost',
        port,
        database: env.POSTGRES_DB || 'postgres',
      }),
      "POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB of Laminar's compose .env (localhost:" + port + ')',
    );
  }
  throw new ConfigError(
    'no database configured',
    "pass --database-url postgres://USER:PASSWORD@localhost:5433/postgres, set DATABASE_URL, or --env-file Laminar's .env",
  );
}

/** Whether any database setting is present, i.e. whether resolveDatabaseTarget has anything to go on. */
export function isDatabaseConfigured(env: Environment, flagUrl: string | undefined): boolean {
  return Boolean((flagUrl ?? '') !== '' || env.DATABASE_URL?.trim() || env.DATABASE_HOST || (env.POSTGRES_USER && env.POSTGRES_PASSWORD));
}

// ---------------------------------------------------------------------------------------------
// Secret references: how a key is named on the command line without being typed there.

export type SecretReference =
  | { kind: 'env'; name: string; label: string }
  | { kind: 'file'; path: string; label: string }
  | { kind: 'laminar-default'; label: string }
  | { kind: 'stdin'; label: string }
  | { kind: 'literal'; hex: string; label: string };

export const SECRET_REFERENCE_FORMS = 'env:NAME, file:PATH, laminar-default, - (stdin) or 64 hex characters';

/**
 * Parses a reference. `position` (1-based) names literal and stdin references, whose text must
 * never be echoed. Throws UsageError without repeating the text, which may be a key.
 */
export function parseSecretReference(text: string, flag: string, position: number): SecretReference {
  if (text.startsWith('env:')) {
    const name = text.slice(4);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`${flag} env:NAME needs a variable name`, `forms: ${SECRET_REFERENCE_FORMS}`);
    return { kind: 'env', name, label: text };
  }
  if (text.startsWith('file:')) {
    const filePath = text.slice(5);
    if (filePath === '') throw new UsageError(`${flag} file:PATH needs a path`, `forms: ${SECRET_REFERENCE_FORMS}`);
    return { kind: 'file', path: filePath, label: text };
  }
  if (text === LAMINAR_DEFAULT_LABEL) return { kind: 'laminar-default', label: LAMINAR_DEFAULT_LABEL };
  const positional = `${flag.replace(/^--/, '')}-${position}`;
  if (text === '-') return { kind: 'stdin', label: positional };
  const cleaned = cleanSecretText(text).value;
  if (isKeyHex(cleaned)) return { kind: 'literal', hex: cleaned, label: positional };
  throw new UsageError(
    `${flag} value #${position} is not a secret reference (${text.length} characters; not echoed)`,
    `forms: ${SECRET_REFERENCE_FORMS}`,
  );
}

export interface SecretIo {
  env: Environment;
  cwd: string;
  readStdin: () => Promise<string>;
  warn: (message: string) => void;
}

function keyFromText(text: string, label: string, what: string): SecretKey {
  const cleaned = cleanSecretText(text).value;
  if (!isKeyHex(cleaned)) {
    throw new UsageError(`${what} does not hold a 64-hex-character key (${cleaned.length} characters; not echoed)`, 'generate one with `lmnr-keys gen-secret`');
  }
  return keyFromHex(label, cleaned);
}

/** Turns references into keys. stdin may be used by one reference only. */
export async function resolveSecretReferences(refs: SecretReference[], io: SecretIo): Promise<SecretKey[]> {
  if (refs.filter((ref) => ref.kind === 'stdin').length > 1) {
    throw new UsageError('only one secret reference can read stdin (-)', 'put the other keys in files or variables');
  }
  const keys: SecretKey[] = [];
  for (const ref of refs) keys.push(await resolveSecretReference(ref, io));
  return keys;
}

export async function resolveSecretReference(ref: SecretReference, io: SecretIo): Promise<SecretKey> {
  switch (ref.kind) {
    case 'laminar-default':
      return laminarDefaultKey();
    case 'literal':
      io.warn(`warning: a key was given on the command line (${ref.label}); other users of this machine can read process arguments. Prefer env:NAME or file:PATH.`);
      return keyFromHex(ref.label, ref.hex);
    case 'env': {
      const value = io.env[ref.name];
      if (value === undefined || value.trim() === '') {
        throw new UsageError(`${ref.label}: variable ${ref.name} is not set`, 'export it or add it to an --env-file');
      }
      return keyFromText(value, ref.label, ref.label);
    }
    case 'file': {
      let text: string;
      try {
        text = fs.readFileSync(path.resolve(io.cwd, ref.path), 'utf8');
      } catch (error) {
        throw new UsageError(`${ref.label}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path and permissions');
      }
      return keyFromText(text.split(/\r?\n/)[0] ?? '', ref.label, ref.label);
    }
    case 'stdin': {
      const text = await io.readStdin();
      return keyFromText(text.split(/\r?\n/)[0] ?? '', ref.label, `${ref.label} (stdin)`);
    }
  }
}

/** Reads all of stdin; used only when a reference is `-`. */
export async function readAllStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new UsageError('a secret reference is - but stdin is a terminal', 'pipe the key in, e.g. `cat old.key | lmnr-keys ...`');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A provider key for `verify-provider --key`: env:NAME, file:PATH (first line) or - (stdin).
 * A literal is refused: provider keys on the command line end up in shell history and `ps`.
 */
export async function resolveValueReference(text: string, flag: string, io: SecretIo): Promise<string> {
  let value: string | undefined;
  if (text.startsWith('env:')) {
    const name = text.slice(4);
    value = io.env[name];
    if (value === undefined || value.trim() === '') throw new UsageError(`${flag} ${text}: variable ${name} is not set`, 'export it or add it to an --env-file');
  } else if (text.startsWith('file:')) {
    try {
      value = fs.readFileSync(path.resolve(io.cwd, text.slice(5)), 'utf8').split(/\r?\n/)[0];
    } catch (error) {
      throw new UsageError(`${flag} ${text}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path and permissions');
    }
  } else if (text === '-') {
    value = (await io.readStdin()).split(/\r?\n/)[0];
  } else {
    throw new UsageError(`${flag} takes env:NAME, file:PATH or - (stdin), not the key itself (not echoed)`, 'e.g. --key env:OPENAI_API_KEY');
  }
  const cleaned = cleanSecretText(value ?? '').value;
  if (cleaned === '') throw new UsageError(`${flag} ${text} is empty`);
  return cleaned;
}
