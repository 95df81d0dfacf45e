/** Every row of the classification table in shared/PROVIDERS.md, against recorded bodies. */
import { describe, expect, it } from 'vitest';
import { classifyGenerically, classifySuccess, retryAfterSeconds } from '../../src/providers/answer.js';
import { findProvider } from '../../src/providers/index.js';
import type { ProviderAnswer } from '../../src/providers/types.js';
import { probeCredential, redactEcho } from '../../src/core/verify.js';

function answer(status: number, body: unknown, headers: Record<string, string> = {}): ProviderAnswer {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status, headers: new Headers(headers), text, json };
}

function classify(provider: string, a: ProviderAnswer) {
  const adapter = findProvider(provider)!;
  if (a.status >= 200 && a.status < 300) return classifySuccess(a, provider, 'api.test', 'generate', adapter.provesSuccess).status;
  return (classifyGenerically(a) ?? adapter.classify(a)).status;
}

const oa = (type: string, code: string, message = 'm') => ({ error: { message, type, param: null, code } });
const anth = (type: string, message: string, extra: object = {}) => ({ type: 'error', error: { type, message, ...extra } });
const gem = (code: number, message: string, status: string, details: object[] = []) => ({ error: { code, message, status, details } });
const amz = (type: string) => ({ 'x-amzn-ErrorType': `${type}:http://internal.amazon.com/coral/com.amazon.coral.service/` });

const ROWS: Array<[string, string, ProviderAnswer, string]> = [
  ['any 5xx', 'openai', answer(500, { error: { message: 'boom' } }), 'provider_error'],
  ['any 529', 'anthropic', answer(529, anth('overloaded_error', 'Overloaded')), 'provider_error'],
  ['any non-JSON 403 edge page', 'gemini', answer(403, '<html>blocked</html>'), 'provider_error'],
  ['bedrock 2xx in its own shape', 'bedrock', answer(200, { output: { message: { role: 'assistant', content: [] } } }), 'ok'],
  ['bedrock 2xx of another shape', 'bedrock', answer(200, { output: {} }), 'provider_error'],
  ['openai 429 insufficient_quota', 'openai', answer(429, oa('insufficient_quota', 'insufficient_quota')), 'quota_exceeded'],
  ['openai 429 credit_balance_exhausted', 'openai', answer(429, oa('x', 'credit_balance_exhausted')), 'quota_exceeded'],
  ['openai 429 *_spend_limit_exceeded', 'openai', answer(429, oa('x', 'monthly_spend_limit_exceeded')), 'quota_exceeded'],
  ['groq 429 *_usage_limit_exceeded', 'groq', answer(429, oa('x', 'daily_usage_limit_exceeded')), 'quota_exceeded'],
  ['openai 429 rate_limit_exceeded', 'openai', answer(429, oa('requests', 'rate_limit_exceeded'), { 'retry-after': '20' }), 'rate_limited'],
  ['groq 429 tokens (per-day limits are rate limits)', 'groq', answer(429, oa('tokens', 'rate_limit_exceeded')), 'rate_limited'],
  ['openai 429 slow_down', 'openai', answer(429, oa('x', 'slow_down')), 'rate_limited'],
  [
    'openai 401 missing scopes',
    'openai',
    answer(401, oa('invalid_request_error', '', 'You have insufficient permissions for this operation. Missing scopes: model.request.')),
    'access_denied',
  ],
  [
    'openai 401 IP not authorized',
    'openai',
    answer(401, oa('invalid_request_error', '', 'Your IP address is not authorized to access this organization.')),
    'access_denied',
  ],
  [
    'openai 401 invalid_api_key',
    'openai',
    answer(401, oa('invalid_request_error', 'invalid_api_key', 'Incorrect API key provided: sk-abc***xyz.')),
    'invalid_key',
  ],
  [
    'openai 401 invalid key whose message has ordinary words (description, recipient)',
    'openai',
    answer(401, oa('invalid_request_error', 'invalid_api_key', 'The description of this recipient key is invalid.')),
    'invalid_key',
  ],
  ['openai 401 account_deactivated', 'openai', answer(401, oa('invalid_request_error', 'account_deactivated')), 'invalid_key'],
  ['groq 401 anything', 'groq', answer(401, oa('invalid_request_error', 'invalid_api_key')), 'invalid_key'],
  ['groq 400 organization_restricted', 'groq', answer(400, oa('invalid_request_error', 'organization_restricted')), 'invalid_key'],
  [
    'openai 403 unsupported_country',
    'openai',
    answer(403, oa('request_forbidden', 'unsupported_country_region_territory')),
    'access_denied',
  ],
  ['openai 404 model_not_found', 'openai', answer(404, oa('invalid_request_error', 'model_not_found')), 'access_denied'],
  ['groq 404 model_not_found', 'groq', answer(404, oa('invalid_request_error', 'model_not_found')), 'access_denied'],
  [
    'anthropic 400 credit balance too low',
    'anthropic',
    answer(400, anth('invalid_request_error', 'Your credit balance is too low to access the Anthropic API.')),
    'quota_exceeded',
  ],
  ['anthropic 402 billing_error', 'anthropic', answer(402, anth('billing_error', 'billing')), 'quota_exceeded'],
  [
    'anthropic 429 enforced spend limit',
    'anthropic',
    answer(429, anth('rate_limit_error', 'limit', { details: { error_code: 'enforced_spend_limit_reached' } })),
    'quota_exceeded',
  ],
  ['anthropic 429 rate_limit_error', 'anthropic', answer(429, anth('rate_limit_error', 'slow down')), 'rate_limited'],
  ['anthropic 401 authentication_error', 'anthropic', answer(401, anth('authentication_error', 'invalid x-api-key')), 'invalid_key'],
  [
    'anthropic 400 organization disabled',
    'anthropic',
    answer(400, anth('invalid_request_error', 'This organization has been disabled.')),
    'invalid_key',
  ],
  ['anthropic 403 permission_error', 'anthropic', answer(403, anth('permission_error', 'no')), 'access_denied'],
  ['anthropic 404 not_found_error', 'anthropic', answer(404, anth('not_found_error', 'model: x')), 'access_denied'],
  [
    'gemini 400 API_KEY_INVALID',
    'gemini',
    answer(400, gem(400, 'API key not valid.', 'INVALID_ARGUMENT', [{ reason: 'API_KEY_INVALID' }])),
    'invalid_key',
  ],
  [
    'gemini 400 API_KEY_INVALID (expired)',
    'gemini',
    answer(400, gem(400, 'API key expired. Please renew the API key.', 'INVALID_ARGUMENT', [{ reason: 'API_KEY_INVALID' }])),
    'invalid_key',
  ],
  [
    'gemini 403 reported as leaked',
    'gemini',
    answer(403, gem(403, 'Your API key was reported as leaked. Please use another API key.', 'PERMISSION_DENIED')),
    'invalid_key',
  ],
  [
    'gemini 403 CONSUMER_SUSPENDED',
    'gemini',
    answer(403, gem(403, 'Permission denied: Consumer has been suspended.', 'PERMISSION_DENIED', [{ reason: 'CONSUMER_SUSPENDED' }])),
    'invalid_key',
  ],
  [
    'gemini 403 denied access',
    'gemini',
    answer(403, gem(403, 'Your project has been denied access. Please contact support.', 'PERMISSION_DENIED')),
    'invalid_key',
  ],
  [
    'gemini 403 SERVICE_DISABLED',
    'gemini',
    answer(403, gem(403, 'API has not been used', 'PERMISSION_DENIED', [{ reason: 'SERVICE_DISABLED' }])),
    'access_denied',
  ],
  [
    'gemini 403 API_KEY_SERVICE_BLOCKED',
    'gemini',
    answer(403, gem(403, 'Requests are blocked.', 'PERMISSION_DENIED', [{ reason: 'API_KEY_SERVICE_BLOCKED' }])),
    'access_denied',
  ],
  [
    'gemini 400 FAILED_PRECONDITION',
    'gemini',
    answer(400, gem(400, 'User location is not supported for the API use.', 'FAILED_PRECONDITION')),
    'access_denied',
  ],
  [
    'gemini 429 prepayment depleted',
    'gemini',
    answer(429, gem(429, 'Your prepayment credits are depleted.', 'RESOURCE_EXHAUSTED')),
    'quota_exceeded',
  ],
  [
    'gemini 429 limit: 0',
    'gemini',
    answer(429, gem(429, 'Quota exceeded for metric: generate_content_free_tier_requests, limit: 0', 'RESOURCE_EXHAUSTED')),
    'quota_exceeded',
  ],
  [
    'gemini 429 per-day quotaId',
    'gemini',
    answer(
      429,
      gem(429, 'Quota exceeded', 'RESOURCE_EXHAUSTED', [
        {
          '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
          violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '250' }],
        },
      ]),
    ),
    'quota_exceeded',
  ],
  [
    'gemini 429 per-minute',
    'gemini',
    answer(
      429,
      gem(429, 'Quota exceeded', 'RESOURCE_EXHAUSTED', [
        { violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel', quotaValue: '15' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '59s' },
      ]),
    ),
    'rate_limited',
  ],
  ['mistral 401', 'mistral', answer(401, { message: 'Unauthorized', request_id: 'x' }), 'invalid_key'],
  [
    'mistral 429 monthly size exhausted',
    'mistral',
    answer(429, { message: 'rate limit' }, { 'x-ratelimitbysize-remaining-month': '0' }),
    'quota_exceeded',
  ],
  [
    'mistral 429 service tier capacity',
    'mistral',
    answer(429, { message: 'Service tier capacity exceeded for this model.' }),
    'provider_error',
  ],
  ['mistral 429 otherwise', 'mistral', answer(429, { message: 'Requests rate limit exceeded' }), 'rate_limited'],
  [
    'azure 401 invalid subscription key',
    'azure',
    answer(401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } }),
    'invalid_key',
  ],
  [
    'azure 404 DeploymentNotFound',
    'azure',
    answer(404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } }),
    'access_denied',
  ],
  ['azure 404 Resource not found', 'azure', answer(404, { error: { code: '404', message: 'Resource not found' } }), 'access_denied'],
  ['azure 403 any', 'azure', answer(403, { error: { code: 'Forbidden', message: 'no' } }), 'access_denied'],
  [
    'azure 429 retry-after an hour',
    'azure',
    answer(429, { error: { code: '429', message: 'exceeded call rate limit' } }, { 'retry-after': '3600' }),
    'quota_exceeded',
  ],
  [
    'azure 429 trial upgrade link',
    'azure',
    answer(429, {
      error: {
        code: '429',
        message:
          'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have ' +
          'exceeded call rate limit of your current pricing tier. Please upgrade your subscription: ' +
          'https://aka.ms/429TrialUpgrade',
      },
    }),
    'quota_exceeded',
  ],
  [
    'azure 429 otherwise',
    'azure',
    answer(429, { error: { code: '429', message: 'Please retry after 6 seconds.' } }, { 'retry-after': '6' }),
    'rate_limited',
  ],
  [
    'bedrock 403 UnrecognizedClientException',
    'bedrock',
    answer(403, { message: 'The security token included in the request is invalid.' }, amz('UnrecognizedClientException')),
    'invalid_key',
  ],
  [
    'bedrock 403 InvalidSignatureException',
    'bedrock',
    answer(403, { message: 'signature' }, amz('InvalidSignatureException')),
    'invalid_key',
  ],
  ['bedrock 403 ExpiredTokenException', 'bedrock', answer(403, { message: 'expired' }, amz('ExpiredTokenException')), 'invalid_key'],
  [
    'bedrock 403 INVALID_PAYMENT_INSTRUMENT',
    'bedrock',
    answer(403, { message: 'Model access is denied due to INVALID_PAYMENT_INSTRUMENT' }, amz('AccessDeniedException')),
    'quota_exceeded',
  ],
  [
    'bedrock 403 other AccessDenied',
    'bedrock',
    answer(403, { message: "You don't have access to the model" }, amz('AccessDeniedException')),
    'access_denied',
  ],
  [
    'bedrock 404 ResourceNotFound',
    'bedrock',
    answer(404, { message: 'Model not found' }, amz('ResourceNotFoundException')),
    'access_denied',
  ],
  [
    'bedrock 400 ValidationException',
    'bedrock',
    answer(400, { message: 'The provided model identifier is invalid.' }, amz('ValidationException')),
    'access_denied',
  ],
  ['bedrock 429 ThrottlingException', 'bedrock', answer(429, { message: 'Too many requests' }, amz('ThrottlingException')), 'rate_limited'],
  ['bedrock 400 ModelNotReadyException', 'bedrock', answer(400, { message: 'not ready' }, amz('ModelNotReadyException')), 'rate_limited'],
  [
    'bedrock 400 ServiceQuotaExceededException',
    'bedrock',
    answer(400, { message: 'quota' }, amz('ServiceQuotaExceededException')),
    'rate_limited',
  ],
  [
    'bedrock __type in the body',
    'bedrock',
    answer(403, { __type: 'com.amazon.coral.service#UnrecognizedClientException', message: 'x' }),
    'invalid_key',
  ],
];

describe('classification table of shared/PROVIDERS.md', () => {
  it.each(ROWS)('%s', (_row, provider, a, expected) => {
    expect(classify(provider, a)).toBe(expected);
  });
});

/**
 * Each provider's ORDINARY rate-limit answer, in the shape providers send it. Every one of them
 * mentions quota, limits, billing or upgrading somewhere; none is an exhausted quota, and
 * calling it one sends the operator to billing for what passes in seconds.
 */
const ORDINARY_RATE_LIMITS: Array<[string, ProviderAnswer]> = [
  [
    'azure',
    answer(
      429,
      {
        error: {
          code: '429',
          message:
            'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have ' +
            'exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. ' +
            'Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default ' +
            'rate limit.',
        },
      },
      { 'retry-after': '6' },
    ),
  ],
  [
    'openai',
    answer(
      429,
      oa(
        'requests',
        'rate_limit_exceeded',
        'Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, ' +
          'Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn ' +
          'more. You can increase your rate limit by adding a payment method to your account at ' +
          'https://platform.openai.com/account/billing.',
      ),
      { 'retry-after': '20' },
    ),
  ],
  [
    'groq',
    answer(
      429,
      oa(
        'tokens',
        'rate_limit_exceeded',
        'Rate limit reached for model `llama-3.1-8b-instant` in organization `org_01` service tier ' +
          '`on_demand` on tokens per day (TPD): Limit 500000, Used 499990, Requested 40. Please try again in ' +
          '1m2.4s. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing',
      ),
      { 'retry-after': '62' },
    ),
  ],
  [
    'anthropic',
    answer(
      429,
      anth(
        'rate_limit_error',
        'This request would exceed the rate limit for your organization (1a2b) of 50,000 input tokens per ' +
          'minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response ' +
          'headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try ' +
          'again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your ' +
          'options for a rate limit increase.',
      ),
      { 'retry-after': '14' },
    ),
  ],
  [
    'gemini',
    answer(
      429,
      gem(
        429,
        'You exceeded your current quota, please check your plan and billing details. For more information on ' +
          'this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for ' +
          'metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 15, model: ' +
          'gemini-2.5-flash-lite',
        'RESOURCE_EXHAUSTED',
        [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [
              {
                quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
                quotaDimensions: { location: 'global', model: 'gemini-2.5-flash-lite' },
                quotaValue: '15',
              },
            ],
          },
          {
            '@type': 'type.googleapis.com/google.rpc.Help',
            links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '22s' },
        ],
      ),
    ),
  ],
  [
    'mistral',
    answer(
      429,
      { object: 'error', message: 'Requests rate limit exceeded', type: 'rate_limited', param: null, code: '1300' },
      { 'x-ratelimitbysize-remaining-month': '81234' },
    ),
  ],
  ['bedrock', answer(429, { message: 'Too many tokens, please wait before trying again.' }, amz('ThrottlingException'))],
];

describe("each provider's ordinary rate-limit answer is a rate limit, not an exhausted quota", () => {
  it.each(ORDINARY_RATE_LIMITS)('%s', (provider, a) => {
    expect(classify(provider, a)).toBe('rate_limited');
  });
});

describe('retry hints', () => {
  it('reads retry-after seconds, retry-after-ms, HTTP dates and Gemini RetryInfo', () => {
    expect(retryAfterSeconds(answer(429, {}, { 'retry-after': '20' }))).toBe(20);
    expect(retryAfterSeconds(answer(429, {}, { 'retry-after-ms': '1500' }))).toBe(1.5);
    expect(retryAfterSeconds(answer(429, {}, { 'retry-after': new Date(10_000).toUTCString() }), 5_000)).toBe(5);
    expect(retryAfterSeconds(answer(429, gem(429, 'x', 'RESOURCE_EXHAUSTED', [{ retryDelay: '59s' }])))).toBe(59);
    expect(retryAfterSeconds(answer(429, {}))).toBeNull();
  });
});

describe('redactEcho', () => {
  it('removes the key and masked echoes of it', () => {
    expect(redactEcho('Incorrect API key provided: sk-abc***xyz. See docs.', [])).toBe('Incorrect API key provided: [redacted] See docs.');
    expect(redactEcho('key sk-live-123456 rejected', ['sk-live-123456'])).toBe('key [redacted] rejected');
  });

  it('takes linear time on a hostile body (5 MB with no spaces and many asterisks: the old regex never finished)', () => {
    for (const body of ['a*'.repeat(2_500_000), `${'x'.repeat(5_000_000)}**`, 'sk-abc***'.repeat(500_000)]) {
      const started = performance.now();
      const result = redactEcho(body, ['sk-live-123456']);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(result.length).toBeGreaterThan(0);
    }
  });
});

describe('the single retry', () => {
  const settings = {
    probe: 'generate' as const,
    timeoutMs: 1000,
    concurrency: 1,
    baseUrls: { azure: 'http://gateway.test/azure' },
    models: {},
    maxRetryWaitMs: 5000,
  };
  const credential = { key: 'azure-key-0123456789', companions: { OPENAI_AZURE_RESOURCE_ID: 'r', OPENAI_AZURE_DEPLOYMENT_NAME: 'd' } };
  const busy = (retryAfter: string) =>
    new Response(
      JSON.stringify({ error: { code: '429', message: 'Requests ... have exceeded token rate limit. Please retry after a while.' } }),
      { status: 429, headers: { 'retry-after': retryAfter } },
    );

  it('waits what the provider asks when that is within --max-retry-wait, then asks again', async () => {
    const waits: number[] = [];
    let calls = 0;
    const fetch = (async () =>
      ++calls === 1 ? busy('3') : new Response(JSON.stringify({ choices: [] }), { status: 200 })) as typeof globalThis.fetch;
    const outcome = await probeCredential(findProvider('azure')!, credential, settings, {
      fetch,
      sleep: async (ms) => void waits.push(ms),
      registerSecret: () => {},
    });
    expect(waits).toEqual([3000]);
    expect(outcome.status).toBe('ok');
  });

  it('does not retry early when the provider asks for longer than --max-retry-wait: it reports the wait instead', async () => {
    const waits: number[] = [];
    let calls = 0;
    const fetch = (async () => (++calls, busy('10'))) as typeof globalThis.fetch;
    const outcome = await probeCredential(findProvider('azure')!, credential, settings, {
      fetch,
      sleep: async (ms) => void waits.push(ms),
      registerSecret: () => {},
    });
    expect(calls).toBe(1);
    expect(waits).toEqual([]);
    expect(outcome).toMatchObject({ status: 'rate_limited', retryAfterSeconds: 10 });
  });
});

/**
 * A 200 proves a key only in the provider's own success shape (shared/PROVIDERS.md rule 4):
 * an HTML page (a proxy's login, a captive portal), an empty body or JSON of another shape,
 * answered with 200, is provider_error saying what came back, never ok, for every adapter and
 * both probes.
 */
describe('a 200 that is not the provider', () => {
  const SUCCESS: Record<string, { generate: unknown; auth: unknown }> = {
    openai: { generate: { choices: [{ message: { content: 'Hi' } }] }, auth: { object: 'list', data: [] } },
    groq: { generate: { choices: [] }, auth: { data: [] } },
    mistral: { generate: { choices: [] }, auth: { data: [] } },
    azure: { generate: { choices: [] }, auth: { choices: [] } },
    anthropic: { generate: { type: 'message', content: [] }, auth: { data: [] } },
    gemini: { generate: { candidates: [{ finishReason: 'MAX_TOKENS' }] }, auth: { models: [] } },
    bedrock: { generate: { output: { message: { content: [] } } }, auth: { output: { message: { content: [] } } } },
  };
  const credential = (provider: string) => ({
    key: `${provider}-key-0123456789abcdef`,
    companions: { OPENAI_AZURE_RESOURCE_ID: 'r', OPENAI_AZURE_DEPLOYMENT_NAME: 'd', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'us-east-1' },
  });
  let calls = 0;
  const probe = (provider: string, kind: 'generate' | 'auth', response: () => Response) => {
    calls = 0;
    return probeCredential(
      findProvider(provider)!,
      credential(provider),
      { probe: kind, timeoutMs: 1000, concurrency: 1, baseUrls: {}, models: {}, maxRetryWaitMs: 5000 },
      { fetch: (async () => (calls++, response())) as typeof globalThis.fetch, sleep: async () => {}, registerSecret: () => {} },
    );
  };
  for (const provider of Object.keys(SUCCESS))
    for (const kind of ['generate', 'auth'] as const) {
      it(`${provider}, ${kind}: its own shape is ok; an HTML page, an empty body, other JSON are provider_error`, async () => {
        const body = SUCCESS[provider]![kind];
        expect((await probe(provider, kind, () => new Response(JSON.stringify(body), { status: 200 }))).status).toBe('ok');
        const html = await probe(
          provider,
          kind,
          () =>
            new Response('<!DOCTYPE html><html><body>Sign in to the proxy</body></html>', {
              status: 200,
              headers: { 'content-type': 'text/html' },
            }),
        );
        expect(html).toMatchObject({ status: 'provider_error' });
        // Not retried: the key is not sent twice to a host that did not answer as the provider.
        expect(calls).toBe(1);
        expect(html.detail).toMatch(
          new RegExp(`an HTML page from \\S+, not ${provider}'s answer: a proxy, a captive portal or a wrong --base-url\\?`),
        );
        const empty = await probe(provider, kind, () => new Response('', { status: 200 }));
        expect(empty).toMatchObject({ status: 'provider_error' });
        expect(empty.detail).toMatch(/an empty body/);
        const other = await probe(provider, kind, () => new Response(JSON.stringify({ status: 'ok', welcome: true }), { status: 200 }));
        expect(other).toMatchObject({ status: 'provider_error' });
        expect(other.detail).toMatch(/JSON of another shape/);
      });
    }
});
