/**
 * Reads a `.env` file exactly as Docker Compose does (compose-go's `dotenv` parser), which is not
 * how the `dotenv` npm package reads it. The rules, each pinned by test/unit/compose-dotenv.test.ts:
 * - Blank lines and lines whose first non-blank character is `#` are skipped.
 * - An optional `export ` prefix; the name is letters, digits, `_ . - [ ]`; it ends at `=`, or at `:`
 *   (YAML style, `KEY: value`). Spaces around the name are dropped; a space inside it is an error.
 * - A line holding only a name (`KEY`) takes the value from the lookup (the shell) if it has one,
 *   and is otherwise not set at all.
 * - Unquoted values: blanks after `=` are dropped; the value runs to the end of the line, is cut
 *   at the first ` #` (a `#` preceded by a space; `abc#def` keeps its `#`), trailing whitespace
 *   (CR included) is dropped, then `${VAR}` etc. are interpolated.
 * - Single quotes: taken literally (`\'` is a quote), may span lines, no interpolation.
 * - Double quotes: may span lines; `\n \r \t \\ \" \$` and the other C escapes are decoded, then
 *   the value is interpolated. An unterminated quote is an error.
 * - Interpolation sees the lookup first, then the values defined earlier in the same file.
 * - A later definition of a name replaces an earlier one. A UTF-8 byte order mark is ignored.
 * Pure: no file or environment access. Errors carry the 1-based line.
 */
import { interpolate, InterpolationError, type VariableLookup } from './compose-interpolate.js';

export class DotenvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'DotenvSyntaxError';
  }
}

export interface ComposeDotenvOptions {
  /** Variables from outside the file (the shell): fill bare `KEY` lines and win in interpolation. */
  lookup?: VariableLookup;
}

/** Blanks that are not line breaks (compose-go's isSpace). */
const isBlank = (char: string | undefined): boolean =>
  char === ' ' || char === '\t' || char === '\v' || char === '\f' || char === '\r' || char === '\u0085' || char === '\u00a0';
const isWhitespace = (char: string | undefined): boolean => char !== undefined && (isBlank(char) || char === '\n');
const isNameChar = (char: string): boolean => /[\p{L}\p{N}_.\-[\]]/u.test(char);

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '"': '"', '\\': '\\' };

/** Decodes the escapes Compose decodes in double-quoted values; `\$` becomes `$$` so interpolation keeps a literal `$`. */
function decodeEscapes(text: string): string {
  return text.replace(/\\(?:[abcfnrtv$"\\]|0\d{0,3})/g, (match) => {
    const code = match.slice(1);
    if (code === '$') return '$$';
    if (code.startsWith('0')) {
      // Compose rewrites `\0ddd` to `\ddd`: three octal digits decode, anything else stays (minus the 0).
      const digits = code.slice(1);
      return /^[0-7]{3}$/.test(digits) ? String.fromCharCode(parseInt(digits, 8)) : `\\${digits}`;
    }
    return ESCAPES[code] ?? match;
  });
}

export function parseComposeDotenv(text: string, options: ComposeDotenvOptions = {}): Map<string, string> {
  const lookup = options.lookup ?? (() => undefined);
  const out = new Map<string, string>();
  // A last line without a newline is read like any other line.
  const src = text.replace(/^\uFEFF/, '') + '\n';
  const lineAt = (index: number) => src.slice(0, index).split('\n').length;
  const expand = (value: string, at: number): string => {
    try {
      return interpolate(value, (name) => lookup(name) ?? out.get(name)).value;
    } catch (error) {
      if (error instanceof InterpolationError) throw new DotenvSyntaxError(error.message, lineAt(at));
      throw error;
    }
  };

  let i = 0;
  while (i < src.length) {
    // The start of the next statement: skip whitespace and comment lines.
    while (isWhitespace(src[i])) i += 1;
    if (i >= src.length) break;
    if (src[i] === '#') {
      i = src.indexOf('\n', i);
      continue;
    }
    const statementStart = i;
    if (/^export\s+/.test(src.slice(i, i + 16))) {
      i += 'export'.length;
      while (isBlank(src[i])) i += 1;
    }
    // The name, up to `=`, `:` or the end of the line.
    const nameStart = i;
    let terminator: string | null = null;
    for (; i < src.length; i++) {
      const char = src[i]!;
      if (char === '=' || char === ':' || char === '\n') {
        terminator = char;
        break;
      }
      if (isBlank(char) || isNameChar(char)) continue;
      throw new DotenvSyntaxError(`unexpected character ${JSON.stringify(char)} in variable name`, lineAt(i));
    }
    const name = src.slice(nameStart, i).replace(/[\s\u0085\u00a0]+$/u, '');
    if (/[ \t]/.test(name)) throw new DotenvSyntaxError('a variable name cannot contain a space', lineAt(statementStart));
    i += 1; // past the terminator
    if (terminator === '\n') {
      if (name === '') continue;
      const inherited = lookup(name);
      if (inherited !== undefined) out.set(name, inherited);
      continue;
    }
    while (isBlank(src[i])) i += 1;

    const quote = src[i];
    if (quote !== '"' && quote !== "'") {
      const end = src.indexOf('\n', i);
      let value = src.slice(i, end);
      const comment = value.indexOf(' #');
      if (comment >= 0) value = value.slice(0, comment);
      value = value.replace(/[\s\u0085\u00a0]+$/u, '');
      const expanded = expand(value, i);
      if (name !== '') out.set(name, expanded);
      i = end;
      continue;
    }

    // Quoted: find the closing quote; a backslash-escaped quote is part of the value.
    const valueStart = i;
    let chars = '';
    let escaped = false;
    let closed = -1;
    for (let j = i + 1; j < src.length; j++) {
      const char = src[j]!;
      if (char !== quote) {
        if (!escaped && char === '\\') {
          escaped = true;
          continue;
        }
        if (escaped) {
          escaped = false;
          chars += '\\';
        }
        chars += char;
        continue;
      }
      if (escaped) {
        escaped = false;
        chars += char;
        continue;
      }
      closed = j;
      break;
    }
    if (closed < 0)
      throw new DotenvSyntaxError(`unterminated quoted value (${quote === '"' ? 'double' : 'single'} quote)`, lineAt(valueStart));
    const quoted = quote === '"' ? expand(decodeEscapes(chars), valueStart) : chars;
    if (name !== '') out.set(name, quoted);
    // Compose reads on right after the closing quote: ` # comment` is skipped as a comment.
    i = closed + 1;
  }
  return out;
}
