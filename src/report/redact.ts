/**
 * Defence in depth: every byte the tool writes passes through a redactor that knows the
 * secrets of this run (keys, the database password, the provider credentials verify-provider
 * sent). The code never prints them on purpose; this catches an echo from a server or a library,
 * in the forms echoes take:
 *   - any piece of 12 or more characters of a secret, in any (ASCII) case: a provider quoting
 *     "sk-abc...xyz" or a truncated key;
 *   - the same pieces of the secret's base64 and base64url, at all three byte offsets (the
 *     secret inside a longer encoded string: a Basic auth header, a JWT), and of its
 *     percent-encoding (a URL echoed back);
 *   - a secret shorter than 12 characters only whole (from 6 characters); a database password
 *     whole, as written or in lower case (from 6 characters; a shorter one as a whole token, so
 *     "ok" and "to" are not eaten everywhere), never by pieces or in every case: the compose
 *     default "postgres_passwordabc" must leave POSTGRES_PASSWORD readable in hints.
 * Linear in the text's length: one rolling hash over 12-character windows, a bitmap to rule
 * out almost every position in a few instructions, an exact comparison for the rest.
 */
const PIECE = 12;
const SHORT = 6;
/** Shorter passwords than this are not redacted as words: they would eat "ok" and "to" everywhere (and guard nothing). */
const SHORTEST_WORD = 3;
const REDACTED = '[redacted]';
const BASE = 0x01000193;
const BITMAP_BITS = 20;

/** A character code with ASCII letters folded to lower case (the rest as they are). */
function fold(code: number): number {
  return code >= 65 && code <= 90 ? code + 32 : code;
}

/** base64 (and base64url) of `bytes` as it appears inside a longer encoding at each of the three byte offsets: only the characters that depend on `bytes` alone. */
function encodedForms(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const encoded = padded.toString('base64');
    // Characters touched by the filler before, or by whatever follows (the last partial group), are dropped.
    const start = Math.ceil((offset * 4) / 3);
    const end = Math.floor((padded.length * 4) / 3);
    const core = encoded.slice(start, end);
    if (core.length >= PIECE) forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

export class Redactor {
  /** Every 12-character window of every long form, folded to lower case, by its hash. */
  private readonly windows = new Map<number, string[]>();
  private readonly bitmap = new Uint8Array(1 << (BITMAP_BITS - 3));
  /** Secrets of SHORT to PIECE - 1 characters: redacted whole, in any case. */
  private readonly whole = new Set<string>();
  /** Passwords of SHORT characters or more: redacted wherever they stand, as written or in lower case. */
  private readonly exact = new Set<string>();
  /** Shorter passwords: redacted where they stand as whole tokens (not inside other words). */
  private readonly shortTokens = new Set<string>();
  /** BASE ** (PIECE - 1), to take the oldest character out of a rolling hash. */
  private readonly drop: number;

  constructor() {
    let power = 1;
    for (let i = 0; i < PIECE - 1; i++) power = Math.imul(power, BASE);
    this.drop = power;
  }

  /**
   * Registers a secret. Short strings are ignored unless `password` is set: a database
   * password of any length is redacted, a short one wherever it stands as a whole token.
   */
  add(secret: string | undefined | null, options: { password?: boolean } = {}): void {
    if (!secret) return;
    // A password is redacted whole (any case, percent-encoded too), not by pieces: Laminar's
    // compose default ("postgres_passwordabc") would otherwise take the variable name
    // POSTGRES_PASSWORD out of every hint that names it.
    if (options.password) {
      // As written and in lower case, not in every case: "postgres" as a password must not take "Postgres" out of every line.
      const forms = new Set([secret, secret.toLowerCase()]);
      try {
        forms.add(encodeURIComponent(secret));
      } catch {
        // A lone surrogate cannot be URI-encoded.
      }
      for (const form of forms) {
        if (form.length >= SHORT) this.exact.add(form);
        else if (form.length >= SHORTEST_WORD) this.shortTokens.add(form);
      }
      return;
    }
    if (secret.length >= PIECE) {
      const forms = new Set([secret, ...encodedForms(Buffer.from(secret, 'utf8'))]);
      try {
        forms.add(encodeURIComponent(secret));
      } catch {
        // A lone surrogate cannot be URI-encoded; the raw form is still registered.
      }
      for (const form of forms) this.addWindows(form);
      return;
    }
    const forms = new Set([secret, secret.toLowerCase()]);
    try {
      forms.add(encodeURIComponent(secret));
    } catch {
      // As above.
    }
    for (const form of forms) {
      if (form.length >= PIECE) this.addWindows(form);
      else if (form.length >= SHORT) this.whole.add(form.toLowerCase());
      else if (options.password && form.length >= SHORTEST_WORD) this.shortTokens.add(form);
    }
  }

  private addWindows(form: string): void {
    for (let start = 0; start + PIECE <= form.length; start++) {
      let window = '';
      let hash = 0;
      for (let i = start; i < start + PIECE; i++) {
        const code = fold(form.charCodeAt(i));
        window += String.fromCharCode(code);
        hash = (Math.imul(hash, BASE) + code) | 0;
      }
      const known = this.windows.get(hash);
      if (known) {
        if (!known.includes(window)) known.push(window);
      } else this.windows.set(hash, [window]);
      const bit = hash >>> (32 - BITMAP_BITS);
      this.bitmap[bit >>> 3]! |= 1 << (bit & 7);
    }
  }

  apply(text: string): string {
    let result = this.applyPieces(text);
    for (const secret of this.whole) result = replaceAnyCase(result, secret);
    for (const secret of this.exact) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    for (const token of this.shortTokens) {
      if (!result.includes(token)) continue;
      const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      result = result.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'gu'), REDACTED);
    }
    return result;
  }

  /** Every stretch of the text covered by 12-character windows of a secret's forms, replaced. */
  private applyPieces(text: string): string {
    if (this.windows.size === 0 || text.length < PIECE) return text;
    const bitmap = this.bitmap;
    const drop = this.drop;
    let hash = 0;
    for (let i = 0; i < PIECE - 1; i++) hash = (Math.imul(hash, BASE) + fold(text.charCodeAt(i))) | 0;
    // Covered stretches, built as found (positions only grow).
    let out: string[] | null = null;
    let copiedUpTo = 0;
    let coverEnd = -1;
    let coverStart = -1;
    for (let end = PIECE - 1; end < text.length; end++) {
      hash = (Math.imul(hash, BASE) + fold(text.charCodeAt(end))) | 0;
      const start = end - PIECE + 1;
      const bit = hash >>> (32 - BITMAP_BITS);
      if ((bitmap[bit >>> 3]! & (1 << (bit & 7))) !== 0 && this.isWindow(hash, text, start)) {
        if (start <= coverEnd) coverEnd = end + 1;
        else {
          if (coverEnd >= 0) {
            out ??= [];
            out.push(text.slice(copiedUpTo, coverStart), REDACTED);
            copiedUpTo = coverEnd;
          }
          coverStart = start;
          coverEnd = end + 1;
        }
      }
      // Take the window's first character out before the next one comes in.
      hash = (hash - Math.imul(fold(text.charCodeAt(start)), drop)) | 0;
    }
    if (coverEnd < 0) return text;
    out ??= [];
    out.push(text.slice(copiedUpTo, coverStart), REDACTED, text.slice(coverEnd));
    return out.join('');
  }

  private isWindow(hash: number, text: string, start: number): boolean {
    const candidates = this.windows.get(hash);
    if (!candidates) return false;
    for (const window of candidates) {
      let same = true;
      for (let i = 0; i < PIECE; i++) {
        if (fold(text.charCodeAt(start + i)) !== window.charCodeAt(i)) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    return false;
  }
}

/** Every occurrence of `secret` (given in lower case), in any ASCII case, replaced; linear. */
function replaceAnyCase(text: string, secret: string): string {
  const folded = text.toLowerCase();
  // toLowerCase keeps the length for everything but a few non-ASCII letters; then fall back to exact case.
  if (folded.length !== text.length) return text.split(secret).join(REDACTED);
  let at = folded.indexOf(secret);
  if (at < 0) return text;
  let result = '';
  let from = 0;
  while (at >= 0) {
    result += text.slice(from, at) + REDACTED;
    from = at + secret.length;
    at = folded.indexOf(secret, from);
  }
  return result + text.slice(from);
}
