import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadEnvironment } from '../../src/config/environment.js';
import { resolveDatabaseTarget } from '../../src/config/database-target.js';
import { parseReference as parseSecretReference, resolveKeys as resolveSecretReferences } from '../../src/config/references.js';
import { CliError, ConfigError, UsageError } from '../../src/errors.js';

const KEY = 'ab'.repeat(32);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function envFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('env files', () => {
  it("reads `#` inside an unquoted value as Docker Compose does (Laminar's containers get abc#def), and notes where dotenv differs", () => {
    const file = envFile('compose.env', 'POSTGRES_PASSWORD=abc#def\nPOSTGRES_USER=lmnr # a comment\n');
    const loaded = loadEnvironment({ processEnv: {}, envFiles: [file], cwd: dir });
    expect(loaded.env.POSTGRES_PASSWORD).toBe('abc#def');
    expect(loaded.env.POSTGRES_USER).toBe('lmnr');
    expect(loaded.readDifferently).toEqual([{ file, name: 'POSTGRES_PASSWORD' }]);
  });

  it('a broken line names the file and the line (exit 3)', () => {
    const file = envFile('broken.env', 'A=1\nAEAD_SECRET_KEY="unterminated\n');
    expect(() => loadEnvironment({ processEnv: {}, envFiles: [file], cwd: dir })).toThrow(/broken.env line 2/);
  });

  it.each([
    ['double quotes', `AEAD_SECRET_KEY="${KEY}"\n`],
    ['single quotes', `AEAD_SECRET_KEY='${KEY}'\n`],
    ['CRLF endings', `A=1\r\nAEAD_SECRET_KEY=${KEY}\r\nB=2\r\n`],
    ['export prefix', `export AEAD_SECRET_KEY=${KEY}\n`],
    ['a BOM', `\uFEFFAEAD_SECRET_KEY=${KEY}\n`],
    ['a comment after the value', `AEAD_SECRET_KEY=${KEY} # the key\n`],
    ['duplicates (the last wins, as in docker compose)', `AEAD_SECRET_KEY=${'cd'.repeat(32)}\nAEAD_SECRET_KEY=${KEY}\n`],
  ])('reads a key written with %s', (_what, text) => {
    const file = envFile(`e${Math.random()}.env`, text);
    expect(loadEnvironment({ processEnv: {}, envFiles: [file], cwd: dir }).env.AEAD_SECRET_KEY).toBe(KEY);
  });

  it('the process environment wins over files; later files over earlier ones', () => {
    const a = envFile('a.env', 'X=from-a\nY=from-a\nZ=from-a\n');
    const b = envFile('b.env', 'Y=from-b\nZ=from-b\n');
    const { env } = loadEnvironment({ processEnv: { Z: 'from-process' }, envFiles: [a, b], cwd: dir });
    expect([env.X, env.Y, env.Z]).toEqual(['from-a', 'from-b', 'from-process']);
  });

  it('a missing --env-file is a configuration error; a missing default .env is not', () => {
    expect(() => loadEnvironment({ processEnv: {}, envFiles: ['nope.env'], cwd: dir })).toThrow(ConfigError);
    expect(loadEnvironment({ processEnv: { A: '1' }, envFiles: [], cwd: dir }).env.A).toBe('1');
  });

  it('a binary file is refused', () => {
    const file = envFile('bin.env', 'A=1\0\0');
    expect(() => loadEnvironment({ processEnv: {}, envFiles: [file], cwd: dir })).toThrow(/not a text file/);
  });
});

describe('database target', () => {
  it('builds a URL from the DATABASE_* parts, encoding special characters', () => {
    const target = resolveDatabaseTarget(
      {
        DATABASE_HOST: 'db',
        DATABASE_PORT: '6543',
        DATABASE_USERNAME: 'lmnr',
        DATABASE_PASSWORD: 'p@ss:/#%w',
        DATABASE_DATABASE: 'laminar',
      },
      undefined,
    );
    expect(target).toMatchObject({ host: 'db', port: 6543, database: 'laminar', user: 'lmnr' });
    expect(decodeURIComponent(new URL(target.connectionString).password)).toBe('p@ss:/#%w');
  });

  it("uses Laminar's compose .env on localhost:5433", () => {
    const target = resolveDatabaseTarget(
      { POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'postgres_passwordabc', POSTGRES_DB: 'postgres' },
      undefined,
    );
    expect(target).toMatchObject({ host: 'localhost', port: 5433, database: 'postgres' });
  });

  it('prefers --database-url, then DATABASE_URL', () => {
    expect(resolveDatabaseTarget({ DATABASE_URL: 'postgres://a@h1/d1' }, 'postgresql://b@h2:7/d2')).toMatchObject({
      host: 'h2',
      port: 7,
      database: 'd2',
    });
    expect(resolveDatabaseTarget({ DATABASE_URL: 'postgres://a@h1/d1', DATABASE_HOST: 'x' }, undefined)).toMatchObject({
      host: 'h1',
      port: 5432,
    });
  });

  it.each([
    ['not a URL', 'postgres://user:pa ss@[bad/x'],
    ['another scheme', 'mysql://user:secretpw1@h/db'],
    ['a bad port', 'postgres://user:secretpw1@h:99999/db'],
  ])('refuses %s without echoing it', (_what, url) => {
    try {
      resolveDatabaseTarget({ DATABASE_URL: url }, undefined);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('secretpw1');
      expect((error as Error).message).not.toContain('pa ss');
    }
  });

  it('says what to do when nothing is configured', () => {
    expect(() => resolveDatabaseTarget({}, undefined)).toThrow(/no database configured/);
  });
});

describe('secret references (property)', () => {
  it('errors never repeat the text given, whatever it is', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 6, maxLength: 80 }), (text) => {
        fc.pre(!/^(env:|file:)/.test(text) && text !== '-' && text !== 'laminar-default');
        try {
          const ref = parseSecretReference(text, '--candidate', 1);
          expect(ref.kind).toBe('literal');
          expect(ref.label).toBe('candidate-1');
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
          expect((error as CliError).message).not.toContain(text);
          expect((error as CliError).hint ?? '').not.toContain(text);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('any 64-hex string, with whitespace or quotes around it, is a literal key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom('', ' ', '\r', '"'),
        fc.boolean(),
        (bytes, wrap, upper) => {
          let hex = Buffer.from(bytes).toString('hex');
          if (upper) hex = hex.toUpperCase();
          const text = wrap === '"' ? `"${hex}"` : `${wrap}${hex}${wrap}`;
          const ref = parseSecretReference(text, '--from', 2);
          expect(ref).toMatchObject({ kind: 'literal', label: 'from-2' });
        },
      ),
    );
  });

  it('env:, file:, laminar-default and - keep their labels', async () => {
    const file = envFile('old.key', `${KEY}\n`);
    const refs = ['env:OLD', `file:${file}`, 'laminar-default', '-'].map((text, i) => parseSecretReference(text, '--candidate', i + 1));
    const keys = await resolveSecretReferences(refs, {
      env: { OLD: ` ${KEY}\r` },
      cwd: dir,
      readStdin: async () => `${KEY}\n`,
      warn: () => {},
    });
    expect(keys.map((k) => k.label)).toEqual(['env:OLD', `file:${file}`, 'laminar-default', 'candidate-4']);
  });

  it('refuses two stdin references and unset variables', async () => {
    const io = { env: {}, cwd: dir, readStdin: async () => KEY, warn: () => {} };
    await expect(
      resolveSecretReferences([parseSecretReference('-', '--from', 1), parseSecretReference('-', '--from', 2)], io),
    ).rejects.toThrow(/only one/);
    await expect(resolveSecretReferences([parseSecretReference('env:NOPE', '--from', 1)], io)).rejects.toThrow(/NOPE is not set/);
  });
});
