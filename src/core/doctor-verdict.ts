/**
 * doctor's verdict, decided once: the exit code, the verdict line and the advice all read the
 * same `DoctorVerdict`, so they cannot disagree.
 */
import type { SecretVariable, StoreName } from '../stores/stores.js';
import { findStore } from '../stores/stores.js';
import type { WriterLockHolder } from '../db/lock.js';
import type { CauseCount } from './failure-tally.js';

/** What the verdict reads of a doctor report (declared here, so the verdict depends on nothing of doctor's). */
interface JudgedSecret {
  name: string;
  status: string;
  fingerprint: string | null;
}
interface JudgedStore {
  store: StoreName;
  total: number;
}

/** A store where nearly every value fails and no key we know opens them: the key itself is the first suspect. */
export interface SuspectedKey {
  store: StoreName;
  variable: SecretVariable;
  /** Fingerprint of the key lmnr-keys was given for that variable. */
  fingerprint: string | null;
  failing: number;
  total: number;
}

export interface DoctorVerdict {
  ok: boolean;
  /** Laminar's tables are there but hold no secret at all: healthy, and said so (an empty database pointed at by mistake must be obvious). */
  noSecretsYet: boolean;
  /** Why the run fails, in words (empty exactly when ok). */
  problems: string[];
  suspectedWrongKey: SuspectedKey[];
  /** Whether advice may suggest taking values out (not while a writer runs or the key is suspect). */
  quarantineAdvisable: boolean;
}

/** "Nearly every": at least this share of at least this many values (a few malformed rows must not hide a wrong key). */
const SUSPECT_SHARE = 0.75;
const SUSPECT_MINIMUM = 3;

export function judgeDoctor(
  report: {
    secrets: JudgedSecret[];
    stores: JudgedStore[];
    /** Failing values per cause (failure-tally.ts). */
    causes: CauseCount[];
    warnings: readonly unknown[];
    writer: WriterLockHolder | null;
  },
  strict: boolean,
): DoctorVerdict {
  const unopened = new Map<StoreName, number>();
  let failing = 0;
  for (const cause of report.causes) {
    failing += cause.count;
    if (cause.status === 'wrong_secret' && cause.decryptsWith === null)
      unopened.set(cause.store, (unopened.get(cause.store) ?? 0) + cause.count);
  }
  const suspectedWrongKey: SuspectedKey[] = [];
  for (const store of report.stores) {
    const failing = unopened.get(store.store) ?? 0;
    if (store.total < SUSPECT_MINIMUM || failing < store.total * SUSPECT_SHARE) continue;
    const variable = findStore(store.store)!.secretVariable;
    const fingerprint = report.secrets.find((secret) => secret.name === variable)?.fingerprint ?? null;
    suspectedWrongKey.push({ store: store.store, variable, fingerprint, failing, total: store.total });
  }
  const problems: string[] = [];
  const total = report.stores.reduce((sum, store) => sum + store.total, 0);
  if (failing > 0) problems.push(`${failing} of ${total} stored secrets cannot be used by Laminar`);
  if (report.secrets.some((secret) => secret.status === 'needs_cleanup')) problems.push('a key variable needs cleanup');
  if (strict && report.secrets.some((secret) => secret.status === 'public_default'))
    problems.push("Laminar's public default key is in use (--strict)");
  if (strict && report.warnings.length > 0) problems.push('duplicate key names (--strict)');
  return {
    ok: problems.length === 0,
    noSecretsYet: total === 0,
    problems,
    suspectedWrongKey,
    quarantineAdvisable: report.writer === null && suspectedWrongKey.length === 0,
  };
}
