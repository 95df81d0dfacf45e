/**
 * Turns a finding into a cause in words and the next step, so a 3 a.m. operator knows what to
 * run. Kept apart from rendering so JSON consumers and tests can use the same sentences.
 */
import { LAMINAR_DEFAULT_LABEL } from '../crypto/keys.js';
import { findStore } from '../stores/stores.js';
import type { Finding } from './doctor.js';

/** Names the command that finds the service holding another key (or none). */
const DEPLOYMENT_CHECK = '`lmnr-keys check-deployment`';

export interface Advice {
  cause: string;
  nextStep: string;
  /** A command that fixes this finding (and every finding like it), when one exists. */
  command: string | null;
}

/** A label as a reference the operator can pass back to --from, when it is one. */
function asReference(label: string): string | null {
  if (label === LAMINAR_DEFAULT_LABEL || label.startsWith('env:') || label.startsWith('file:')) return label;
  if (label === 'AEAD_SECRET_KEY' || label === 'SLACK_ENCRYPTION_KEY') return `env:${label}`;
  return null;
}

function reenterStep(finding: Finding): string {
  if (finding.store === 'provider_api_keys') {
    const project = finding.projectId ?? 'PROJECT_ID';
    return `re-enter the key: \`lmnr-keys set --project ${project} --name ${finding.name}\` (or delete and re-add it in the project settings), or take it out with \`lmnr-keys quarantine\``;
  }
  if (finding.store === 'slack_integrations') return 'reinstall the Slack integration for this workspace, or take it out with `lmnr-keys quarantine`';
  return 'set up the hybrid deployment for this workspace again, or take the value out with `lmnr-keys quarantine`';
}

export function adviseOnFinding(finding: Finding): Advice {
  const variable = findStore(finding.store)?.secretVariable ?? 'AEAD_SECRET_KEY';
  const storeFlag = finding.store === 'slack_integrations' ? ' --store slack_integrations' : '';
  const rotateFrom = (label: string) => {
    const ref = asReference(label);
    return ref
      ? `lmnr-keys rotate${storeFlag} --from ${ref} --to env:${variable}`
      : `lmnr-keys rotate${storeFlag} --from <the key you gave as ${label}> --to env:${variable}`;
  };
  switch (finding.status) {
    case 'wrong_secret':
      if (finding.decryptsWith === LAMINAR_DEFAULT_LABEL) {
        return {
          cause: `sealed with Laminar's public default key, not the current ${variable} (the key was changed after this value was saved, or a Laminar service still runs with the old key: ${DEPLOYMENT_CHECK})`,
          nextStep: `re-seal it under the current key`,
          command: rotateFrom(LAMINAR_DEFAULT_LABEL),
        };
      }
      if (finding.decryptsWith) {
        return {
          cause: `sealed with ${finding.decryptsWith}, not the current ${variable} (if a Laminar service runs with that key: ${DEPLOYMENT_CHECK})`,
          nextStep: `re-seal it under the current key`,
          command: rotateFrom(finding.decryptsWith),
        };
      }
      return {
        cause: `sealed with a key that is not available (an older ${variable} that was not kept), or altered`,
        nextStep: `${DEPLOYMENT_CHECK} shows whether a Laminar service runs with another key; if you still have the old key, name it: \`lmnr-keys doctor --candidate file:OLD.key\`; otherwise ${reenterStep(finding)}`,
        command: null,
      };
    case 'secret_missing':
      if (finding.decryptsWith) {
        return {
          cause: `${variable} is not set (${DEPLOYMENT_CHECK} shows which Laminar services receive it); the value opens with ${finding.decryptsWith}`,
          nextStep: finding.decryptsWith === 'AEAD_SECRET_KEY'
            ? `set ${variable} to the same value as AEAD_SECRET_KEY (what Laminar's Helm chart does), or set a new ${variable} and re-seal`
            : `set ${variable}, then re-seal`,
          command: `lmnr-keys rotate${storeFlag} --from ${asReference(finding.decryptsWith) ?? '<that key>'} --to env:${variable}`,
        };
      }
      return { cause: `${variable} is not set`, nextStep: `set ${variable} for Laminar (${DEPLOYMENT_CHECK} shows which service lacks it) and for lmnr-keys, then run doctor again`, command: null };
    case 'malformed':
      return { cause: `the stored value is malformed: ${finding.detail ?? 'bad hex'}`, nextStep: reenterStep(finding), command: null };
    case 'incomplete':
      return { cause: `half of the value is missing: ${finding.detail ?? ''}`, nextStep: reenterStep(finding), command: null };
    case 'not_utf8':
      return { cause: 'opens under the current key, but the plaintext is not UTF-8 text, so Laminar cannot use it', nextStep: reenterStep(finding), command: null };
  }
}
