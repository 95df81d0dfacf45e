/**
 * The only module that reads the process environment and env files. Everything is parsed once
 * into validated values (see database-target.ts and references.ts); nothing downstream sees
 * raw configuration text.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError } from '../errors.js';
import { DotenvSyntaxError, parseComposeDotenv } from './compose-dotenv.js';
import { InterpolationError } from './compose-interpolate.js';

/**
 * Every variable the tool reads (documented in .env.example); `secret` ones are registered
 * with the output's redactor as soon as they are read, so no echo of them is ever printed.
 */
export const KNOWN_VARIABLES = {
  DATABASE_URL: { secret: false },
  DATABASE_USERNAME: { secret: false },
  DATABASE_PASSWORD: { secret: true },
  DATABASE_HOST: { secret: false },
  DATABASE_PORT: { secret: false },
  DATABASE_DATABASE: { secret: false },
  POSTGRES_USER: { secret: false },
  POSTGRES_PASSWORD: { secret: true },
  POSTGRES_DB: { secret: false },
  POSTGRES_PORT: { secret: false },
  POSTGRES_SCHEMA: { secret: false },
  AEAD_SECRET_KEY: { secret: true },
  SLACK_ENCRYPTION_KEY: { secret: true },
  LMNR_KEYS_BACKUP_DIR: { secret: false },
  LMNR_KEYS_KEY_DIR: { secret: false },
} as const satisfies Record<string, { secret: boolean }>;

export const SECRET_VARIABLES = Object.entries(KNOWN_VARIABLES)
  .filter(([, variable]) => variable.secret)
  .map(([name]) => name);

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
  /**
   * Variables a dotenv-based tool would read differently from Docker Compose (an unquoted `#`
   * or `$` in the value): names only, for a note. lmnr-keys reads as Compose does.
   */
  readDifferently: Array<{ file: string; name: string }>;
  /**
   * Variables lmnr-keys knows that an env file sets and the process environment sets to another
   * value (the environment wins): a shell left with an old `export` silently beats --env-file.
   */
  overridden: Array<{ name: string; file: string; fileValue: string }>;
  /** Where each variable was set, in order ('the environment' last when it wins): for messages. */
  origins: Readonly<Record<string, readonly string[]>>;
  /** What the env files alone give (no process environment), and where each came from: what the environment may override. */
  filesOnly: Environment;
  filesOnlyOrigins: Readonly<Record<string, readonly string[]>>;
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
  const origins: Record<string, string[]> = {};
  const noteOrigin = (name: string, where: string) => (origins[name] ??= []).push(where);
  const readDifferently: LoadedEnvironment['readDifferently'] = [];
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
      throw new ConfigError(`env file ${file} is not a text file`, "point --env-file at a KEY=value file such as Laminar's .env");
    }
    // Read as Docker Compose reads Laminar's .env (what its containers get): `abc#def` keeps its `#`.
    let parsed: Map<string, string>;
    try {
      parsed = parseComposeDotenv(text, { lookup: (name) => processEnv[name] });
    } catch (error) {
      if (error instanceof DotenvSyntaxError)
        throw new ConfigError(
          `env file ${file} line ${error.line}: ${error.message}`,
          'fix that line (KEY=value; quote values with spaces)',
        );
      if (error instanceof InterpolationError)
        throw new ConfigError(`env file ${file}: ${error.message}`, 'set the variable it names, or fix the ${...} expression');
      throw error;
    }
    // A BOM would otherwise become part of the first variable's name for dotenv.
    const dotenvReading = dotenv.parse(text.replace(/^\uFEFF/, ''));
    for (const [name, value] of parsed) {
      merged[name] = value;
      noteOrigin(name, file);
      if (name in KNOWN_VARIABLES && dotenvReading[name] !== undefined && dotenvReading[name] !== value)
        readDifferently.push({ file, name });
    }
    filesRead.push(fullPath);
  }
  const filesOnly: Record<string, string | undefined> = { ...merged };
  const filesOnlyOrigins = Object.fromEntries(Object.entries(origins).map(([name, places]) => [name, [...places]]));
  const overridden: LoadedEnvironment['overridden'] = [];
  for (const [name, value] of Object.entries(processEnv)) {
    if (value === undefined) continue;
    const fromFile = merged[name];
    if (name in origins && name in KNOWN_VARIABLES && fromFile !== undefined && fromFile !== value) {
      overridden.push({ name, file: origins[name]![origins[name]!.length - 1]!, fileValue: fromFile });
    }
    merged[name] = value;
    if (name in origins) noteOrigin(name, 'the environment');
  }
  return { env: merged, filesRead, origins, readDifferently, overridden, filesOnly, filesOnlyOrigins };
}

/** lmnr-keys's own state folder: $XDG_STATE_HOME/lmnr-keys, else ~/.local/state/lmnr-keys. */
function stateDirectory(processEnv: Environment): string {
  const state =
    processEnv.XDG_STATE_HOME && path.isAbsolute(processEnv.XDG_STATE_HOME)
      ? processEnv.XDG_STATE_HOME
      : path.join(processEnv.HOME || os.homedir(), '.local', 'state');
  return path.join(state, 'lmnr-keys');
}

/** A folder the operator chose through `variable`, else `name` in the state folder; `explicit` when chosen. */
function chosenOrState(processEnv: Environment, variable: string, name: string): { path: string; explicit: boolean } {
  const chosen = processEnv[variable];
  if (chosen !== undefined && chosen.trim() !== '') return { path: path.resolve(chosen), explicit: true };
  return { path: path.join(stateDirectory(processEnv), name), explicit: false };
}

/** Where backups go by default; `explicit` when the operator chose it (LMNR_KEYS_BACKUP_DIR). */
export function resolveBackupDirectory(processEnv: Environment): { path: string; explicit: boolean } {
  return chosenOrState(processEnv, 'LMNR_KEYS_BACKUP_DIR', 'backups');
}

/**
 * Where the rotate runbook saves old keys (LMNR_KEYS_KEY_DIR, else the state folder's keys/).
 * Not derived from the backup folder: LMNR_KEYS_BACKUP_DIR=/var/backups must not put keys in /var/keys.
 */
export function resolveKeyDirectory(processEnv: Environment): string {
  return chosenOrState(processEnv, 'LMNR_KEYS_KEY_DIR', 'keys').path;
}
