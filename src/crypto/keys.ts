/**
 * Secret keys: parsing Laminar's hex-encoded 32-byte keys the way an operator writes them,
 * diagnosing the forms Laminar's two services disagree on, and naming keys by fingerprint.
 */
import { createHash } from 'node:crypto';
import { KEY_BYTES } from './constants.js';

/** The one default ever shipped in Laminar's example env files and Helm values. Public. */
export const LAMINAR_DEFAULT_KEY_HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
export const LAMINAR_DEFAULT_LABEL = 'laminar-default';

/** A usable key and how the operator named it. The bytes never leave the process. */
export interface SecretKey {
  label: string;
  bytes: Uint8Array;
  fingerprint: string;
}

/** First 8 hex characters of SHA-256 of the key bytes: enough to tell keys apart, useless to an attacker. */
export function fingerprintKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

const KEY_HEX = /^[0-9a-fA-F]{64}$/;

export function isKeyHex(text: string): boolean {
  return KEY_HEX.test(text);
}

export function keyFromHex(label: string, hex: string): SecretKey {
  const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  return { label, bytes, fingerprint: fingerprintKey(bytes) };
}

export function isPublicDefault(key: SecretKey): boolean {
  return Buffer.from(key.bytes).toString('hex') === LAMINAR_DEFAULT_KEY_HEX;
}

export function sameKey(a: SecretKey, b: SecretKey): boolean {
  return Buffer.compare(a.bytes, b.bytes) === 0;
}

export const laminarDefaultKey = (): SecretKey => keyFromHex(LAMINAR_DEFAULT_LABEL, LAMINAR_DEFAULT_KEY_HEX);

export type SecretStatus = 'ok' | 'missing' | 'invalid' | 'needs_cleanup' | 'public_default';

export interface SecretCheck {
  name: string;
  status: SecretStatus;
  fingerprint: string | null;
  problem: string | null;
  /** The usable key (after cleanup), when there is one. Never rendered. */
  key: SecretKey | null;
}

/**
 * Normalises what operators actually put in env files and secret managers: an `export `
 * prefix, surrounding whitespace or CR/LF, one pair of quotes. Returns what was removed.
 */
export function cleanSecretText(raw: string): { value: string; removed: string[] } {
  const removed: string[] = [];
  let value = raw;
  const trimmed = value.trim();
  if (trimmed !== value) {
    removed.push(/[\r\n]/.test(value) ? 'a line ending (CR/LF)' : 'surrounding whitespace');
    value = trimmed;
  }
  if (/^export\s+/.test(value)) {
    removed.push('an `export ` prefix');
    value = value.replace(/^export\s+/, '');
  }
  const quoted = /^(['"])(.*)\1$/s.exec(value);
  if (quoted) {
    removed.push('quotes');
    value = quoted[2]!.trim();
  }
  return { value, removed };
}

/** How Laminar's web app (Node Buffer hex) and Rust server (strict hex) would each take a raw key. */
function describeServiceReactions(raw: string, cleaned: string): string {
  const webBytes = Buffer.from(raw, 'hex');
  const webAccepts = webBytes.length === KEY_BYTES && webBytes.toString('hex') === cleaned.toLowerCase();
  const web = webAccepts
    ? "Laminar's web app would still read it (Node stops at the first non-hex character)"
    : `Laminar's web app would read ${webBytes.length} bytes instead of 32 and fail`;
  return `${web}; its Rust server (strict hex, exactly 32 bytes) would refuse it`;
}

/** Checks one of Laminar's key variables. `raw` is undefined when the variable is not set. */
export function checkSecret(name: string, raw: string | undefined): SecretCheck {
  if (raw === undefined || raw.trim() === '') {
    return { name, status: 'missing', fingerprint: null, problem: `${name} is not set`, key: null };
  }
  const { value, removed } = cleanSecretText(raw);
  if (!isKeyHex(value)) {
    const what = /^[0-9a-fA-F]*$/.test(value) ? `${value.length} hex characters` : `${value.length} characters, not all hex`;
    return {
      name,
      status: 'invalid',
      fingerprint: null,
      problem: `${name} must be 64 hex characters (32 bytes); it has ${what}`,
      key: null,
    };
  }
  const key = keyFromHex(name, value);
  const isDefault = isPublicDefault(key);
  if (removed.length > 0) {
    return {
      name,
      status: 'needs_cleanup',
      fingerprint: key.fingerprint,
      problem:
        `${name} has ${removed.join(' and ')} around the key: ${describeServiceReactions(raw, value)}. ` +
        `Write it as bare 64 hex characters.` +
        (isDefault ? ` It is also Laminar's public default key.` : ''),
      key,
    };
  }
  if (isDefault) {
    return {
      name,
      status: 'public_default',
      fingerprint: key.fingerprint,
      problem: `${name} is Laminar's public default key: anyone with a copy of the database can read every value sealed with it`,
      key,
    };
  }
  return { name, status: 'ok', fingerprint: key.fingerprint, problem: null, key };
}
