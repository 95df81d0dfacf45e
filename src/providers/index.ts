/** The registry: every provider Laminar's playground offers, one adapter each. */
import { anthropic } from './anthropic.js';
import { azure } from './azure.js';
import { bedrock } from './bedrock.js';
import { gemini } from './gemini.js';
import { groq } from './groq.js';
import { mistral } from './mistral.js';
import { openai } from './openai.js';
import type { ProviderAdapter, ProviderName } from './types.js';

import { PROVIDER_NAMES } from './names.js';

/** One adapter per name in names.ts, in that order. */
export const PROVIDERS: readonly ProviderAdapter[] = [openai, anthropic, gemini, groq, mistral, azure, bedrock];
if (PROVIDERS.map((p) => p.name).join() !== PROVIDER_NAMES.join()) throw new Error('providers/index.ts and providers/names.ts disagree');
export { PROVIDER_NAMES };

export function findProvider(name: string): ProviderAdapter | undefined {
  return PROVIDERS.find((p) => p.name === name);
}

/** Names that are part of some credential but not a credential of their own. */
export const COMPANION_NAMES = new Set(PROVIDERS.flatMap((p) => p.companions.map((c) => c.name)));

export function providerForKeyName(name: string): ProviderAdapter | undefined {
  return PROVIDERS.find((p) => p.keyName === name);
}

export type { ProviderAdapter, ProviderName };
