/**
 * The `.env` reader against Docker Compose's own rules (compose-go `dotenv/parser.go` and
 * `template/template.go`, the code `docker compose` runs). Each case names the rule it pins.
 */
import { describe, expect, it } from 'vitest';
import { DotenvSyntaxError, parseComposeDotenv } from '../../src/config/compose-dotenv.js';
import { interpolate, InterpolationError } from '../../src/config/compose-interpolate.js';

const parse = (text: string, shell: Record<string, string> = {}) =>
  Object.fromEntries(parseComposeDotenv(text, { lookup: (name) => shell[name] }));

describe('parseComposeDotenv: values as Compose reads them', () => {
  it('unquoted: an inline comment needs a space before #; a # inside the value is kept', () => {
    expect(parse('A=abc#def\nB=abc #comment\nC=abc\t#tab is no space\nD=#all value\n')).toEqual({
      A: 'abc#def',
      B: 'abc',
      C: 'abc\t#tab is no space',
      D: '#all value',
    });
  });

  it('unquoted: blanks after = are dropped, trailing whitespace and a CR (CRLF files) too', () => {
    expect(parse('A=   spaced\r\nB=trailing   \r\nC=\r\n')).toEqual({ A: 'spaced', B: 'trailing', C: '' });
  });

  it('comment lines, blank lines, `export `, spaces around the name, YAML-style `KEY: value`', () => {
    expect(parse('# comment\n   # indented comment\n\nexport A=1\n  B = 2\nC: 3\n')).toEqual({ A: '1', B: '2', C: '3' });
  });

  it('single quotes are literal (no escapes, no interpolation) and may span lines', () => {
    expect(parse("A='x $B \\n y'\nB='it\\'s'\nC='line1\nline2'\n")).toEqual({ A: 'x $B \\n y', B: "it's", C: 'line1\nline2' });
  });

  it('double quotes decode escapes and interpolate; \\$ and $$ give a literal $', () => {
    expect(parse('B=bee\nA="x ${B} \\n \\"q\\" \\\\ \\$B $$B"\n')).toEqual({ B: 'bee', A: 'x bee \n "q" \\ $B $B' });
  });

  it('a quoted value keeps its # and what follows the closing quote is a comment', () => {
    expect(parse('A="abc # not a comment" # a comment\nB=\'x#y\'\n')).toEqual({ A: 'abc # not a comment', B: 'x#y' });
  });

  it('interpolation: the shell (lookup) first, then earlier lines; defaults apply', () => {
    expect(parse('A=one\nB=${A}-${C:-dflt}-$A\n', { A: 'shell' })).toEqual({ A: 'one', B: 'shell-dflt-shell' });
    expect(parse('A=one\nB=${A}\n')).toEqual({ A: 'one', B: 'one' });
  });

  it('a bare name takes the shell value, and is not set at all without one', () => {
    expect(parse('FROM_SHELL\nNOT_SET\n', { FROM_SHELL: 'v' })).toEqual({ FROM_SHELL: 'v' });
  });

  it('the file value is what the file says, even when the shell has another (the caller decides precedence)', () => {
    expect(parse('AEAD_SECRET_KEY=file\n', { AEAD_SECRET_KEY: 'shell' })).toEqual({ AEAD_SECRET_KEY: 'file' });
  });

  it('a later line wins; a BOM and a missing final newline change nothing', () => {
    expect(parse('\uFEFFA=1\nA=2')).toEqual({ A: '2' });
  });

  it('errors carry the line: an unterminated quote, a space in a name, a bad character, a refused ${X:?}', () => {
    const lineOf = (text: string) => {
      try {
        parseComposeDotenv(text);
      } catch (error) {
        expect(error).toBeInstanceOf(DotenvSyntaxError);
        return (error as DotenvSyntaxError).line;
      }
      return null;
    };
    expect(lineOf('A=1\nB="open\n\n')).toBe(2);
    expect(lineOf('A=1\n\nMY KEY=1\n')).toBe(3);
    expect(lineOf('A=1\nB$=1\n')).toBe(2);
    expect(lineOf('A=${UNSET:?set it}\n')).toBe(1);
  });
});

describe('interpolate: Compose variable substitution', () => {
  const env: Record<string, string> = { SET: 'v', EMPTY: '' };
  const run = (template: string) => interpolate(template, (name) => env[name]).value;

  it('$NAME, ${NAME}, $$ and a lone $', () => {
    expect(run('$SET ${SET} $$SET $ 5$ ${UNSET}x')).toBe('v v $SET $ 5$ x');
  });

  it(':- and - differ on empty; :+ and + likewise', () => {
    expect([run('${EMPTY:-d}'), run('${EMPTY-d}'), run('${UNSET-d}'), run('${SET:-d}')]).toEqual(['d', '', 'd', 'v']);
    expect([run('${EMPTY:+a}'), run('${EMPTY+a}'), run('${UNSET+a}'), run('${SET:+a}')]).toEqual(['', 'a', '', 'a']);
  });

  it('nested defaults are interpolated only when used', () => {
    expect(run('${UNSET:-${SET}-x}')).toBe('v-x');
    const result = interpolate('${SET:-${OTHER}}', (name) => env[name]);
    expect(result.references.map((r) => r.name)).toEqual(['SET']);
    expect(result.usedFallback).toBe(false);
  });

  it(":? refuses unset or empty, ? only unset, with Compose's message", () => {
    expect(() => run('${EMPTY:?must be set}')).toThrow('required variable EMPTY is missing a value: must be set');
    expect(run('${EMPTY?x}')).toBe('');
    expect(() => run('${UNSET?}')).toThrow(/^required variable UNSET is missing a value$/);
    expect(() => run('${UNSET?}')).toThrow(InterpolationError);
  });

  it('a malformed ${...} is an error, as Compose refuses it', () => {
    expect(() => run('${1BAD}')).toThrow(/invalid interpolation/);
    expect(() => run('${SET')).toThrow(/invalid interpolation/);
    expect(() => run('${SET!x}')).toThrow(/invalid interpolation/);
  });

  it('records which variables were looked up and whether they were set', () => {
    const result = interpolate('${A}${B:-x}', (name) => (name === 'A' ? 'a' : undefined));
    expect(result).toEqual({
      value: 'ax',
      references: [
        { name: 'A', found: true },
        { name: 'B', found: false },
      ],
      usedFallback: true,
    });
  });
});
