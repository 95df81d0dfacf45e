import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/report/output.js';

function sink(extra: { isTTY?: boolean; columns?: number } = {}) {
  const chunks: string[] = [];
  const stream = Object.assign(new Writable({ write: (chunk, _enc, done) => (chunks.push(String(chunk)), done()) }), extra);
  return { stream, text: () => chunks.join('') };
}

describe('output', () => {
  it('--json-out: the document replaces the file when it ends; a run that wrote none leaves the previous one and no temporary file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-json-out-'));
    try {
      const file = path.join(dir, 'report.json');
      fs.writeFileSync(file, '{"previous": true}\n');
      const quiet = () =>
        createOutput({
          json: false,
          debug: false,
          color: false,
          ci: true,
          stdout: sink().stream,
          stderr: sink().stream,
          jsonOut: { path: file },
        });
      const none = quiet();
      none.close();
      expect(fs.readdirSync(dir)).toEqual(['report.json']);
      expect(fs.readFileSync(file, 'utf8')).toBe('{"previous": true}\n');
      const written = quiet();
      const document = written.jsonDocument('doctor');
      document.field('summary', { total: 1 });
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ previous: true });
      document.end(true);
      written.close();
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ version: 1, command: 'doctor', summary: { total: 1 }, ok: true });
      expect(fs.readdirSync(dir)).toEqual(['report.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spinners only on a terminal that reports a width, never in JSON or CI mode', () => {
    const make = (stderr: ReturnType<typeof sink>['stream'], json = false, ci = false) =>
      createOutput({ json, debug: false, color: false, ci, stdout: sink().stream, stderr }).interactive;
    expect(make(sink({ isTTY: true, columns: 80 }).stream)).toBe(true);
    expect(make(sink({ isTTY: true, columns: 0 }).stream)).toBe(false);
    expect(make(sink({ isTTY: false, columns: 80 }).stream)).toBe(false);
    expect(make(sink({ isTTY: true, columns: 80 }).stream, true)).toBe(false);
    expect(make(sink({ isTTY: true, columns: 80 }).stream, false, true)).toBe(false);
  });

  it('results go to stdout, notes to stderr, and registered secrets are redacted from both', () => {
    const out = sink();
    const err = sink();
    const output = createOutput({ json: false, debug: true, color: false, ci: true, stdout: out.stream, stderr: err.stream });
    output.redactor.add('s3cret-value-123');
    output.result('result with s3cret-value-123');
    output.note('note with S3CRET-VALUE-123'.toLowerCase());
    output.debug('debug line');
    expect(out.text()).toBe('result with [redacted]\n');
    expect(err.text()).toContain('note with [redacted]');
    expect(err.text()).toContain('debug: debug line');
  });
});

describe('groupByWorkspaceAndProject', () => {
  it('orders workspaces and projects by name, whatever order the rows came in', async () => {
    const { groupByWorkspaceAndProject } = await import('../../src/report/format.js');
    const item = (workspaceName: string, projectName: string, n: number) => ({
      workspaceId: `w-${workspaceName}`,
      workspaceName,
      projectId: `p-${projectName}`,
      projectName,
      n,
    });
    const groups = groupByWorkspaceAndProject([item('Zeta', 'b', 1), item('Acme', 'y', 2), item('Zeta', 'a', 3), item('Acme', 'x', 4)]);
    expect(groups.map((g) => g.label)).toEqual(['"Acme" (w-Acme)', '"Zeta" (w-Zeta)']);
    expect(groups.map((g) => g.projects.map((p) => p.items.map((i) => i.n)))).toEqual([
      [[4], [2]],
      [[3], [1]],
    ]);
  });
});

describe('jsonPieces', () => {
  it('joins to exactly JSON.stringify(value, null, 2), long arrays included', async () => {
    const fc = await import('fast-check');
    const { jsonPieces } = await import('../../src/report/output.js');
    const long = (element: unknown) => fc.array(element as never, { minLength: 250, maxLength: 600 });
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.date({ noInvalidDate: true })),
      node: fc.oneof(
        { depthSize: 'small' },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const doc = fc.record({
      version: fc.constant(1),
      findings: long(value),
      nested: fc.record({ rows: long(fc.string()), empty: fc.constant([]) }),
    });
    fc.assert(
      fc.property(doc, (d) => [...jsonPieces(d)].join('') === JSON.stringify(d, null, 2)),
      { numRuns: 60 },
    );
    expect([...jsonPieces({ a: [], b: {} })].join('')).toBe(JSON.stringify({ a: [], b: {} }, null, 2));
  });

  it('redacts in every piece: a secret inside a long array never reaches stdout', () => {
    const out = sink();
    const output = createOutput({ json: true, debug: false, color: false, ci: true, stdout: out.stream, stderr: sink().stream });
    const secret = 'ab'.repeat(32);
    output.redactor.add(secret);
    output.json({ findings: Array.from({ length: 1000 }, (_, i) => ({ i, detail: i === 777 ? `leaked ${secret}` : 'fine' })) });
    expect(out.text()).not.toContain(secret);
    expect(JSON.parse(out.text()).findings).toHaveLength(1000);
  });
});

describe('invocation', () => {
  it("repeats the run's --env-file, quoted for a shell, and check-deployment gets the env file's folder as its project directory", async () => {
    const { invocation } = await import('../../src/core/advice.js');
    expect(invocation('doctor')).toBe('lmnr-keys doctor');
    expect(invocation('rotate', { envFiles: ['../laminar/.env'] })).toBe('lmnr-keys rotate --env-file ../laminar/.env');
    expect(invocation('check-deployment', { envFiles: ['../laminar/.env'] })).toBe(
      'lmnr-keys check-deployment --env-file ../laminar/.env --project-directory ../laminar',
    );
    expect(invocation('check-deployment', { envFiles: ["/srv/it's here/.env"] })).toBe(
      `lmnr-keys check-deployment --env-file '/srv/it'\\''s here/.env' --project-directory '/srv/it'\\''s here'`,
    );
    expect(invocation('check-deployment', { envFiles: ['.env'] })).toBe('lmnr-keys check-deployment --env-file .env');
  });
});

describe('printable', () => {
  it('escapes C0, DEL, C1 (NEL included), the line and paragraph separators and the bidi controls as \\u{...}', async () => {
    const { printable } = await import('../../src/printable.js');
    expect(printable('a\u001b[2Jb')).toBe('a\\u{1b}[2Jb');
    expect(printable('\u007f\u0085\u009b')).toBe('\\u{7f}\\u{85}\\u{9b}');
    expect(printable('x\u2028y\u2029z')).toBe('x\\u{2028}y\\u{2029}z');
    expect(printable('\u200e\u200f\u202a\u202e\u2066\u2069')).toBe('\\u{200e}\\u{200f}\\u{202a}\\u{202e}\\u{2066}\\u{2069}');
    // Line breaks and tabs keep one value on one line; ordinary text, non-ASCII included, is untouched.
    expect(printable('a\tb\r\nc')).toBe('a b c');
    expect(printable('Café — 東京')).toBe('Café — 東京');
  });
});
