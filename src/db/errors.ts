/**
 * Turns pg and network errors into DatabaseError with one clear line. Postgres's own code,
 * detail and hint are kept; the password never appears (pg's messages do not contain it, and
 * we only ever print host, port and database).
 */
import { DatabaseError } from '../errors.js';
import { printable } from '../printable.js';
import { describeTarget, type DatabaseTarget } from '../config/database-target.js';

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
}

const NETWORK_HINTS: Record<string, string> = {
  ECONNREFUSED: "connection refused: is Postgres running and published on that port? (Laminar's compose file publishes it on 5433)",
  ENOTFOUND: 'host not found: check the host name',
  EAI_AGAIN: 'host name lookup failed: check the host name and DNS',
  ETIMEDOUT: 'connection timed out: check the host, port and firewall',
  ECONNRESET: 'the connection was reset: the server closed it (restart, network cut or a terminated session)',
  EHOSTUNREACH: 'host unreachable: check the network route',
};

/** Node's TLS certificate verification failures. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const PG_HINTS: Record<string, string> = {
  '28P01': 'password authentication failed: check the user and password in the URL or env file',
  '28000': 'the server refused this user or connection: check pg_hba.conf and the user name',
  '3D000': 'database does not exist: check the database name at the end of the URL',
  '42501': 'permission denied: grant this role the privileges listed in docs/security.md (Least privilege)',
  '57P01': 'the server terminated the connection (administrator command or restart)',
  '57P03': 'the server is starting up or shutting down: try again in a moment',
  '53300': 'too many connections: wait, or raise max_connections',
  '25006': 'a write was attempted in a read-only transaction (a bug: please report it)',
  // Only a database whose encoding is not UTF8 (SQL_ASCII) can hold such text; Laminar's Postgres image is UTF8.
  '22021':
    'the database holds text that is not valid UTF-8 (its encoding is not UTF8, e.g. SQL_ASCII), ' +
    'which lmnr-keys cannot read; find the row with SELECT id FROM provider_api_keys WHERE NOT value ~ ' +
    "'^[0-9a-fA-F]*$' and fix or remove it",
};

export function isConnectionLost(error: unknown): boolean {
  const code = (error as PgLikeError | undefined)?.code;
  const message = (error as PgLikeError | undefined)?.message ?? '';
  return (
    code === '57P01' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === '08006' ||
    code === '08003' ||
    /Connection terminated|connection.*closed|Client has encountered a connection error/i.test(message)
  );
}

export function toDatabaseError(error: unknown, target: Pick<DatabaseTarget, 'host' | 'port' | 'database'>, doing: string): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const pgError = (error ?? {}) as PgLikeError;
  const where = describeTarget(target);
  const code = pgError.code;
  if (code && NETWORK_HINTS[code] && code !== 'ECONNRESET') {
    // Only a bare name such as `postgres` is likely a compose service name used from outside compose.
    const composeName = code === 'ENOTFOUND' && /^[a-z0-9_-]+$/i.test(target.host) && target.host !== 'localhost';
    return new DatabaseError(
      `cannot reach Postgres at ${where}: ${NETWORK_HINTS[code]}`,
      composeName
        ? `"${target.host}" resolves only inside its compose network: from the host ` +
            `machine use localhost and the published port (5433 in Laminar's quickstart)`
        : undefined,
      { cause: error, pgCode: code },
    );
  }
  if (code && CERTIFICATE_CODES.has(code)) {
    return new DatabaseError(
      `TLS problem with Postgres at ${where}: the server's certificate was not accepted (${code})`,
      'sslmode=require encrypts without checking the certificate; for verify-full give the CA with ' +
        'sslrootcert=/path/ca.pem (or use the right host name)',
      { cause: error, pgCode: code },
    );
  }
  // node-postgres reports connectionTimeoutMillis as "Connection terminated due to connection timeout": nothing was lost, nothing answered.
  if (doing === 'connecting' && /timeout/i.test(pgError.message ?? '')) {
    return new DatabaseError(
      `cannot reach Postgres at ${where}: no answer within the connection timeout`,
      'something accepts connections on that port but does not answer as Postgres: check the host and port ' +
        '(a proxy, a firewall, another service?)',
      { cause: error, pgCode: code },
    );
  }
  if (isConnectionLost(error)) {
    const why = code && PG_HINTS[code] ? `: ${PG_HINTS[code]}` : code === 'ECONNRESET' ? `: ${NETWORK_HINTS.ECONNRESET}` : '';
    return new DatabaseError(
      `lost the connection to Postgres at ${where} while ${doing}${why}`,
      'nothing half-written is kept (a write commits whole batches or nothing; doctor and verify-provider only read): run the command again',
      { cause: error, pgCode: code },
    );
  }
  if (code === '42501') {
    // Postgres's own words name the table (or column) the role lacks.
    return new DatabaseError(
      `Postgres at ${where} (${code}) while ${doing}: ${firstLine(pgError.message)}`,
      'grant this role the privileges listed in docs/security.md (Least privilege)',
      { cause: error, pgCode: code },
    );
  }
  if (code && PG_HINTS[code]) {
    return new DatabaseError(`Postgres at ${where} (${code}) while ${doing}: ${PG_HINTS[code]}`, pgError.hint, {
      cause: error,
      pgCode: code,
    });
  }
  if (/does not support SSL/i.test(pgError.message ?? '')) {
    return new DatabaseError(
      `TLS problem with Postgres at ${where}: ${firstLine(pgError.message)}`,
      'this server does not offer TLS: connect with ?sslmode=disable (or sslmode=prefer, which falls back to plain), or enable TLS on the server',
      { cause: error, pgCode: code },
    );
  }
  if (/SSL|TLS|certificate/i.test(pgError.message ?? '')) {
    return new DatabaseError(
      `TLS problem with Postgres at ${where}: ${firstLine(pgError.message)}`,
      'adjust sslmode in the URL: ?sslmode=disable for a local server without TLS, ?sslmode=require to ' +
        'encrypt without checking the certificate, ?sslmode=verify-full&sslrootcert=/path/ca.pem to check it',
      { cause: error, pgCode: code },
    );
  }
  const detail = pgError.detail ? ` (${firstLine(pgError.detail)})` : '';
  return new DatabaseError(
    `Postgres at ${where} failed while ${doing}: ${firstLine(pgError.message ?? String(error))}${code ? ` [${code}]` : ''}${detail}`,
    pgError.hint,
    { cause: error, pgCode: code },
  );
}

/** A server's message, one line, control characters made visible (it may quote names from the database). */
function firstLine(text: string | undefined): string {
  return printable((text ?? '').split('\n')[0] ?? '');
}
