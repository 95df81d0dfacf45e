import { classified, openAiStyleSuccess, classifyByStatus, errorMessage, pickString } from './answer.js';
import { chatCompletionProbe } from './openai-shape.js';
import type { Classification, ProviderAdapter, ProviderAnswer } from './types.js';

const QUOTA_CODES = new Set(['insufficient_quota', 'credit_balance_exhausted']);
const RATE_CODES = new Set(['rate_limit_exceeded', 'slow_down', 'requests', 'tokens']);

/** Rules OpenAI and Groq share (Groq's API is OpenAI-compatible, errors included). */
export function classifyOpenAiStyle(answer: ProviderAnswer): Classification | null {
  const type = pickString(answer.json, 'error', 'type') ?? '';
  const code = pickString(answer.json, 'error', 'code') ?? '';
  const marks = [type, code];
  if (answer.status === 429) {
    if (marks.some((m) => QUOTA_CODES.has(m) || m.endsWith('_spend_limit_exceeded') || m.endsWith('_usage_limit_exceeded')))
      return classified('quota_exceeded', answer);
    if (marks.some((m) => RATE_CODES.has(m))) return classified('rate_limited', answer);
    return classified('rate_limited', answer);
  }
  if (answer.status === 404 && code === 'model_not_found') return classified('access_denied', answer);
  return null;
}

export const openai: ProviderAdapter = {
  name: 'openai',
  keyName: 'OPENAI_API_KEY',
  companions: [],
  defaultModel: 'gpt-4o-mini',
  defaultBaseUrl: () => 'https://api.openai.com/v1',
  ownHost: /^api\.openai\.com$/,
  buildRequest: async (credential, options) => chatCompletionProbe(credential, options),
  provesSuccess: openAiStyleSuccess,
  classify: (answer) => {
    const shared = classifyOpenAiStyle(answer);
    if (shared) return shared;
    const message = errorMessage(answer) ?? '';
    if (answer.status === 401) {
      // Missing scopes or an IP allow-list: the key is valid but may not do this.
      const restricted = /missing scopes|insufficient permissions|not authorized/i.test(message) || /\bIP\b/.test(message);
      return restricted && !/incorrect api key/i.test(message) ? classified('access_denied', answer) : classified('invalid_key', answer);
    }
    if (answer.status === 403) return classified('access_denied', answer);
    return classifyByStatus(answer);
  },
};
