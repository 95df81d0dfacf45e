/** --store NAME parsing shared by rotate and quarantine. */
import { UsageError } from '../errors.js';
import { STORES, STORE_NAMES, type StoreDefinition } from '../stores/stores.js';

/** `workspace_deployments` names both of its sealed pairs. */
export function selectStores(names: string[], fallback: (store: StoreDefinition) => boolean): StoreDefinition[] {
  if (names.length === 0) return STORES.filter(fallback);
  const wanted = new Set<string>();
  for (const name of names) {
    const matches = STORES.filter((store) => store.name === name || store.table === name);
    if (matches.length === 0)
      throw new UsageError(`unknown store ${JSON.stringify(name)}`, `stores: ${[...STORE_NAMES, 'workspace_deployments'].join(', ')}`);
    for (const store of matches) wanted.add(store.name);
  }
  return STORES.filter((store) => wanted.has(store.name));
}
