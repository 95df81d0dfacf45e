/**
 * Variable interpolation as Docker Compose does it (compose-go's `template` package), for compose
 * files and for the values of Compose's `.env` files:
 *   `$$` -> `$` · `$NAME` · `${NAME}` · `${NAME:-default}` (unset or empty) · `${NAME-default}` (unset)
 *   `${NAME:?message}` (refuse when unset or empty) · `${NAME?message}` (refuse when unset)
 *   `${NAME:+alternate}` (set and non-empty) · `${NAME+alternate}` (set)
 * Names are `[_a-zA-Z][_a-zA-Z0-9]*`; a default, message or alternate is itself interpolated, and
 * only when it is used. An unset variable without a default becomes "" (Compose warns). A `$`
 * followed by anything else is kept as it is. Pure: the caller supplies the lookup.
 */

/** Returns the value of a variable, or undefined when it is not set (set-but-empty is ""). */
export type VariableLookup = (name: string) => string | undefined;

export interface InterpolationReference {
  name: string;
  /** Set (possibly to ""), as opposed to unset. */
  found: boolean;
}

export interface Interpolated {
  value: string;
  /** Every variable the template looked up, in order (a used default's own variables included). */
  references: InterpolationReference[];
  /** A default or alternate text supplied (part of) the value. */
  usedFallback: boolean;
}

/** Compose refuses the project: `${NAME:?message}` unset, or a malformed `${...}`. */
export class InterpolationError extends Error {
  constructor(
    message: string,
    readonly kind: 'required' | 'invalid',
    readonly variable: string | null,
  ) {
    super(message);
    this.name = 'InterpolationError';
  }
}

const NAME_START = /[_a-zA-Z]/;
const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

/** Index of the `}` closing the `${` whose `$` is at `start`, counting nested braces as Compose does, or -1. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
    if (text[i] === '{') {
      depth += 1;
      i += 1;
    }
  }
  return -1;
}

type Operator = ':-' | '-' | ':?' | '?' | ':+' | '+';
const OPERATORS: readonly Operator[] = [':-', ':?', ':+', '-', '?', '+'];

export function interpolate(template: string, lookup: VariableLookup): Interpolated {
  const references: InterpolationReference[] = [];
  let usedFallback = false;
  const look = (name: string): string | undefined => {
    const value = lookup(name);
    references.push({ name, found: value !== undefined });
    return value;
  };
  const expand = (text: string): string => {
    let out = '';
    let i = 0;
    while (i < text.length) {
      const char = text[i]!;
      if (char !== '$') {
        out += char;
        i += 1;
        continue;
      }
      const next = text[i + 1];
      if (next === '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (next !== undefined && NAME_START.test(next)) {
        const name = NAME.exec(text.slice(i + 1))![0];
        out += look(name) ?? '';
        i += 1 + name.length;
        continue;
      }
      if (next === '{') {
        const end = closingBrace(text, i);
        if (end < 0) throw new InterpolationError(`invalid interpolation format: ${JSON.stringify(text.slice(i))}`, 'invalid', null);
        out += expandBraced(text.slice(i + 2, end), text.slice(i, end + 1));
        i = end + 1;
        continue;
      }
      out += '$';
      i += 1;
    }
    return out;
  };
  const expandBraced = (body: string, whole: string): string => {
    const match = NAME.exec(body);
    if (!match) throw new InterpolationError(`invalid interpolation format: ${JSON.stringify(whole)}`, 'invalid', null);
    const name = match[0];
    const rest = body.slice(name.length);
    if (rest === '') return look(name) ?? '';
    const operator = OPERATORS.find((op) => rest.startsWith(op));
    if (!operator) throw new InterpolationError(`invalid interpolation format: ${JSON.stringify(whole)}`, 'invalid', name);
    const argument = rest.slice(operator.length);
    const value = look(name);
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    switch (operator) {
      case ':-':
      case '-':
        if (operator === ':-' ? nonEmpty : set) return value!;
        usedFallback = true;
        return expand(argument);
      case ':+':
      case '+':
        if (operator === ':+' ? nonEmpty : set) {
          usedFallback = true;
          return expand(argument);
        }
        return value ?? '';
      case ':?':
      case '?': {
        if (operator === ':?' ? nonEmpty : set) return value!;
        const reason = expand(argument);
        throw new InterpolationError(
          reason ? `required variable ${name} is missing a value: ${reason}` : `required variable ${name} is missing a value`,
          'required',
          name,
        );
      }
    }
  };
  const value = expand(template);
  return { value, references, usedFallback };
}
