/**
 * The hot writers of streamed output say exactly what the plain ones say: a finding, a
 * quarantine target and a verify result as one JSON line equal JSON.stringify of the object;
 * --all's finding lines equal renderFindingLine's; and a document written as it goes is one
 * valid document, also when it fails half-way.
 */
import fc from 'fast-check';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { ByteSegments, JsonDocumentWriter, type JsonElementWriter } from '../../src/report/json-stream.js';
import { FindingLines, renderFindingLine, writeFinding } from '../../src/report/doctor.js';
import { writeTarget } from '../../src/report/quarantine.js';
import { writeVerifyResult } from '../../src/report/verify.js';
import type { Finding } from '../../src/core/doctor.js';
import type { QuarantineTarget } from '../../src/core/quarantine.js';
import type { VerifyResult } from '../../src/core/verify.js';
import { LAMINAR_DEFAULT_LABEL } from '../../src/crypto/keys.js';

/** Any text, including quotes, backslashes, controls, lone surrogates and non-ASCII. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('"', '\\', '\u0000', '\ud800', 'é', '\u2028'),
);
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });

function written(write: (out: JsonElementWriter) => void): string {
  const chunks: string[] = [];
  const segments = new ByteSegments((bytes, length) => chunks.push(bytes.toString('utf8', 0, length)));
  write({ raw: (t) => segments.write(t), string: (v) => segments.jsonString(v) });
  segments.flush();
  return chunks.join('');
}

const finding = fc.record({
  store: fc.constantFrom('provider_api_keys', 'slack_integrations', 'workspace_deployments.private_key'),
  id: fc.uuid(),
  workspaceId: maybe(fc.uuid()),
  workspaceName: maybe(text),
  projectId: maybe(fc.uuid()),
  projectName: maybe(text),
  name: text,
  status: fc.constantFrom('wrong_secret', 'malformed', 'incomplete', 'not_utf8', 'secret_missing'),
  decryptsWith: maybe(fc.constantFrom(LAMINAR_DEFAULT_LABEL, 'env:OLD', 'AEAD_SECRET_KEY', 'candidate-1')),
  detail: maybe(text),
}) as fc.Arbitrary<Finding>;

describe('JSON lines written field by field', () => {
  it('a finding is exactly JSON.stringify of it', () => {
    fc.assert(
      fc.property(finding, (f) => {
        expect(written((out) => writeFinding(out, f))).toBe(JSON.stringify(f));
      }),
    );
  });

  it('a quarantine target is exactly JSON.stringify of it', () => {
    const target = fc.record({
      store: fc.constantFrom('provider_api_keys', 'slack_integrations'),
      id: fc.uuid(),
      workspaceId: maybe(fc.uuid()),
      projectId: maybe(fc.uuid()),
      name: text,
      status: fc.constantFrom('wrong_secret', 'malformed', 'incomplete'),
      detail: maybe(text),
      action: fc.constantFrom('delete_row', 'clear_pair'),
    }) as fc.Arbitrary<QuarantineTarget>;
    fc.assert(
      fc.property(target, (t) => {
        expect(written((out) => writeTarget(out, t))).toBe(JSON.stringify(t));
      }),
    );
  });

  it('a verify result is exactly JSON.stringify of it', () => {
    const result = fc.record({
      projectId: maybe(fc.uuid()),
      workspaceId: maybe(fc.uuid()),
      id: maybe(fc.uuid()),
      name: text,
      provider: maybe(fc.constantFrom('openai', 'anthropic')),
      status: fc.constantFrom('ok', 'decode_failed', 'quota_exceeded'),
      httpStatus: maybe(fc.integer({ min: 100, max: 599 })),
      retryAfterSeconds: maybe(fc.double({ min: 0, max: 1e6, noNaN: true })),
      detail: maybe(text),
    }) as fc.Arbitrary<VerifyResult>;
    fc.assert(
      fc.property(result, (r) => {
        expect(written((out) => writeVerifyResult(out, r))).toBe(JSON.stringify(r));
      }),
    );
  });
});

describe("--all's finding lines", () => {
  for (const level of [0, 1] as const) {
    it(`say what renderFindingLine says (colour level ${level})`, () => {
      const c = new Chalk({ level });
      fc.assert(
        fc.property(fc.array(finding, { maxLength: 8 }), fc.boolean(), (findings, quarantineAdvisable) => {
          const context = { quarantineAdvisable, envFiles: ['.env'], candidates: ['--candidate env:OLD'] };
          let out = '';
          const lines = new FindingLines(c, context, { part: (t) => (out += t), end: () => (out += '\n') });
          for (const f of findings) lines.write(f);
          expect(out).toBe(findings.map((f) => `${renderFindingLine(f, c, context)}\n`).join(''));
        }),
      );
    });
  }
});

describe('a document written as it goes', () => {
  const document = (onText: (text: string) => void) =>
    new JsonDocumentWriter((bytes, length) => onText(bytes.toString('utf8', 0, length)), 'doctor');

  it('is one valid document, elements of many segments included, with version and command first and ok last', () => {
    let out = '';
    const doc = document((t) => (out += t));
    doc.field('secrets', [{ name: 'AEAD_SECRET_KEY' }]);
    doc.beginArray('findings');
    for (let i = 0; i < 5000; i++) doc.item({ i, text: 'x'.repeat(i % 50) });
    doc.field('summary', { total: 5000 });
    doc.end(false);
    const parsed = JSON.parse(out);
    expect(Object.keys(parsed)).toEqual(['version', 'command', 'secrets', 'findings', 'summary', 'ok']);
    expect(parsed.findings).toHaveLength(5000);
  });

  it('failing half-way closes the open array and ends with the error and "ok": false', () => {
    let out = '';
    const doc = document((t) => (out += t));
    doc.beginArray('findings');
    doc.item({ a: 1 });
    doc.fail({ exitCode: 130, message: 'interrupted (Ctrl-C)', hint: null });
    const parsed = JSON.parse(out);
    expect(parsed).toMatchObject({ findings: [{ a: 1 }], error: { exitCode: 130 }, ok: false });
    expect(Object.keys(parsed).at(-1)).toBe('ok');
  });
});
