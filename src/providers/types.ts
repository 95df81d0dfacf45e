/** One interface every provider adapter implements; see shared/PROVIDERS.md. */

import type { ProviderName } from './names.js';

export type { ProviderName };

export const PROBE_STATUSES = [
  'ok',
  'invalid_key',
  'quota_exceeded',
  'rate_limited',
  'access_denied',
  'provider_error',
  'network_error',
] as const;
export type ProbeStatus = (typeof PROBE_STATUSES)[number];

export type ProbeKind = 'generate' | 'auth';

/** A decrypted credential: the key and the companion values stored beside it. Never rendered. */
export interface Credential {
  key: string;
  companions: Record<string, string>;
}

export interface ProbeRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** True when `--probe auth` had to fall back to a generation (no key-only endpoint). */
  quotaChecked: boolean;
}

/** What came back over HTTP. */
export interface ProviderAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or null when it is not JSON. */
  json: unknown;
}

export interface Classification {
  status: ProbeStatus;
  /** The provider's own message, when it gave one. */
  message: string | null;
}

export interface ProviderAdapter {
  name: ProviderName;
  /** The provider_api_keys name holding the credential. */
  keyName: string;
  /** Names stored beside it that belong to the same credential; required ones make it incomplete when missing. */
  /**
   * Names stored beside it that belong to the same credential; required ones make it incomplete
   * when missing; `secret` ones (Bedrock's secret access key) are redacted from every output
   * like the key (a resource name or a region is not: it names hosts operators need in errors).
   */
  companions: ReadonlyArray<{ name: string; required: boolean; secret?: boolean }>;
  defaultModel: string;
  /** The provider's own base URL for this credential (with the version segment). */
  defaultBaseUrl: (credential: Credential) => string;
  /** The provider's own API hosts; a --base-url elsewhere is a gateway the operator chose, and keys will go there. */
  ownHost: RegExp;
  buildRequest: (credential: Credential, options: { probe: ProbeKind; baseUrl: string; model: string }) => Promise<ProbeRequest>;
  /** Classifies a non-2xx JSON answer; the generic rules (5xx, non-JSON) have already run. */
  classify: (answer: ProviderAnswer) => Classification;
  /**
   * Whether a 2xx answer is this provider's own success for the probe made (a generation, or the
   * key-only listing): its documented shape. Anything else with 2xx (a proxy's login page, a
   * captive portal, a wrong --base-url, an empty body) is someone else answering, never `ok`.
   */
  provesSuccess: (json: unknown, probe: ProbeKind) => boolean;
}
