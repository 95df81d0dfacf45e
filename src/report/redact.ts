/**
 * Defence in depth: every byte the tool writes passes through a redactor that knows the
 * secrets of this run (keys, the database password, plaintexts verify-provider sent). The
 * code never prints them on purpose; this catches an echo from a server or a library.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Registers a secret; short strings are ignored (they would redact ordinary words). */
  add(secret: string | undefined | null): void {
    if (!secret || secret.length < 6) return;
    this.secrets.add(secret);
    const lower = secret.toLowerCase();
    if (lower !== secret) this.secrets.add(lower);
    try {
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) this.secrets.add(encoded);
    } catch {
      // A lone surrogate cannot be URI-encoded; the raw form is still registered.
    }
  }

  apply(text: string): string {
    let result = text;
    for (const secret of this.secrets) {
      if (result.includes(secret)) result = result.split(secret).join('[redacted]');
    }
    return result;
  }
}
