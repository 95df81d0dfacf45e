/**
 * The redactor catches echoes of a secret in the forms they take: any piece of 12 or more
 * characters, in any case, of the secret, of its base64 and base64url at every byte offset, of
 * its percent-encoding; a short secret whole. Linear in the text's length.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/report/redact.js';

const secretArb = fc.string({ minLength: 12, maxLength: 80, unit: fc.constantFrom(...'abcdefABCDEF0123456789-_/+=:@!xyzXYZ'.split('')) });
const noise = fc.string({ maxLength: 60, unit: fc.constantFrom(...' .,;()[]{}<>"\'\n\tabcdefghijklmnopqrstuvwxyz'.split('')) });

/** The text's 12-character pieces, in lower case, that come from `form`. */
function leaks(output: string, form: string): string[] {
  const found: string[] = [];
  const lower = output.toLowerCase();
  for (let i = 0; i + 12 <= form.length; i++) if (lower.includes(form.slice(i, i + 12).toLowerCase())) found.push(form.slice(i, i + 12));
  return found;
}

describe('Redactor', () => {
  it('property: any piece of 12+ characters of a secret, in any case, is gone', () => {
    fc.assert(
      fc.property(secretArb, noise, noise, fc.nat(), fc.nat(), fc.boolean(), (secret, before, after, a, b, upper) => {
        const r = new Redactor();
        r.add(secret);
        const from = a % (secret.length - 11);
        const to = from + 12 + (b % (secret.length - from - 11));
        let piece = secret.slice(from, to);
        if (upper) piece = piece.toUpperCase();
        const output = r.apply(`${before}${piece}${after}`);
        expect(leaks(output, secret)).toEqual([]);
        expect(output).toContain('[redacted]');
      }),
      { numRuns: 500 },
    );
  });

  it('property: base64 and base64url of a secret, at each byte offset inside a longer encoding, are gone', () => {
    fc.assert(
      fc.property(secretArb, fc.uint8Array({ maxLength: 5 }), fc.uint8Array({ maxLength: 5 }), fc.boolean(), (secret, pre, post, url) => {
        const r = new Redactor();
        r.add(secret);
        const bytes = Buffer.concat([Buffer.from(pre), Buffer.from(secret), Buffer.from(post)]);
        let encoded = bytes.toString('base64');
        if (url) encoded = encoded.replace(/\+/g, '-').replace(/\//g, '_');
        const output = r.apply(`Authorization: Basic ${encoded} was refused`);
        // The encoded secret occupies ~4/3 of its length; pieces of it of 12+ characters must not survive.
        const core = Buffer.from(secret).toString('base64').slice(2, -3);
        for (let i = 0; i + 16 <= core.length; i += 4) expect(output).not.toContain(core.slice(i, i + 16));
        expect(output).toContain('[redacted]');
      }),
      { numRuns: 300 },
    );
  });

  it('percent-encoding, a short secret whole, a password as a whole token', () => {
    const r = new Redactor();
    r.add('p@ss/word:with#specials-0123');
    expect(r.apply('url postgres://u:p%40ss%2Fword%3Awith%23specials-0123@h/db')).not.toMatch(/specials/);
    r.add('abc123xyz');
    expect(r.apply('got ABC123XYZ back')).toBe('got [redacted] back');
    r.add('pgs', { password: true });
    r.add('postgres', { password: true });
    expect(r.apply('user postgres at pgs, and pgsx stays')).toBe('user [redacted] at [redacted], and pgsx stays');
  });

  it('leaves text without a secret alone, byte for byte', () => {
    fc.assert(
      fc.property(secretArb, fc.string({ maxLength: 200 }), (secret, text) => {
        const r = new Redactor();
        r.add(secret);
        fc.pre(leaks(text, secret).length === 0 && !text.toLowerCase().includes(secret.toLowerCase().slice(0, 12)));
        const encoded = Buffer.from(secret).toString('base64');
        fc.pre(!text.includes(encoded.slice(0, 12)));
        expect(r.apply(text)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('is linear: 5 MB of text with near misses everywhere, with many secrets, in well under a second', () => {
    const r = new Redactor();
    const secrets = Array.from({ length: 20 }, (_, i) => `sk-live-${i}-0123456789abcdefghijklmnopqrstuv`);
    for (const secret of secrets) r.add(secret);
    const text = 'sk-live-0-0123456789abcdefghijk'.slice(0, 11).repeat(5_000_000 / 11);
    const started = performance.now();
    const out = r.apply(text);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out.length).toBe(text.length);
  });
});
