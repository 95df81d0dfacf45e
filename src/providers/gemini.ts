import { classified, classifyByStatus, errorMessage, joinUrl, jsonHeaders, pick, pickString } from './answer.js';
import type { ProviderAdapter, ProviderAnswer } from './types.js';

function detailsOf(answer: ProviderAnswer): unknown[] {
  const details = pick(answer.json, 'error', 'details');
  return Array.isArray(details) ? details : [];
}

/** Quota violations Google reports: a per-day quota or a limit of 0 will not recover within minutes. */
function isHardQuota(answer: ProviderAnswer): boolean {
  const message = errorMessage(answer) ?? '';
  if (/prepayment credits are depleted/i.test(message) || /limit:\s*0\b/.test(message)) return true;
  for (const detail of detailsOf(answer)) {
    const violations = pick(detail, 'violations');
    if (!Array.isArray(violations)) continue;
    for (const violation of violations) {
      const quotaId = pickString(violation, 'quotaId') ?? '';
      if (/PerDay/i.test(quotaId)) return true;
      const limit = pick(violation, 'quotaValue');
      if (limit === '0' || limit === 0) return true;
    }
  }
  return false;
}

export const gemini: ProviderAdapter = {
  name: 'gemini',
  keyName: 'GEMINI_API_KEY',
  companions: [],
  defaultModel: 'gemini-2.5-flash-lite',
  defaultBaseUrl: () => 'https://generativelanguage.googleapis.com/v1beta',
  ownHost: /^generativelanguage\.googleapis\.com$/,
  buildRequest: async (credential, { probe, baseUrl, model }) => {
    const headers = jsonHeaders({ 'x-goog-api-key': credential.key });
    if (probe === 'auth') return { url: joinUrl(baseUrl, 'models'), method: 'GET', headers, quotaChecked: false };
    return {
      url: joinUrl(baseUrl, `models/${encodeURIComponent(model)}:generateContent`),
      method: 'POST',
      headers,
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 1 } }),
      quotaChecked: true,
    };
  },
  // At MAX_TOKENS a candidate may come without content.parts: the candidates array is the proof.
  provesSuccess: (json, probe) => Array.isArray(pick(json, probe === 'generate' ? 'candidates' : 'models')),
  classify: (answer) => {
    const message = errorMessage(answer) ?? '';
    const reasons = detailsOf(answer).map((d) => pickString(d, 'reason') ?? '');
    const status = pickString(answer.json, 'error', 'status') ?? '';
    if (answer.status === 400 && reasons.includes('API_KEY_INVALID')) return classified('invalid_key', answer);
    if (answer.status === 403) {
      if (/reported as leaked/i.test(message) || reasons.includes('CONSUMER_SUSPENDED') || /denied access/i.test(message))
        return classified('invalid_key', answer);
      return classified('access_denied', answer);
    }
    if (answer.status === 400 && status === 'FAILED_PRECONDITION') return classified('access_denied', answer);
    if (answer.status === 429) return isHardQuota(answer) ? classified('quota_exceeded', answer) : classified('rate_limited', answer);
    return classifyByStatus(answer);
  },
};
