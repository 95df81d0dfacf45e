/** Helpers for reading provider answers: the rules that hold across providers. */
import type { Classification, ProbeKind, ProviderAnswer, ProbeStatus } from './types.js';

/** Reads a nested property without trusting the shape of the body. */
export function pick(value: unknown, ...path: Array<string | number>): unknown {
  let current: unknown = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function pickString(value: unknown, ...path: Array<string | number>): string | null {
  const found = pick(value, ...path);
  return typeof found === 'string' ? found : typeof found === 'number' ? String(found) : null;
}

/** The message most providers put in `error.message` (or `message`). */
export function errorMessage(answer: ProviderAnswer): string | null {
  return pickString(answer.json, 'error', 'message') ?? pickString(answer.json, 'message') ?? pickString(answer.json, 'error');
}

export function classified(status: ProbeStatus, answer: ProviderAnswer | null, message?: string | null): Classification {
  return { status, message: message ?? (answer ? errorMessage(answer) : null) };
}

/** An OpenAI-style answer (OpenAI, Groq, Mistral, Azure): a generation has `choices`, the model listing `data`. */
export function openAiStyleSuccess(json: unknown, probe: ProbeKind): boolean {
  return Array.isArray(pick(json, probe === 'generate' ? 'choices' : 'data'));
}

/**
 * A 2xx answer: `ok` only when it is the provider's own success shape (provesSuccess); else
 * provider_error, saying what came back, from where (rule 4 of shared/PROVIDERS.md).
 */
export function classifySuccess(
  answer: ProviderAnswer,
  provider: string,
  host: string,
  probe: ProbeKind,
  provesSuccess: (json: unknown, probe: ProbeKind) => boolean,
): Classification {
  if (answer.json !== null && provesSuccess(answer.json, probe)) return { status: 'ok', message: null };
  const text = answer.text.trimStart();
  const type = answer.headers.get('content-type') ?? '';
  const what =
    text === ''
      ? 'an empty body'
      : /html/i.test(type) || /^<(!doctype|html|head|body)/i.test(text)
        ? 'an HTML page'
        : answer.json === null
          ? 'a body that is not JSON'
          : 'JSON of another shape';
  return {
    status: 'provider_error',
    message: `HTTP ${answer.status} with ${what} from ${host}, not ${provider}'s answer: a proxy, a captive portal or a wrong --base-url?`,
  };
}

/**
 * Rules that come before any provider's own: 5xx/529 and non-JSON error pages are the
 * provider's edge answering (outage, overload, block). 2xx is judged by classifySuccess.
 */
export function classifyGenerically(answer: ProviderAnswer): Classification | null {
  if (answer.status >= 500 || answer.status === 529)
    return classified('provider_error', answer, errorMessage(answer) ?? `HTTP ${answer.status}`);
  if (answer.json === null)
    return { status: 'provider_error', message: `HTTP ${answer.status} with a non-JSON body (an edge or proxy page: outage or block)` };
  return null;
}

/** Fallback when no provider rule matched. */
export function classifyByStatus(answer: ProviderAnswer): Classification {
  if (answer.status === 401) return classified('invalid_key', answer);
  if (answer.status === 402) return classified('quota_exceeded', answer);
  if (answer.status === 403 || answer.status === 404) return classified('access_denied', answer);
  if (answer.status === 429) return classified('rate_limited', answer);
  return classified('provider_error', answer, `unexpected HTTP ${answer.status}: ${errorMessage(answer) ?? 'no message'}`);
}

/** Seconds to wait, from retry-after-ms, retry-after (seconds or HTTP date), or Gemini's RetryInfo. */
export function retryAfterSeconds(answer: ProviderAnswer, now: number = Date.now()): number | null {
  const ms = answer.headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms) / 1000;
  const header = answer.headers.get('retry-after');
  if (header) {
    if (/^\d+(\.\d+)?$/.test(header.trim())) return Number(header.trim());
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, (date - now) / 1000);
  }
  const details = pick(answer.json, 'error', 'details');
  if (Array.isArray(details)) {
    for (const detail of details) {
      const delay = pickString(detail, 'retryDelay');
      if (delay && /^\d+(\.\d+)?s$/.test(delay)) return Number(delay.slice(0, -1));
    }
  }
  return null;
}

export function jsonHeaders(extra: Record<string, string>): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json', ...extra };
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
