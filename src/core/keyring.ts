/**
 * Which keys doctor-like commands try for each store: the store's current key, then Laminar's
 * public default, then the other Laminar key (the Helm chart copies AEAD_SECRET_KEY into
 * SLACK_ENCRYPTION_KEY when unset), then the operator's candidates.
 */
import { laminarDefaultKey, type SecretCheck, type SecretKey } from '../crypto/keys.js';
import type { StoreDefinition } from '../stores/stores.js';
import { buildKeyRing, type KeyRing } from './diagnose.js';

export interface LaminarSecrets {
  aead: SecretCheck;
  slack: SecretCheck;
}

export function keyRingFor(store: StoreDefinition, secrets: LaminarSecrets, candidates: SecretKey[]): KeyRing {
  const own = store.secretVariable === 'AEAD_SECRET_KEY' ? secrets.aead : secrets.slack;
  const other = store.secretVariable === 'AEAD_SECRET_KEY' ? secrets.slack : secrets.aead;
  const fallbacks = [laminarDefaultKey(), ...(other.key ? [other.key] : []), ...candidates];
  return buildKeyRing(store.secretVariable, own.key, fallbacks);
}
