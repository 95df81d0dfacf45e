/** Table-driven bad rows and bad configuration: a classification or a clear message, never a crash or an echo. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, withDatabaseName, type TestDatabase } from '../support/database.js';
import { LAMINAR_SCHEMA_SQL } from '../../src/demo/laminar-schema.js';
import { newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addRawProviderKey, addWorkspace, seal } from '../support/seed.js';
import { runCli, quiet } from '../support/cli.js';
import { openAll, snapshotProviderKeys } from '../support/verify.js';

const AEAD = newKeyHex();
const NEW = newKeyHex();
let t: TestDatabase;
let project: string;
let workspace: string;
let dir: string;

interface BadRow {
  what: string;
  status: string;
  rotates: boolean;
  make: () => Promise<string>;
}

const ids = new Map<string, string>();
const UNICODE_NAME = 'ÖPENAI_API_KEY_🔑';
const SQL_NAME = `x'); drop table projects; --`;

const rows = (): BadRow[] => {
  const good = () => seal(AEAD, 'sk-good-0123456789', 'OPENAI_API_KEY');
  return [
    {
      what: 'non-hex ciphertext',
      status: 'malformed',
      rotates: false,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex, 'xy' + g.ciphertextHex.slice(2));
      },
    },
    {
      what: 'odd-length ciphertext',
      status: 'malformed',
      rotates: false,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex, g.ciphertextHex.slice(1));
      },
    },
    {
      what: 'short nonce',
      status: 'malformed',
      rotates: false,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex.slice(0, 40), g.ciphertextHex);
      },
    },
    {
      what: 'long nonce',
      status: 'malformed',
      rotates: false,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex + 'abcd', g.ciphertextHex);
      },
    },
    {
      what: 'empty ciphertext and nonce',
      status: 'malformed',
      rotates: false,
      make: () => addRawProviderKey(t, project, 'OPENAI_API_KEY', '', ''),
    },
    {
      what: 'empty ciphertext only',
      status: 'incomplete',
      rotates: false,
      make: async () => addRawProviderKey(t, project, 'OPENAI_API_KEY', (await good()).nonceHex, ''),
    },
    {
      what: 'ciphertext shorter than the tag',
      status: 'malformed',
      rotates: false,
      make: async () => addRawProviderKey(t, project, 'OPENAI_API_KEY', (await good()).nonceHex, 'ab'.repeat(15)),
    },
    {
      what: 'a 1 MB value',
      status: 'wrong_secret',
      rotates: false,
      make: async () => addRawProviderKey(t, project, 'OPENAI_API_KEY', (await good()).nonceHex, randomBytes(512 * 1024).toString('hex')),
    },
    {
      what: 'upper-case hex',
      status: 'ok',
      rotates: true,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex.toUpperCase(), g.ciphertextHex.toUpperCase());
      },
    },
    {
      what: 'surrounding whitespace',
      status: 'malformed',
      rotates: false,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex, ` ${g.ciphertextHex}\n`);
      },
    },
    // Laminar's web app decodes with Buffer.from(hex), which stops at the first non-hex character: these still work there.
    {
      what: 'a trailing newline after the hex',
      status: 'ok',
      rotates: true,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', g.nonceHex, `${g.ciphertextHex}\n`);
      },
    },
    {
      what: 'stray characters after the hex of both columns',
      status: 'ok',
      rotates: true,
      make: async () => {
        const g = await good();
        return addRawProviderKey(t, project, 'OPENAI_API_KEY', `${g.nonceHex}zz`, `${g.ciphertextHex}-x`);
      },
    },
    {
      what: 'a non-UTF-8 plaintext',
      status: 'not_utf8',
      rotates: true,
      make: () => addProviderKey(t, project, 'GEMINI_API_KEY', new Uint8Array([0xc3, 0x28, 0xa0, 0xa1]), AEAD),
    },
    { what: 'a unicode name', status: 'ok', rotates: true, make: () => addProviderKey(t, project, UNICODE_NAME, 'sk-unicode-0123', AEAD) },
    {
      what: 'SQL metacharacters in the name',
      status: 'ok',
      rotates: true,
      make: () => addProviderKey(t, project, SQL_NAME, 'sk-sql-0123', AEAD),
    },
  ];
};

beforeAll(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-bad-'));
  workspace = await addWorkspace(t, `Wörkspace 'quoted' "names"`);
  project = await addProject(t, workspace, `Prøject; drop table x; --`);
  for (const row of rows()) ids.set(row.what, await row.make());
  // Deployment pairs: NULL on both sides (not set), NULL ciphertext with a nonce (incomplete).
  await addDeployment(t, workspace, {
    privateKey: { ciphertextHex: null, nonceHex: null },
    dataPlaneUrl: { ciphertextHex: null, nonceHex: (await seal(AEAD, 'x', workspace)).nonceHex },
  });
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('bad rows', () => {
  it('doctor classifies each one without crashing', async () => {
    const result = await runCli(['doctor', '--json'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    for (const row of rows()) {
      const finding = report.findings.find((f: any) => f.id === ids.get(row.what));
      expect({ what: row.what, status: finding?.status ?? 'ok' }).toEqual({ what: row.what, status: row.status });
    }
    expect(report.stores.find((s: any) => s.store === 'workspace_deployments.private_key')).toMatchObject({ total: 0 });
    expect(report.findings.find((f: any) => f.store === 'workspace_deployments.data_plane_url')).toMatchObject({ status: 'incomplete' });
    const human = await runCli(['doctor'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD } });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`Workspace "Wörkspace 'quoted' "names""`);
    expect(human.stdout).toContain('Project "Prøject; drop table x; --"');
    expect(human.stdout).toMatch(/GEMINI_API_KEY .*not_utf8/);
  });

  it('quarantine never takes out a value Laminar can still read', async () => {
    const plan = await runCli(['quarantine', '--dry-run', '--json'], { env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD }, cwd: dir });
    const planned = new Set(JSON.parse(plan.stdout).targets.map((x: any) => x.id));
    for (const row of rows().filter((r) => r.rotates)) expect(planned.has(ids.get(row.what)!), row.what).toBe(false);
  });

  it('rotate leaves every bad row byte-identical and re-seals the good ones', async () => {
    const before = await snapshotProviderKeys(t);
    const result = await runCli(['rotate', '--from', 'env:AEAD_SECRET_KEY', '--to', 'env:NEW', '--yes', '--json', '--no-backup'], {
      env: { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD, NEW },
      cwd: dir,
    });
    expect(result.code).toBe(1);
    const after = await snapshotProviderKeys(t);
    expect(after.size).toBe(before.size);
    const opened = await openAll(t, [NEW]);
    for (const row of rows()) {
      const id = ids.get(row.what)!;
      if (row.rotates) expect(opened.get(id)!.keyIndex, row.what).toBe(0);
      else expect(after.get(id), row.what).toEqual(before.get(id));
    }
    expect(opened.get(ids.get('a unicode name')!)!.plaintext).toBe('sk-unicode-0123');
    expect(opened.get(ids.get('SQL metacharacters in the name')!)!.plaintext).toBe('sk-sql-0123');
    expect((await t.query('select count(*)::int as n from projects')).rows[0].n).toBe(1);
    // What Laminar's web app read leniently is now clean hex every reader accepts.
    for (const what of ['a trailing newline after the hex', 'stray characters after the hex of both columns']) {
      expect(after.get(ids.get(what)!)!.value, what).toMatch(/^[0-9a-f]+$/);
      expect(opened.get(ids.get(what)!)!.plaintext, what).toBe('sk-good-0123456789');
    }
  });
});

describe('bad configuration', () => {
  const run = (args: string[], env: Record<string, string>, cwd = dir) => runCli(args, { env, cwd });

  it.each([
    ['63 characters', 'a'.repeat(63)],
    ['65 characters', 'a'.repeat(65)],
    ['not hex', 'g'.repeat(64)],
  ])('a key of %s: exit 3, one clear line, not echoed', async (_what, key) => {
    const result = await run(['doctor'], { DATABASE_URL: t.url, AEAD_SECRET_KEY: key });
    expect(result.code).toBe(3);
    expect(result.stderr.split('\n')[0]).toMatch(/^error: AEAD_SECRET_KEY must be 64 hex characters/);
    expect(result.stderr + result.stdout).not.toContain(key);
  });

  it.each([
    ['quotes', (k: string) => `AEAD_SECRET_KEY="${k}"\n`],
    ['CRLF endings', (k: string) => `AEAD_SECRET_KEY=${k}\r\nOTHER=1\r\n`],
    ['an export prefix', (k: string) => `export AEAD_SECRET_KEY=${k}\n`],
    ['a BOM', (k: string) => `\uFEFFAEAD_SECRET_KEY=${k}\n`],
    ['duplicate keys (the last wins)', (k: string) => `AEAD_SECRET_KEY=${'0'.repeat(63)}\nAEAD_SECRET_KEY=${k}\n`],
  ])('an .env with %s works', async (_what, make) => {
    const file = path.join(dir, `k${Math.random()}.env`);
    fs.writeFileSync(file, make(AEAD) + `DATABASE_URL=${t.url}\n`, { mode: 0o600 });
    const result = await run(['doctor', '--json', '--env-file', file], {});
    expect(quiet(result.stderr)).toBe('');
    expect(JSON.parse(result.stdout).secrets[0].status).toBe('ok');
  });

  it('a key with a trailing CR in the environment: needs_cleanup, exit 1, and it still works', async () => {
    const result = await run(['doctor', '--json'], { DATABASE_URL: t.url, AEAD_SECRET_KEY: `${AEAD}\r` });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).secrets[0].status).toBe('needs_cleanup');
  });

  it('a SQL_ASCII database holding bytes that are not UTF-8: one clear line, exit 4', async () => {
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    const name = `lk_ascii_${randomBytes(4).toString('hex')}`;
    await admin.query(`create database ${name} encoding 'SQL_ASCII' template template0 locale 'C'`);
    await admin.end();
    const url = withDatabaseName(adminUrl(), name);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(LAMINAR_SCHEMA_SQL);
      const ws = randomUUID();
      const project = randomUUID();
      await client.query('insert into workspaces (id, name) values ($1, $2)', [ws, 'W']);
      await client.query('insert into projects (id, name, workspace_id) values ($1, $2, $3)', [project, 'P', ws]);
      await client.query(
        `insert into provider_api_keys (project_id, name, nonce_hex, value) ` +
          `values ($1, 'OPENAI_API_KEY', repeat('ab', 24), convert_from('\\xc3a9'::bytea, 'LATIN1') || '1234')`,
        [project],
      );
      const result = await run(['doctor'], { DATABASE_URL: url, AEAD_SECRET_KEY: AEAD });
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/holds text that is not valid UTF-8 .*SQL_ASCII/);
      expect(quiet(result.stderr).trim().split('\n')).toHaveLength(1);
    } finally {
      await client.end();
      const cleanup = new pg.Client({ connectionString: adminUrl() });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    }
  });

  it('a missing env file: exit 3', async () => {
    const result = await run(['doctor', '--env-file', 'does-not-exist.env'], {});
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/cannot read env file does-not-exist.env \(ENOENT\)/);
  });

  it('a password with special characters, percent-encoded, works (the harness password has @ : / #)', async () => {
    expect(decodeURIComponent(new URL(t.url).password)).toMatch(/[@:/#]/);
    expect((await run(['doctor'], { DATABASE_URL: t.url, AEAD_SECRET_KEY: AEAD })).code).toBe(1);
  });

  it('an unencoded @ in the password: a clear error, exit 3 (as the README promises), password not echoed', async () => {
    const url = new URL(t.url);
    const raw = `postgres://${url.username}:p@ss-Secret-9@${url.host}${url.pathname}`;
    const result = await run(['doctor'], { DATABASE_URL: raw, AEAD_SECRET_KEY: AEAD });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/cannot be read unambiguously: its user or password holds a raw @/);
    expect(result.stderr).not.toContain('p@ss-Secret-9');
    expect(result.stderr).not.toContain('ss-Secret-9');
  });

  it.each([
    ['sslmode=disable', 'disable', 1],
    ['sslmode=require against a server without TLS', 'require', 4],
    // libpq's meaning: try TLS, fall back to a plain connection when the server has none.
    ['sslmode=prefer against a server without TLS', 'prefer', 1],
  ])('%s', async (_what, mode, code) => {
    const url = new URL(t.url);
    url.searchParams.set('sslmode', mode);
    const result = await run(['doctor'], { DATABASE_URL: url.toString(), AEAD_SECRET_KEY: AEAD });
    expect(result.code).toBe(code);
    if (code === 4) {
      expect(result.stderr).toMatch(/TLS|SSL/);
      // The way out, not the setting that failed.
      expect(result.stderr).toContain('hint: this server does not offer TLS: connect with ?sslmode=disable');
      expect(result.stderr).not.toContain('?sslmode=require');
    }
    expect(result.stderr).not.toContain(decodeURIComponent(url.password));
  });
});
