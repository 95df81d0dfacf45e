/**
 * sslmode against a server with a self-signed certificate (a managed or private-CA Postgres):
 * `require` means libpq's "encrypt, do not verify" and works, without node-postgres's warning;
 * `verify-full` refuses the certificate with the TLS hint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../src/demo/postgres.js';
import { LAMINAR_SCHEMA_SQL } from '../../src/demo/laminar-schema.js';
import { newKeyHex } from '../support/keys.js';
import { runCli, quiet } from '../support/cli.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
let server: ThrowawayPostgres;

describe.skipIf(!hasOpenssl)('a Postgres with a self-signed certificate', () => {
  beforeAll(async () => {
    server = await startThrowawayPostgres({
      note: () => {},
      label: 'lmnr-keys-tls-',
      prepare: (folder) => {
        const key = path.join(folder, 'server.key');
        const cert = path.join(folder, 'server.crt');
        execFileSync(
          'openssl',
          ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=db.internal', '-days', '1', '-keyout', key, '-out', cert],
          { stdio: 'ignore' },
        );
        // Postgres accepts a key owned by root with 0640, or owned by its own user with 0600.
        fs.chmodSync(key, process.getuid?.() === 0 ? 0o640 : 0o600);
        fs.chmodSync(cert, 0o644);
        if (process.getuid?.() === 0) {
          const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
          fs.chownSync(key, 0, gid);
        }
      },
      postgresFlags: ['-c', 'ssl=on', '-c', 'ssl_cert_file=../server.crt', '-c', 'ssl_key_file=../server.key'],
    });
    const admin = new pg.Client({ connectionString: server.urlFor('postgres') });
    await admin.connect();
    await admin.query('create database laminar');
    await admin.end();
    const db = new pg.Client({ connectionString: server.urlFor('laminar') });
    await db.connect();
    await db.query(LAMINAR_SCHEMA_SQL);
    await db.end();
  }, 60_000);
  afterAll(async () => server?.stop());

  it('sslmode=require encrypts without verifying: doctor works, with no 9-line warning', async () => {
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: `${server.urlFor('laminar')}?sslmode=require`, AEAD_SECRET_KEY: newKeyHex() },
    });
    expect(quiet(result.stderr)).toBe('');
    expect(result.code).toBe(0);
  });

  it('sslmode=verify-full refuses the self-signed certificate with the TLS hint (exit 4)', async () => {
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: `${server.urlFor('laminar')}?sslmode=verify-full`, AEAD_SECRET_KEY: newKeyHex() },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/TLS problem with Postgres/);
    expect(result.stderr).toMatch(/sslrootcert/);
  });
});
