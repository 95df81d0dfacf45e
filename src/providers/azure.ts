import {
  classified,
  openAiStyleSuccess,
  classifyByStatus,
  errorMessage,
  joinUrl,
  jsonHeaders,
  pickString,
  retryAfterSeconds,
} from './answer.js';
import type { ProviderAdapter } from './types.js';

export const AZURE_API_VERSION = '2024-10-21';

export const azure: ProviderAdapter = {
  name: 'azure',
  keyName: 'AZURE_API_KEY',
  companions: [
    { name: 'OPENAI_AZURE_RESOURCE_ID', required: true },
    { name: 'OPENAI_AZURE_DEPLOYMENT_NAME', required: true },
  ],
  defaultModel: '',
  defaultBaseUrl: (credential) =>
    `https://${encodeURIComponent(credential.companions.OPENAI_AZURE_RESOURCE_ID ?? '')}.openai.azure.com/openai`,
  ownHost: /\.openai\.azure\.com$/,
  // Azure has no key-only endpoint on the data plane: --probe auth makes the same tiny generation.
  buildRequest: async (credential, { baseUrl }) => ({
    url: joinUrl(
      baseUrl,
      `deployments/${encodeURIComponent(credential.companions.OPENAI_AZURE_DEPLOYMENT_NAME ?? '')}/chat/completions?api-version=${AZURE_API_VERSION}`,
    ),
    method: 'POST',
    headers: jsonHeaders({ 'api-key': credential.key }),
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    quotaChecked: true,
  }),
  provesSuccess: openAiStyleSuccess,
  classify: (answer) => {
    const message = errorMessage(answer) ?? '';
    const code = pickString(answer.json, 'error', 'code') ?? '';
    if (answer.status === 401) return classified('invalid_key', answer);
    if (answer.status === 404 || code === 'DeploymentNotFound') return classified('access_denied', answer);
    if (answer.status === 403) return classified('access_denied', answer);
    if (answer.status === 429) {
      // Azure's ordinary per-minute 429 links aka.ms/oai/quotaincrease and says "rate limit" and
      // "pricing tier": none of that is a spent quota. Only the trial-upgrade link, or a wait of
      // an hour or more, is (shared/PROVIDERS.md).
      const wait = retryAfterSeconds(answer);
      if ((wait !== null && wait >= 3600) || /aka\.ms\/429TrialUpgrade/i.test(message)) return classified('quota_exceeded', answer);
      return classified('rate_limited', answer);
    }
    return classifyByStatus(answer);
  },
};
