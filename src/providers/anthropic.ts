import { classified, pick, classifyByStatus, errorMessage, joinUrl, jsonHeaders, pickString } from './answer.js';
import type { ProviderAdapter } from './types.js';

export const anthropic: ProviderAdapter = {
  name: 'anthropic',
  keyName: 'ANTHROPIC_API_KEY',
  companions: [],
  defaultModel: 'claude-3-5-haiku-latest',
  defaultBaseUrl: () => 'https://api.anthropic.com/v1',
  ownHost: /^api\.anthropic\.com$/,
  buildRequest: async (credential, { probe, baseUrl, model }) => {
    const headers = jsonHeaders({ 'x-api-key': credential.key, 'anthropic-version': '2023-06-01' });
    if (probe === 'auth') return { url: joinUrl(baseUrl, 'models'), method: 'GET', headers, quotaChecked: false };
    return {
      url: joinUrl(baseUrl, 'messages'),
      method: 'POST',
      headers,
      body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }),
      quotaChecked: true,
    };
  },
  provesSuccess: (json, probe) =>
    probe === 'generate' ? pick(json, 'type') === 'message' && Array.isArray(pick(json, 'content')) : Array.isArray(pick(json, 'data')),
  classify: (answer) => {
    const type = pickString(answer.json, 'error', 'type') ?? '';
    const message = errorMessage(answer) ?? '';
    if (answer.status === 400 && /credit balance is too low/i.test(message)) return classified('quota_exceeded', answer);
    if (answer.status === 400 && /organization has been disabled/i.test(message)) return classified('invalid_key', answer);
    if (answer.status === 402 || type === 'billing_error') return classified('quota_exceeded', answer);
    if (answer.status === 429) {
      if (pickString(answer.json, 'error', 'details', 'error_code') === 'enforced_spend_limit_reached')
        return classified('quota_exceeded', answer);
      return classified('rate_limited', answer);
    }
    if (answer.status === 401 || type === 'authentication_error') return classified('invalid_key', answer);
    if (answer.status === 403 || answer.status === 404 || type === 'permission_error' || type === 'not_found_error')
      return classified('access_denied', answer);
    return classifyByStatus(answer);
  },
};
