/** Keys for tests are made at run time, never written to disk. */
import { randomBytes } from 'node:crypto';
import { LAMINAR_DEFAULT_KEY_HEX } from '../../src/crypto/keys.js';

export const newKeyHex = (): string => randomBytes(32).toString('hex');
export const DEFAULT_KEY_HEX = LAMINAR_DEFAULT_KEY_HEX;
export const keyBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
