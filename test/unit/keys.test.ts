import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { checkSecret, cleanSecretText, fingerprintKey, LAMINAR_DEFAULT_KEY_HEX } from '../../src/crypto/keys.js';

const KEY = 'a1'.repeat(32);

describe('checkSecret', () => {
  it('accepts a bare 64-hex key and fingerprints it without revealing it', () => {
    const check = checkSecret('AEAD_SECRET_KEY', KEY);
    expect(check.status).toBe('ok');
    expect(check.fingerprint).toBe(createHash('sha256').update(Buffer.from(KEY, 'hex')).digest('hex').slice(0, 8));
    expect(JSON.stringify({ ...check, key: null })).not.toContain(KEY);
  });

  it('accepts upper case', () => {
    expect(checkSecret('AEAD_SECRET_KEY', KEY.toUpperCase()).status).toBe('ok');
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    ['a1'.repeat(31) + 'a', 'invalid'],
    ['a1'.repeat(32) + 'a', 'invalid'],
    ['zz'.repeat(32), 'invalid'],
    ['a1'.repeat(16), 'invalid'],
  ])('%j is %s', (raw, status) => {
    const check = checkSecret('AEAD_SECRET_KEY', raw);
    expect(check.status).toBe(status);
    expect(check.key).toBeNull();
    if (raw?.trim()) expect(check.problem).not.toContain(raw.trim());
  });

  it('flags the public default key', () => {
    const check = checkSecret('AEAD_SECRET_KEY', LAMINAR_DEFAULT_KEY_HEX);
    expect(check.status).toBe('public_default');
    expect(check.problem).toMatch(/public default/);
  });

  it('a trailing CR works in the web app but not in the Rust server', () => {
    const check = checkSecret('AEAD_SECRET_KEY', `${KEY}\r`);
    expect(check.status).toBe('needs_cleanup');
    expect(check.problem).toMatch(/web app would still read it/);
    expect(check.problem).toMatch(/Rust server .* would refuse it/);
    expect(check.key && Buffer.from(check.key.bytes).toString('hex')).toBe(KEY);
  });

  it('quotes break both services', () => {
    const check = checkSecret('AEAD_SECRET_KEY', `"${KEY}"`);
    expect(check.status).toBe('needs_cleanup');
    expect(check.problem).toMatch(/web app would read 0 bytes/);
    expect(check.problem).toMatch(/quotes/);
  });

  it('an export prefix is cleaned', () => {
    const check = checkSecret('AEAD_SECRET_KEY', `export ${KEY}`);
    expect(check.status).toBe('needs_cleanup');
    expect(check.problem).toMatch(/export/);
  });

  it('cleanup of the default key still says it is the public default', () => {
    const check = checkSecret('AEAD_SECRET_KEY', ` ${LAMINAR_DEFAULT_KEY_HEX} `);
    expect(check.status).toBe('needs_cleanup');
    expect(check.problem).toMatch(/public default/);
  });
});

describe('cleanSecretText', () => {
  it('removes one layer of quotes, whitespace and export', () => {
    expect(cleanSecretText(` export '${KEY}'\r\n`).value).toBe(KEY);
  });
});

describe('fingerprintKey', () => {
  it('is 8 hex characters and differs between keys', () => {
    const a = fingerprintKey(Buffer.from(KEY, 'hex'));
    const b = fingerprintKey(Buffer.from(LAMINAR_DEFAULT_KEY_HEX, 'hex'));
    expect(a).toMatch(/^[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });
});
