import { AwsClient } from 'aws4fetch';
import { classified, pick, classifyByStatus, errorMessage, joinUrl, jsonHeaders, pickString } from './answer.js';
import type { ProviderAdapter, ProviderAnswer } from './types.js';

/** Bedrock names its errors in x-amzn-ErrorType ("Name:namespace"), sometimes in the body's __type. */
export function bedrockErrorType(answer: ProviderAnswer): string {
  const header = answer.headers.get('x-amzn-errortype') ?? pickString(answer.json, '__type') ?? '';
  return header.split(':')[0]!.split('#').pop() ?? '';
}

export const bedrock: ProviderAdapter = {
  name: 'bedrock',
  keyName: 'AWS_ACCESS_KEY_ID',
  companions: [
    { name: 'AWS_SECRET_ACCESS_KEY', required: false, secret: true },
    { name: 'AWS_REGION', required: false },
  ],
  defaultModel: 'amazon.nova-micro-v1:0',
  defaultBaseUrl: (credential) => `https://bedrock-runtime.${credential.companions.AWS_REGION || 'us-east-1'}.amazonaws.com`,
  ownHost: /^bedrock-runtime\.[a-z0-9-]+\.amazonaws\.com$/,
  // No key-only endpoint on bedrock-runtime: --probe auth makes the same 1-token Converse call.
  buildRequest: async (credential, { baseUrl, model }) => {
    const url = joinUrl(baseUrl, `model/${encodeURIComponent(model)}/converse`);
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 1 } });
    const secret = credential.companions.AWS_SECRET_ACCESS_KEY;
    if (!secret) {
      // What Laminar's playground does when only AWS_ACCESS_KEY_ID is stored: a Bedrock API key.
      return { url, method: 'POST', headers: jsonHeaders({ authorization: `Bearer ${credential.key}` }), body, quotaChecked: true };
    }
    const client = new AwsClient({
      accessKeyId: credential.key,
      secretAccessKey: secret,
      region: credential.companions.AWS_REGION || 'us-east-1',
      service: 'bedrock',
    });
    const signed = await client.sign(url, { method: 'POST', headers: jsonHeaders({}), body });
    const headers: Record<string, string> = {};
    signed.headers.forEach((value, name) => (headers[name] = value));
    return { url, method: 'POST', headers, body, quotaChecked: true };
  },
  provesSuccess: (json) => {
    const message = pick(json, 'output', 'message');
    return message !== null && typeof message === 'object';
  },
  classify: (answer) => {
    const type = bedrockErrorType(answer);
    const message = errorMessage(answer) ?? '';
    if (['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException'].includes(type))
      return classified('invalid_key', answer);
    if (type === 'AccessDeniedException' && /INVALID_PAYMENT_INSTRUMENT/.test(message)) return classified('quota_exceeded', answer);
    if (['ThrottlingException', 'ModelNotReadyException', 'ServiceQuotaExceededException'].includes(type))
      return classified('rate_limited', answer);
    if (['AccessDeniedException', 'ResourceNotFoundException', 'ValidationException'].includes(type))
      return classified('access_denied', answer);
    return classifyByStatus(answer);
  },
};
