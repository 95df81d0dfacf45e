/** The OpenAI chat-completions request shape that OpenAI, Groq and Mistral share. */
import { joinUrl, jsonHeaders } from './answer.js';
import type { Credential, ProbeKind, ProbeRequest } from './types.js';

export function chatCompletionProbe(credential: Credential, options: { probe: ProbeKind; baseUrl: string; model: string }): ProbeRequest {
  const auth = { authorization: `Bearer ${credential.key}` };
  if (options.probe === 'auth')
    return { url: joinUrl(options.baseUrl, 'models'), method: 'GET', headers: jsonHeaders(auth), quotaChecked: false };
  return {
    url: joinUrl(options.baseUrl, 'chat/completions'),
    method: 'POST',
    headers: jsonHeaders(auth),
    body: JSON.stringify({ model: options.model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    quotaChecked: true,
  };
}
