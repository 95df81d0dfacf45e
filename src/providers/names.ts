/**
 * The providers Laminar's playground offers, by name: importable without loading any adapter
 * (so `--help` stays fast). The registry (index.ts) holds one adapter per name.
 */
export const PROVIDER_NAMES = ['openai', 'anthropic', 'gemini', 'groq', 'mistral', 'azure', 'bedrock'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}
