import { classified, openAiStyleSuccess, classifyByStatus, pickString } from './answer.js';
import { classifyOpenAiStyle } from './openai.js';
import { chatCompletionProbe } from './openai-shape.js';
import type { ProviderAdapter } from './types.js';

export const groq: ProviderAdapter = {
  name: 'groq',
  keyName: 'GROQ_API_KEY',
  companions: [],
  defaultModel: 'llama-3.1-8b-instant',
  defaultBaseUrl: () => 'https://api.groq.com/openai/v1',
  ownHost: /^api\.groq\.com$/,
  buildRequest: async (credential, options) => chatCompletionProbe(credential, options),
  provesSuccess: openAiStyleSuccess,
  classify: (answer) => {
    const shared = classifyOpenAiStyle(answer);
    if (shared) return shared;
    const code = pickString(answer.json, 'error', 'code') ?? pickString(answer.json, 'error', 'type') ?? '';
    if (answer.status === 401) return classified('invalid_key', answer);
    // A revoked organisation: the key will never work again.
    if (answer.status === 400 && code === 'organization_restricted') return classified('invalid_key', answer);
    return classifyByStatus(answer);
  },
};
