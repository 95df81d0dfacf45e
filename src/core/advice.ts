/**
 * Turns a finding into a cause in words and the next step, so a 3 a.m. operator knows what to
 * run. Kept apart from rendering so JSON consumers and tests can use the same sentences.
 */
import { LAMINAR_DEFAULT_LABEL } from '../crypto/keys.js';
import { findStore } from '../stores/stores.js';
import type { Finding } from './doctor.js';

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

/**
 * What doctor knows beyond one row: when another lmnr-keys writer is running, or nearly every
 * value fails under the current key, taking values out is the wrong advice (the key or the
 * timing is the problem, not the values).
 */
export interface AdviceContext {
  quarantineAdvisable: boolean;
}

function reenterStep(finding: Finding, context: AdviceContext): string {
  const orQuarantine = (what: string) => (context.quarantineAdvisable ? `, or take ${what} out with \`lmnr-keys quarantine\`` : '');
  if (finding.store === 'provider_api_keys') {
    const project = finding.projectId ?? 'PROJECT_ID';
    return (
      `re-enter the key: \`lmnr-keys set --project ${project} --name ${finding.name}\` ` +
      `(or delete and re-add it in the project settings)${orQuarantine('it')}`
    );
  }
  if (finding.store === 'slack_integrations')
    return `reconnect Slack in Laminar's workspace settings (it re-creates the token in place)${orQuarantine('it')}`;
  return `set up the hybrid deployment for this workspace again${orQuarantine('the value')}`;
}

export function adviseOnFinding(finding: Finding, context: AdviceContext = { quarantineAdvisable: true }): Advice {
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
          cause:
            `sealed with Laminar's public default key, not the current ${variable} (the ` +
            `key was changed after this value was saved, or a Laminar service still ` +
            `runs with the old key: \`lmnr-keys check-deployment\`)`,
          nextStep: `re-seal it under the current key`,
          command: rotateFrom(LAMINAR_DEFAULT_LABEL),
        };
      }
      if (finding.decryptsWith) {
        return {
          cause:
            `sealed with ${finding.decryptsWith}, not the current ${variable} (if a ` +
            `Laminar service runs with that key: \`lmnr-keys check-deployment\`)`,
          nextStep: `re-seal it under the current key`,
          command: rotateFrom(finding.decryptsWith),
        };
      }
      return {
        cause:
          `sealed with a key that is not available (an older ${variable} that was ` +
          `not kept, or the one a Laminar service runs with but lmnr-keys was not ` +
          `given), or altered`,
        nextStep:
          `check which key each Laminar service holds (\`lmnr-keys check-deployment\`); if you still have the old key, name it: ` +
          `\`lmnr-keys doctor --candidate file:OLD.key\`; otherwise ${reenterStep(finding, context)}`,
        command: null,
      };
    case 'secret_missing':
      // The variable is unset, so no `--to env:VARIABLE` command can run yet: the first step is to set it.
      if (finding.decryptsWith) {
        return {
          cause: `${variable} is not set; the value opens with ${finding.decryptsWith}`,
          nextStep:
            finding.decryptsWith === 'AEAD_SECRET_KEY'
              ? `give Laminar's services (frontend and app-server; Laminar's compose files ` +
                `pass none: \`lmnr-keys check-deployment\` shows who holds what) and lmnr-keys ` +
                `${variable} with the same value as AEAD_SECRET_KEY, which is what Laminar's ` +
                `Helm chart does: nothing to re-seal. ` +
                `Or set a new ${variable}, then re-seal: \`lmnr-keys rotate${storeFlag} ` +
                `--from ${asReference(finding.decryptsWith) ?? '<that key>'} --to env:${variable}\``
              : `set ${variable} for Laminar's services and lmnr-keys (\`lmnr-keys check-deployment\` ` +
                `shows what each holds), then re-seal: \`lmnr-keys rotate${storeFlag} --from ` +
                `${asReference(finding.decryptsWith) ?? '<that key>'} --to env:${variable}\``,
          command: null,
        };
      }
      return {
        cause: `${variable} is not set`,
        nextStep:
          `set ${variable} for lmnr-keys to the value Laminar's services run with ` +
          `(\`lmnr-keys check-deployment\` shows what each holds), then run doctor ` +
          `again`,
        command: null,
      };
    case 'malformed':
      if (finding.decryptsWith) {
        return {
          cause: `the stored hex has stray characters, but the value opens with ${finding.decryptsWith}: ${finding.detail ?? ''}`,
          nextStep:
            `re-seal it to write clean hex: any \`lmnr-keys rotate${storeFlag} ... --to ` +
            `env:${variable}\` rewrites it; nothing is lost meanwhile`,
          command: null,
        };
      }
      return {
        cause: `the stored value is malformed: ${finding.detail ?? 'bad hex'}`,
        nextStep: reenterStep(finding, context),
        command: null,
      };
    case 'incomplete':
      return { cause: `half of the value is missing: ${finding.detail ?? ''}`, nextStep: reenterStep(finding, context), command: null };
    case 'not_utf8':
      return {
        cause: 'opens under the current key, but the plaintext is not UTF-8 text, so Laminar cannot use it',
        nextStep: reenterStep(finding, context),
        command: null,
      };
  }
}
