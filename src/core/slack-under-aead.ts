/**
 * Slack tokens that a rotation's --from keys open, while slack_integrations is not being
 * rotated: Laminar's Helm chart copies AEAD_SECRET_KEY into SLACK_ENCRYPTION_KEY when that is
 * unset, so those tokens stay under the old key unless the operator rotates them too.
 */
import { encodeAad } from '../crypto/aead.js';
import { sameKey, type SecretKey } from '../crypto/keys.js';
import type { LaminarDb } from '../db/connect.js';
import { checkStorePresence, scanStore } from '../stores/scan.js';
import { STORES } from '../stores/stores.js';
import { loadShape } from './diagnose.js';

const slackStore = STORES.find((store) => store.name === 'slack_integrations')!;

/** How many Slack tokens open under one of `from` (and not under the Slack key itself). */
export async function findSlackTokensOpeningUnder(db: LaminarDb, from: SecretKey[], slackKey: SecretKey | null): Promise<number> {
  const keys = from.filter((key) => !(slackKey && sameKey(key, slackKey)));
  if (keys.length === 0 || !(await checkStorePresence(db, slackStore)).present) return 0;
  let count = 0;
  for await (const batch of scanStore(db, slackStore, 1000)) {
    for (const row of batch) {
      const shape = loadShape(slackStore, row);
      if (shape.kind !== 'loaded') continue;
      const aad = encodeAad(row.aad);
      if (keys.some((key) => shape.opener.open(key.bytes, aad))) count += 1;
      shape.opener.clear();
    }
  }
  return count;
}
