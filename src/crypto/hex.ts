/**
 * Strict hex decoding for sealed values.
 *
 * Node's Buffer.from(x, 'hex') accepts upper case (as Laminar's web app does) but silently
 * stops at the first non-hex pair and drops an odd last character. Comparing the decoded
 * length with the input length turns that leniency into a strict check without a regex pass:
 * the lengths agree exactly when every character was consumed.
 */
export function decodeHexStrict(text: string): Buffer | null {
  if (text.length % 2 !== 0) return null;
  const bytes = Buffer.from(text, 'hex');
  return bytes.length * 2 === text.length ? bytes : null;
}

export function encodeHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Why a hex field does not decode, in the words every report uses; null when it does. */
export function hexProblem(what: 'nonce' | 'ciphertext', text: string): string | null {
  if (text.length % 2 !== 0) return `${what} has an odd number of hex characters (${text.length})`;
  return decodeHexStrict(text) === null ? `${what} is not hex` : null;
}
