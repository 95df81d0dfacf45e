import { classified, openAiStyleSuccess, classifyByStatus, errorMessage } from './answer.js';
import { chatCompletionProbe } from './openai-shape.js';
import type { ProviderAdapter } from './types.js';

export const mistral: ProviderAdapter = {
  name: 'mistral',
  keyName: 'MISTRAL_API_KEY',
  companions: [],
  defaultModel: 'mistral-small-latest',
  defaultBaseUrl: () => 'https://api.mistral.ai/v1',
  ownHost: /^api\.mistral\.ai$/,
  buildRequest: async (credential, options) => chatCompletionProbe(credential, options),
  provesSuccess: openAiStyleSuccess,
  classify: (answer) => {
    if (answer.status === 401) {
      return classified(
        'invalid_key',
        answer,
        `${errorMessage(answer) ?? 'Unauthorized'} (a key created in the last few minutes can answer 401 until it propagates)`,
      );
    }
    if (answer.status === 429) {
      if (answer.headers.get('x-ratelimitbysize-remaining-month') === '0')
        return classified('quota_exceeded', answer, `${errorMessage(answer) ?? 'rate limited'} (monthly token budget used up)`);
      if (/service tier capacity exceeded/i.test(answer.text)) return classified('provider_error', answer);
      return classified('rate_limited', answer);
    }
    return classifyByStatus(answer);
  },
};
