/**
 * A loopback imitation of the seven providers, answering with the bodies and headers recorded
 * in shared/PROVIDERS.md. The scenario is chosen by a word inside the key sent (e.g. a key
 * containing "quota" gets that provider's exhausted-quota answer), so one server serves a
 * whole database of keys. Every request is logged (provider, path, key seen) for assertions.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Scenario = 'ok' | 'invalid' | 'quota' | 'rate' | 'denied' | 'outage' | 'html' | 'hang' | 'echo';
export const SCENARIOS: Scenario[] = ['ok', 'invalid', 'quota', 'rate', 'denied', 'outage', 'html', 'hang', 'echo'];

export interface LoggedRequest {
  provider: string;
  method: string;
  path: string;
  key: string;
  body: string;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({ status, body, headers });

const OK: Record<string, Reply> = {
  openai: json(200, {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'length' }],
  }),
  anthropic: json(200, { id: 'msg_1', type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'max_tokens' }),
  gemini: json(200, { candidates: [{ content: { parts: [{ text: 'Hi' }] }, finishReason: 'MAX_TOKENS' }] }),
  bedrock: json(200, { output: { message: { role: 'assistant', content: [{ text: 'Hi' }] } }, stopReason: 'max_tokens' }),
};

/** The key-only probe's success: each provider's model listing. */
const MODELS: Record<string, Reply> = {
  gemini: json(200, { models: [{ name: 'models/gemini-2.5-flash-lite' }] }),
  default: json(200, { object: 'list', data: [{ id: 'model-1', object: 'model' }] }),
};

function replyFor(provider: string, scenario: Exclude<Scenario, 'echo'>, key: string, listing = false): Reply {
  const okReply = listing ? (MODELS[provider] ?? MODELS.default!) : (OK[provider] ?? OK.openai!);
  switch (provider) {
    case 'openai':
    case 'groq':
      return (
        {
          ok: okReply,
          invalid: json(401, {
            error: {
              message:
                `Incorrect API key provided: ${key.slice(0, 6)}***${key.slice(-3)}. You ` +
                `can find your API key at https://platform.openai.com/account/api-keys.`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          }),
          quota: json(429, {
            error: {
              message: 'You exceeded your current quota, please check your plan and billing details.',
              type: 'insufficient_quota',
              param: null,
              code: 'insufficient_quota',
            },
          }),
          rate: json(
            429,
            {
              error: {
                message:
                  'Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, ' +
                  'Requested 1. Please try again in 20s.',
                type: 'requests',
                param: null,
                code: 'rate_limit_exceeded',
              },
            },
            { 'retry-after': '1' },
          ),
          denied: json(403, {
            error: {
              message: 'Country, region, or territory not supported',
              type: 'request_forbidden',
              param: null,
              code: 'unsupported_country_region_territory',
            },
          }),
          outage: json(503, { error: { message: 'The server is overloaded or not ready yet.', type: 'server_error' } }),
          html: { status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body>Bad gateway</body></html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
    case 'mistral':
      return (
        {
          ok: okReply,
          invalid: json(401, { message: 'Unauthorized', request_id: 'r1' }),
          quota: json(429, { message: 'Requests rate limit exceeded', request_id: 'r2' }, { 'x-ratelimitbysize-remaining-month': '0' }),
          rate: json(429, { message: 'Requests rate limit exceeded', request_id: 'r3' }, { 'retry-after': '1' }),
          denied: json(403, { message: 'Forbidden', request_id: 'r4' }),
          outage: json(503, { message: 'Service unavailable' }),
          html: { status: 403, headers: { 'content-type': 'text/html' }, body: '<html>Access denied by edge</html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
    case 'anthropic':
      return (
        {
          ok: okReply,
          invalid: json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_1' }),
          quota: json(400, {
            type: 'error',
            error: {
              type: 'invalid_request_error',
              message:
                'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
            },
            request_id: 'req_2',
          }),
          rate: json(
            429,
            {
              type: 'error',
              error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
            },
            { 'retry-after': '1' },
          ),
          denied: json(403, {
            type: 'error',
            error: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
          }),
          outage: json(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_3' }),
          html: { status: 500, headers: { 'content-type': 'text/html' }, body: '<html>Internal error</html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
    case 'gemini':
      return (
        {
          ok: okReply,
          invalid: json(400, {
            error: {
              code: 400,
              message: 'API key not valid. Please pass a valid API key.',
              status: 'INVALID_ARGUMENT',
              details: [
                {
                  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                  reason: 'API_KEY_INVALID',
                  domain: 'googleapis.com',
                  metadata: { service: 'generativelanguage.googleapis.com' },
                },
              ],
            },
          }),
          quota: json(429, {
            error: {
              code: 429,
              message:
                'Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to manage ' +
                'your project and billing.',
              status: 'RESOURCE_EXHAUSTED',
            },
          }),
          rate: json(429, {
            error: {
              code: 429,
              message: 'Resource has been exhausted (e.g. check quota).',
              status: 'RESOURCE_EXHAUSTED',
              details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' }],
            },
          }),
          denied: json(403, {
            error: {
              code: 403,
              message: 'Generative Language API has not been used in project 1 before or it is disabled.',
              status: 'PERMISSION_DENIED',
              details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED' }],
            },
          }),
          outage: json(503, { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }),
          html: { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>502</html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
    case 'azure':
      return (
        {
          ok: okReply,
          invalid: json(401, {
            error: {
              code: '401',
              message:
                'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid ' +
                'key for an active subscription and use a correct regional API endpoint for your resource.',
            },
          }),
          quota: json(
            429,
            {
              error: {
                code: '429',
                message:
                  'Requests to the ChatCompletions_Create Operation have exceeded call rate limit of your current OpenAI S0 pricing tier.',
              },
            },
            { 'retry-after': '86400' },
          ),
          rate: json(
            429,
            {
              error: {
                code: '429',
                message: 'Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 1 second.',
              },
            },
            { 'retry-after': '1' },
          ),
          denied: json(404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } }),
          outage: json(500, { error: { code: 'InternalServerError', message: 'The server had an error.' } }),
          html: { status: 503, headers: { 'content-type': 'text/html' }, body: '<html>Service Unavailable</html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
    case 'bedrock':
      return (
        {
          ok: okReply,
          invalid: json(
            403,
            { message: 'The security token included in the request is invalid.' },
            { 'x-amzn-ErrorType': 'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
          ),
          quota: json(
            403,
            { message: 'Model access is denied due to INVALID_PAYMENT_INSTRUMENT:A valid payment instrument must be provided.' },
            { 'x-amzn-ErrorType': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
          ),
          rate: json(
            429,
            { message: 'Too many requests, please wait before trying again.' },
            { 'x-amzn-ErrorType': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
          ),
          denied: json(
            403,
            { message: "You don't have access to the model with the specified model ID." },
            { 'x-amzn-ErrorType': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
          ),
          outage: json(503, { message: 'Service unavailable' }, { 'x-amzn-ErrorType': 'ServiceUnavailableException:' }),
          html: { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>bad gateway</html>' },
          hang: okReply,
        } as Record<Exclude<Scenario, 'echo'>, Reply>
      )[scenario];
  }
  return json(500, { error: 'unknown provider' });
}

/** The key the client sent, however that provider carries it. */
function keyFrom(provider: string, req: http.IncomingMessage): string {
  const header = (name: string) => (req.headers[name] as string | undefined) ?? '';
  if (provider === 'anthropic') return header('x-api-key');
  if (provider === 'gemini') return header('x-goog-api-key');
  if (provider === 'azure') return header('api-key');
  const auth = header('authorization');
  const sigv4 = /Credential=([^/]+)\//.exec(auth);
  if (sigv4) return sigv4[1]!;
  return auth.replace(/^Bearer /, '');
}

export interface ImitationServer {
  url: string;
  log: LoggedRequest[];
  /** The most requests this server held unanswered at once: how tests see a client's concurrency without timing it. */
  maxInFlight: () => number;
  baseUrlFlags: () => string[];
  close: () => Promise<void>;
}

export async function startProviderImitation(options: { latencyMs?: number } = {}): Promise<ImitationServer> {
  const log: LoggedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    const [, provider = '', ...rest] = (req.url ?? '').split('/');
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const key = keyFrom(provider, req);
      log.push({ provider, method: req.method ?? '', path: `/${rest.join('/')}`, key, body });
      const scenario = SCENARIOS.find((s) => key.includes(`-${s}-`)) ?? 'ok';
      if (scenario === 'hang') return; // never answers
      // 'echo': a 401 quoting the key in forms only the last redactor pass knows (base64, upper case, a piece).
      const reply =
        scenario === 'echo'
          ? json(401, {
              error: {
                message: `Bad credentials: ${Buffer.from(`user:${key}`).toString('base64')} / ${key.toUpperCase().slice(2)}`,
                type: 'invalid_request_error',
                code: 'invalid_api_key',
              },
            })
          : replyFor(provider, scenario, key, req.method === 'GET' && /(^|\/)models$/.test(rest.join('/')));
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const send = () => {
        inFlight--;
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(text);
      };
      if (options.latencyMs) setTimeout(send, options.latencyMs);
      else send();
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    log,
    maxInFlight: () => maxInFlight,
    baseUrlFlags: () =>
      ['openai', 'anthropic', 'gemini', 'groq', 'mistral', 'azure', 'bedrock'].flatMap((p) => ['--base-url', `${p}=${url}/${p}`]),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
