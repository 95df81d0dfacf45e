/** The binary COPY paths against a real Postgres, compared with the string paths they replace. */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { newKeyHex } from '../support/keys.js';
import { addDeployment, addProject, addProviderKey, addRawProviderKey, addSlack, addWorkspace, seal } from '../support/seed.js';
import { loadCipher } from '../../src/crypto/aead.js';
import { BinaryCopyWriter, copyIn, copyOut } from '../../src/db/copy.js';
import { copyStore, sealedRowFromTuple } from '../../src/stores/copy-reader.js';
import { readRows, type SealedRow } from '../../src/stores/scan.js';
import { STORES } from '../../src/stores/stores.js';
import { findDuplicateGroups, runDoctor, type DoctorOptions, type Finding } from '../../src/core/doctor.js';
import { checkSecret } from '../../src/crypto/keys.js';
import { DuplicateCandidates } from '../../src/core/duplicates.js';

const KEY = newKeyHex();
let t: TestDatabase;
let project: string;

/** Names and team ids holding everything COPY's text format would escape, and unicode. */
const AWKWARD = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  '',
  'ÖPENAI_API_KEY_🔑',
  `x'); drop table projects; --`,
  ' spaced ',
];

beforeAll(async () => {
  await loadCipher();
  t = await createTestDatabase();
  const workspace = await addWorkspace(t, 'W\tö');
  project = await addProject(t, workspace, 'P');
  for (const name of AWKWARD) await addProviderKey(t, project, name, `sk-${name}`, KEY);
  const good = await seal(KEY, 'sk-good', 'OPENAI_API_KEY');
  await addRawProviderKey(t, project, 'OPENAI_API_KEY', good.nonceHex, ` ${good.ciphertextHex}\n`);
  await addRawProviderKey(t, project, 'OPENAI_API_KEY', good.nonceHex.toUpperCase(), good.ciphertextHex.toUpperCase());
  await addRawProviderKey(t, project, 'OPENAI_API_KEY', '', '');
  await addRawProviderKey(t, project, 'OPENAI_API_KEY', good.nonceHex, randomBytes(512 * 1024).toString('hex'));
  await addRawProviderKey(t, project, 'OPENAI_API_KEY', 'zz', 'é\\t\t');
  for (const teamId of AWKWARD.slice(0, 6)) {
    const ws = await addWorkspace(t, `ws ${teamId}`);
    await addSlack(t, ws, teamId, `xoxb-${teamId}`, KEY);
  }
  const ws1 = await addWorkspace(t, 'd1');
  await addDeployment(t, ws1, { privateKey: await seal(KEY, 'pk', ws1), dataPlaneUrl: { ciphertextHex: null, nonceHex: '' } });
  await addDeployment(t, randomUUID(), { privateKey: { ciphertextHex: '', nonceHex: null } });
});
afterAll(async () => t?.drop());

describe('copyStore', () => {
  it.each(STORES.map((store) => [store.name, store] as const))('%s: every row reads exactly as readRows reads it', async (_name, store) => {
    const fromCopy: SealedRow[] = [];
    const count = await copyStore(t.db, store, {}, (tuple) => fromCopy.push(sealedRowFromTuple(store, tuple)));
    expect(count).toBe(fromCopy.length);
    expect(fromCopy.length).toBeGreaterThan(0);
    const fromStrings = await readRows(
      t.db,
      store,
      fromCopy.map((row) => row.id),
    );
    const byId = (rows: SealedRow[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(byId(fromCopy)).toEqual(byId(fromStrings));
  });

  it('keyset batches in id order cover every row once', async () => {
    const store = STORES[0]!;
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const batch: string[] = [];
      const read = await copyStore(t.db, store, { after, limit: 3 }, (tuple) => batch.push(sealedRowFromTuple(store, tuple).id));
      ids.push(...batch);
      if (read < 3) break;
      after = batch.at(-1)!;
    }
    const all = (await t.query('select id::text as id from provider_api_keys order by id')).rows.map((r: { id: string }) => r.id);
    expect(ids).toEqual(all);
  });
});

describe('copyOut through Kysely', () => {
  it('runs inside a transaction, in its snapshot, and releases the connection only once the COPY is done', async () => {
    const store = STORES[0]!;
    const before = Number((await t.query('select count(*)::int as n from provider_api_keys')).rows[0].n);
    const seen = await t.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        await sql`select 1`.execute(trx);
        const inserted = await addProviderKey(t, project, 'GROQ_API_KEY', 'sk-later', KEY);
        let n = 0;
        await copyStore(trx, store, {}, () => n++);
        await t.query('delete from provider_api_keys where id = $1', [inserted]);
        return n;
      });
    expect(seen).toBe(before);
    let n = 0;
    await copyStore(t.db, store, {}, () => n++);
    expect(n).toBe(before);
    expect(t.pool.totalCount - t.pool.idleCount).toBe(0);
  });

  it("rejects with Postgres's error, and the connection keeps working", async () => {
    const failure = await copyOut(t.db, 'copy (select 1/0) to stdout (format binary)', 1, () => {}).catch((error) => error);
    expect(failure).toMatchObject({ code: '22012' });
    await t.db.connection().execute(async (conn) => {
      await expect(
        copyOut(conn, 'copy (select no_such_column from provider_api_keys) to stdout (format binary)', 1, () => {}),
      ).rejects.toMatchObject({ code: '42703' });
      expect((await sql<{ one: number }>`select 1 as one`.execute(conn)).rows).toEqual([{ one: 1 }]);
    });
  });

  it('reads the socket itself as pg would: the same tuples, an error after rows, a working connection after', async () => {
    const text = `copy (select g, repeat(md5(g::text), case when g = 7000 then 100000 else 1 + g % 9 end), null::text
      from generate_series(1, 20000) g) to stdout (format binary)`;
    const digests = await Promise.all(
      (['socket', 'pg'] as const).map(async (reader) => {
        const hash = createHash('sha256');
        let rows = 0;
        await copyOut(
          t.db,
          text,
          3,
          (tuple) => {
            rows += 1;
            hash.update(tuple.buffer.subarray(tuple.start, tuple.end));
          },
          reader,
        );
        return `${rows} ${hash.digest('hex')}`;
      }),
    );
    expect(digests[0]).toMatch(/^20000 /);
    expect(digests[0]).toBe(digests[1]);
    await t.db.connection().execute(async (conn) => {
      let rows = 0;
      const failing = `copy (select case when g < 15000 then g else 1 / (g - g) end from generate_series(1, 20000) g) to stdout (format binary)`;
      await expect(copyOut(conn, failing, 1, () => rows++)).rejects.toMatchObject({ code: '22012' });
      expect(rows).toBeGreaterThan(1000);
      expect((await sql<{ one: number }>`select 1 as one`.execute(conn)).rows).toEqual([{ one: 1 }]);
    });
  });

  it('copyIn sends a payload larger than the socket buffer, field for field', async () => {
    const writer = new BinaryCopyWriter();
    const big = Buffer.from(randomBytes(3 * 1024 * 1024).toString('hex'));
    const rows = [Buffer.from('a\tb\\c\n'), big, Buffer.from('ü')];
    for (const value of rows) {
      writer.beginRow(2);
      writer.textField(String(value.length));
      writer.field(value, 0, value.length);
    }
    writer.beginRow(2);
    writer.nullField();
    writer.nullField();
    const copied = await t.db.connection().execute(async (conn) => {
      await sql`create temporary table copy_in_check (n text, v text)`.execute(conn);
      const n = await copyIn(conn, 'copy pg_temp.copy_in_check (n, v) from stdin (format binary)', writer.finish());
      const back = await sql<{ n: string | null; v: string | null }>`select n, v from pg_temp.copy_in_check`.execute(conn);
      await sql`drop table pg_temp.copy_in_check`.execute(conn);
      return { n, rows: back.rows };
    });
    expect(copied.n).toBe(4);
    expect(copied.rows.map((r) => r.v)).toEqual([...rows.map((r) => r.toString('utf8')), null]);
  });
});

describe("doctor reading values Postgres decoded ('bytes')", () => {
  const optionsFor = (readSealedAs: 'hex' | 'bytes', other: string): DoctorOptions => ({
    secrets: { aead: checkSecret('AEAD_SECRET_KEY', KEY), slack: checkSecret('SLACK_ENCRYPTION_KEY', other) },
    candidates: [],
    batchSize: 1000,
    strict: false,
    readSealedAs,
  });

  it('reports exactly what reading the text reports, on every shape decode() accepts', async () => {
    const d = await createTestDatabase();
    try {
      const other = newKeyHex();
      const p = await addProject(d, await addWorkspace(d, 'W'), 'P');
      for (const name of AWKWARD) await addProviderKey(d, p, name, `sk-${name}`, KEY);
      await addProviderKey(d, p, 'GEMINI_API_KEY', 'sk-other', other);
      await addProviderKey(d, p, 'GROQ_API_KEY', 'sk-aad', KEY, { aad: 'OPENAI_API_KEY' });
      await addProviderKey(d, p, 'GROQ_API_KEY', new Uint8Array([0xff, 0x41]), KEY);
      const good = await seal(KEY, 'sk-good', 'OPENAI_API_KEY');
      for (const [nonce, value] of [
        [good.nonceHex, ` ${good.ciphertextHex}\n`],
        [`${good.nonceHex.slice(0, 24)} ${good.nonceHex.slice(24)}`, good.ciphertextHex],
        [good.nonceHex.toUpperCase(), good.ciphertextHex.toUpperCase()],
        [good.nonceHex.slice(0, 40), good.ciphertextHex],
        [good.nonceHex + 'abcd', good.ciphertextHex],
        ['', ''],
        [good.nonceHex, ''],
        [good.nonceHex, 'ab'.repeat(15)],
      ])
        await addRawProviderKey(d, p, 'OPENAI_API_KEY', nonce!, value!);
      const ws = await addWorkspace(d, 'd');
      await addDeployment(d, ws, { privateKey: await seal(other, 'pk', ws), dataPlaneUrl: { ciphertextHex: null, nonceHex: '' } });
      await addSlack(d, ws, 'T\t1', 'xoxb', KEY);
      const asText = await runDoctor({ db: d.db }, optionsFor('hex', other));
      const asBytes = await runDoctor({ db: d.db }, optionsFor('bytes', other));
      expect(asText.summary.failing).toBeGreaterThan(10);
      expect(asText.failures.sample.length).toBe(asText.summary.failing);
      // Duplicate names too (found from the ids each read sends: text, or a uuid's bytes).
      expect(asText.warnings.length).toBeGreaterThan(0);
      expect(asBytes).toEqual(asText);
    } finally {
      await d.drop();
    }
  });

  it('lists 150,000 failing values (a wrong key) without running out of stack', async () => {
    const d = await createTestDatabase();
    try {
      const p = await addProject(d, await addWorkspace(d, 'W'), 'P');
      // Well-formed values no key opens, made by Postgres in one statement.
      await d.query(
        `insert into provider_api_keys (id, project_id, name, nonce_hex, value)
        select gen_random_uuid(), $1, 'OPENAI_API_KEY', md5(i::text) || left(md5((i + 1)::text), 16), md5(i::text) || md5((i + 2)::text)
        from generate_series(1, 150000) i`,
        [p],
      );
      const report = await runDoctor({ db: d.db }, optionsFor('bytes', newKeyHex()));
      expect(report.summary).toEqual({ total: 150_000, ok: 0, failing: 150_000 });
      expect(report.failures.causes).toEqual([{ store: 'provider_api_keys', status: 'wrong_secret', decryptsWith: null, count: 150_000 }]);
      expect(report.failures.places).toEqual([expect.objectContaining({ projectId: p, count: 150_000 })]);
      // Streamed: every one, in id order, once.
      let streamed = 0;
      let last = '';
      let ordered = true;
      const again = await runDoctor(
        {
          db: d.db,
          onFinding: (finding) => {
            streamed += 1;
            if (finding.id <= last) ordered = false;
            last = finding.id;
          },
        },
        optionsFor('bytes', newKeyHex()),
      );
      expect(again.summary.failing).toBe(150_000);
      expect(streamed).toBe(150_000);
      expect(ordered).toBe(true);
    } finally {
      await d.drop();
    }
  });

  it('streamed in id order, a value decode() refuses or reads leniently mid-table switches to text where it stands: every finding once, as reading the text gives them', async () => {
    const d = await createTestDatabase();
    try {
      const p = await addProject(d, await addWorkspace(d, 'W'), 'P');
      await d.query(
        `insert into provider_api_keys (id, project_id, name, nonce_hex, value)
        select gen_random_uuid(), $1, 'OPENAI_API_KEY', md5(i::text) || left(md5((i + 1)::text), 16), md5(i::text) || md5((i + 2)::text)
        from generate_series(1, 3000) i`,
        [p],
      );
      const good = await seal(KEY, 'sk-good', 'OPENAI_API_KEY');
      // Ids in the middle of the table's id order: a non-hex value (decode() refuses), one with whitespace (read leniently).
      await d.query(
        `insert into provider_api_keys (id, project_id, name, nonce_hex, value) values
        ('80000000-0000-4000-8000-000000000001', $1, 'OPENAI_API_KEY', $2, 'not hex at all'),
        ('90000000-0000-4000-8000-000000000001', $1, 'OPENAI_API_KEY', $2, $3)`,
        [p, good.nonceHex, ` ${good.ciphertextHex}\n`],
      );
      const streamed = async (readSealedAs: 'hex' | 'bytes') => {
        const findings: Finding[] = [];
        const report = await runDoctor({ db: d.db, onFinding: (f) => findings.push(f) }, optionsFor(readSealedAs, newKeyHex()));
        return { findings, report };
      };
      const asText = await streamed('hex');
      const asBytes = await streamed('bytes');
      expect(asText.findings).toHaveLength(asText.report.summary.failing);
      expect(asText.findings.map((f) => f.id)).toEqual([...asText.findings.map((f) => f.id)].sort());
      expect(asBytes.findings).toEqual(asText.findings);
      expect(asBytes.report.summary).toEqual(asText.report.summary);
      expect(asText.findings.some((f) => f.id === '80000000-0000-4000-8000-000000000001' && f.status === 'malformed')).toBe(true);
    } finally {
      await d.drop();
    }
  });

  it('reads a store holding a value that is not hex as text instead, with the same report', async () => {
    const other = newKeyHex();
    const asText = await runDoctor({ db: t.db }, optionsFor('hex', other));
    const asBytes = await runDoctor({ db: t.db }, optionsFor('bytes', other));
    expect(asText.failures.sample.some((f) => f.detail === 'nonce is not hex')).toBe(true);
    expect(asBytes).toEqual(asText);
  });
});

describe("doctor's duplicate names", () => {
  it('candidates then an exact look-up give what the whole-table aggregate gives (and so does the overflow path)', async () => {
    const p2 = await addProject(
      t,
      (await t.query('select workspace_id::text as w from projects where id = $1', [project])).rows[0].w,
      'P2',
    );
    for (let i = 0; i < 3; i++) await addProviderKey(t, p2, 'GEMINI_API_KEY', `sk-${i}`, KEY);
    await addProviderKey(t, p2, 'GROQ_API_KEY', 'sk-unique', KEY);
    const store = STORES[0]!;
    const candidates = new DuplicateCandidates();
    await copyStore(t.db, store, {}, (tuple) => candidates.add(tuple));
    const everything = new DuplicateCandidates();
    everything.overflow = true;
    const expected = (
      await sql<{ project_id: string; name: string; ids: string[] }>`
      select project_id::text as project_id, name, array_agg(id::text order by created_at desc, id) as ids
      from provider_api_keys group by project_id, name having count(*) > 1 order by project_id, name`.execute(t.db)
    ).rows;
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(await findDuplicateGroups(t.db, candidates)).toEqual(expected);
    expect(await findDuplicateGroups(t.db, everything)).toEqual(expected);
  });
});
