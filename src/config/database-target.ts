/** Where to connect: --database-url, DATABASE_URL, Laminar's DATABASE_* parts or its compose POSTGRES_*. */
import { ConfigError } from '../errors.js';
import type { Environment, LoadedEnvironment } from './environment.js';

/** Where to connect, with the password kept apart from anything printable. */
export interface DatabaseTarget {
  connectionString: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** Which setting it came from, for messages. */
  source: string;
  /**
   * Laminar's POSTGRES_SCHEMA: the schema its services put on the search_path (Helm:
   * global.postgresSchema); null for the default (public).
   */
  schema?: string | null;
}

/** "DATABASE_URL from .env", or from the environment, saying which files it overrode. */
function describeOrigin(name: string, origins: LoadedEnvironment['origins']): string {
  const places = origins[name] ?? [];
  const last = places[places.length - 1];
  if (last === undefined) return `${name} from the environment`;
  const overridden = places.slice(0, -1);
  return `${name} from ${last}${overridden.length > 0 ? `, which wins over ${overridden.join(', ')}` : ''}`;
}

/** host:port/database, never the user's password. */
export function describeTarget(target: Pick<DatabaseTarget, 'host' | 'port' | 'database' | 'schema'>): string {
  return `${target.host}:${target.port}/${target.database}${target.schema ? ` (schema ${target.schema})` : ''}`;
}

/**
 * A password with a raw '/', '?' or '#' before an '@' makes the URL mean something else: the
 * parser takes part of the password as host, path or fragment, and any message naming "the
 * host" would print it. Two raw '@' are as bad: libpq (psql) splits at the first, WHATWG URL
 * parsers (node-postgres, Laminar's own clients) at the last, so tools disagree on the password.
 * Detected before parsing; nothing of the URL is echoed but its scheme.
 */
function hasAmbiguousUserinfo(text: string): boolean {
  const rest = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd >= 0 ? rest.slice(0, authorityEnd) : rest;
  return (authorityEnd >= 0 && rest.indexOf('@', authorityEnd) >= 0) || authority.indexOf('@') !== authority.lastIndexOf('@');
}

function parsePostgresUrl(text: string, source: string): DatabaseTarget {
  if (hasAmbiguousUserinfo(text.trim())) {
    throw new ConfigError(
      `${source} cannot be read unambiguously: its user or password holds a raw @, /, ? or # (the URL is not echoed)`,
      'percent-encode the password: @ as %40, / as %2F, ? as %3F, # as %23, % as %25',
    );
  }
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
    throw new ConfigError(
      `${source} has a badly percent-encoded user or password`,
      'percent-encode special characters, e.g. @ as %40, % as %25',
    );
  }
  // libpq's sslmode, not node-postgres's: `require` encrypts without verifying the certificate
  // (node-postgres alone treats it as verify-full and warns), `verify-full` verifies.
  if (url.searchParams.has('sslmode') && !url.searchParams.has('uselibpqcompat')) url.searchParams.set('uselibpqcompat', 'true');
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

/** Whether any database setting is present, i.e. whether resolveDatabaseTarget has anything to go on. */
export function isDatabaseConfigured(env: Environment, flagUrl: string | undefined): boolean {
  return Boolean((flagUrl ?? '') !== '' || env.DATABASE_URL?.trim() || env.DATABASE_HOST || (env.POSTGRES_USER && env.POSTGRES_PASSWORD));
}

/**
 * The database to use, in order: --database-url; DATABASE_URL; the DATABASE_* parts Laminar's
 * web app accepts; the POSTGRES_* variables of Laminar's compose `.env` (the quickstart
 * publishes Postgres on localhost:POSTGRES_PORT, 5433 by default).
 */
export function resolveDatabaseTarget(
  env: Environment,
  flagUrl: string | undefined,
  origins: LoadedEnvironment['origins'] = {},
): DatabaseTarget {
  const schema = env.POSTGRES_SCHEMA?.trim() || null;
  return { ...resolveConnection(env, flagUrl, origins), schema };
}

function resolveConnection(env: Environment, flagUrl: string | undefined, origins: LoadedEnvironment['origins']): DatabaseTarget {
  if (flagUrl !== undefined && flagUrl !== '') return parsePostgresUrl(flagUrl, '--database-url');
  const url = env.DATABASE_URL;
  if (url !== undefined && url.trim() !== '')
    return { ...parsePostgresUrl(url, 'DATABASE_URL'), source: describeOrigin('DATABASE_URL', origins) };
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
