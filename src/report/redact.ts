/**
 * Defence in depth: every byte the tool writes passes through a redactor that knows the
 * secrets of this run (keys, the database password, plaintexts verify-provider sent). The
 * code never prints them on purpose; this catches an echo from a server or a library.
 */
const SHORT = 6;
/** Shorter passwords than this are not redacted as words: they would eat "ok" and "to" everywhere (and guard nothing). */
const SHORTEST_WORD = 3;

export class Redactor {
  private readonly secrets = new Set<string>();
  /** Passwords too short to redact as substrings (they would eat ordinary words): redacted as whole tokens. */
  private readonly shortTokens = new Set<string>();

  /**
   * Registers a secret. Short strings are ignored unless `password` is set: a database
   * password of any length is redacted, a short one wherever it stands as a whole token.
   */
  add(secret: string | undefined | null, options: { password?: boolean } = {}): void {
    if (!secret) return;
    const forms = new Set([secret, secret.toLowerCase()]);
    try {
      forms.add(encodeURIComponent(secret));
    } catch {
      // A lone surrogate cannot be URI-encoded; the raw form is still registered.
    }
    for (const form of forms) {
      if (form.length >= SHORT) this.secrets.add(form);
      else if (options.password && form.length >= SHORTEST_WORD) this.shortTokens.add(form);
    }
  }

  apply(text: string): string {
    let result = text;
    for (const secret of this.secrets) {
      if (result.includes(secret)) result = result.split(secret).join('[redacted]');
    }
    for (const token of this.shortTokens) {
      if (!result.includes(token)) continue;
      const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      result = result.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'gu'), '[redacted]');
    }
    return result;
  }
}
