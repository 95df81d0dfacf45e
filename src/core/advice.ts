/**
 * Turns a finding into a cause in words and the next step, so a 3 a.m. operator knows what to
 * run. Kept apart from rendering so JSON consumers and tests can use the same sentences.
 */
import { LAMINAR_DEFAULT_LABEL } from '../crypto/keys.js';
import { findStore } from '../stores/stores.js';
import type { Finding } from './findings.js';

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
  /**
   * The run's `--env-file` paths, as given: repeated in every command printed, so a command
   * copied from the output reads the same configuration the run did.
   */
  envFiles?: readonly string[];
  /**
   * The keys doctor tried besides the current one, as references: a printed quarantine must name
   * them too, or it would take out values one of them opens.
   */
  candidates?: readonly string[];
}

/** The --candidate flags for keys labelled as doctor labels them (a reference, or candidate-N for a literal). */
export function candidateFlags(labels: readonly string[]): string[] {
  return labels.map((label) => `--candidate ${asReference(label) ?? `<the key you gave as ${label}>`}`);
}

/** A word as a POSIX shell reads it back: as it is when it is plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `--env-file FILE` for each of the run's env files, quoted for a shell. */
export function envFileFlags(envFiles: readonly string[] = []): string[] {
  return envFiles.map((file) => `--env-file ${shellWord(file)}`);
}

/** `--project-directory DIR` for the folder of the first env file, when that is not here (Laminar's checkout). */
export function projectDirectoryOf(envFiles: readonly string[] = []): string[] {
  const first = envFiles[0];
  if (first === undefined || !first.includes('/')) return [];
  return [`--project-directory ${shellWord(first.slice(0, first.lastIndexOf('/')) || '/')}`];
}

/**
 * `lmnr-keys VERB` with the run's env files: how every printed command starts. check-deployment
 * also reads the compose files of a folder: the env file's folder is named as its project directory.
 */
export function invocation(verb: string, context: Pick<AdviceContext, 'envFiles'> = {}): string {
  const projectDirectory = verb === 'check-deployment' ? projectDirectoryOf(context.envFiles) : [];
  return ['lmnr-keys', verb, ...envFileFlags(context.envFiles), ...projectDirectory].join(' ');
}

/** The duplicate-name warning's sentence, with the command that keeps one row when one opens. */
export function describeDuplicate(
  group: {
    projectId: string;
    name: string;
    ids: readonly string[];
    openingIds: readonly string[];
    /** Rows only another known key opens (a rotation brings them back); ids newest first, as `ids`. */
    recoverableIds?: readonly string[];
  },
  context: Pick<AdviceContext, 'envFiles'> = {},
): string {
  const set = `${invocation('set', context)} --project ${group.projectId} --name ${group.name}`;
  const opening = group.openingIds[0];
  // A newer row that a rotation would bring back is likely the value the user meant: re-seal before choosing.
  const newerRecoverable = (group.recoverableIds ?? []).filter(
    (id) => opening === undefined || group.ids.indexOf(id) < group.ids.indexOf(opening),
  );
  if (newerRecoverable.length > 0)
    return (
      `${group.ids.length} rows for ${group.name} in one project; the playground picks one arbitrarily. ` +
      `The newest (${newerRecoverable[0]}) opens only under another known key: re-seal first ` +
      `(the rotate command under "Next steps"), then run doctor again to choose the row to keep.`
    );
  return (
    `${group.ids.length} rows for ${group.name} in one project; the playground picks one arbitrarily. ` +
    `${group.openingIds.length} of them ${group.openingIds.length === 1 ? 'opens' : 'open'} under the current key. ` +
    (group.openingIds.length > 0
      ? `Keep the newest that opens and remove the others: \`${set} --keep ${group.openingIds[0]}\`.`
      : `None opens: seal a fresh value in their place with \`${set}\`.`)
  );
}

function reenterStep(finding: Finding, context: AdviceContext): string {
  const orQuarantine = (what: string) =>
    context.quarantineAdvisable
      ? `, or take ${what} out with \`${[invocation('quarantine', context), ...(context.candidates ?? [])].join(' ')}\``
      : '';
  if (finding.store === 'provider_api_keys') {
    const project = finding.projectId ?? 'PROJECT_ID';
    return (
      `re-enter the key: \`${invocation('set', context)} --project ${project} --name ${finding.name}\` ` +
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
  const rotate = invocation('rotate', context);
  const checkDeployment = invocation('check-deployment', context);
  const rotateFrom = (label: string) => {
    const ref = asReference(label);
    return ref
      ? `${rotate}${storeFlag} --from ${ref} --to env:${variable}`
      : `${rotate}${storeFlag} --from <the key you gave as ${label}> --to env:${variable}`;
  };
  switch (finding.status) {
    case 'wrong_secret':
      if (finding.decryptsWith === LAMINAR_DEFAULT_LABEL) {
        return {
          cause:
            `sealed with Laminar's public default key, not the current ${variable} (the ` +
            `key was changed after this value was saved, or a Laminar service still ` +
            `runs with the old key: \`${checkDeployment}\`)`,
          nextStep: `re-seal it under the current key`,
          command: rotateFrom(LAMINAR_DEFAULT_LABEL),
        };
      }
      if (finding.decryptsWith) {
        return {
          cause:
            `sealed with ${finding.decryptsWith}, not the current ${variable} (if a ` +
            `Laminar service runs with that key: \`${checkDeployment}\`)`,
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
          `check which key each Laminar service holds (\`${checkDeployment}\`); if you still have the old key, name it: ` +
          `\`${invocation('doctor', context)} --candidate file:OLD.key\`; otherwise ${reenterStep(finding, context)}`,
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
                `pass none: \`${checkDeployment}\` shows who holds what) and lmnr-keys ` +
                `${variable} with the same value as AEAD_SECRET_KEY, which is what Laminar's ` +
                `Helm chart does: nothing to re-seal. ` +
                `Or set a new ${variable}, then re-seal: \`${rotate}${storeFlag} ` +
                `--from ${asReference(finding.decryptsWith) ?? '<that key>'} --to env:${variable}\``
              : `set ${variable} for Laminar's services and lmnr-keys (\`${checkDeployment}\` ` +
                `shows what each holds), then re-seal: \`${rotate}${storeFlag} --from ` +
                `${asReference(finding.decryptsWith) ?? '<that key>'} --to env:${variable}\``,
          command: null,
        };
      }
      return {
        cause: `${variable} is not set`,
        nextStep:
          `set ${variable} for lmnr-keys to the value Laminar's services run with ` +
          `(\`${checkDeployment}\` shows what each holds), then run doctor ` +
          `again`,
        command: null,
      };
    case 'malformed':
      if (finding.decryptsWith) {
        return {
          cause: `the stored hex has stray characters, but the value opens with ${finding.decryptsWith}: ${finding.detail ?? ''}`,
          nextStep:
            `re-seal it to write clean hex: any \`${rotate}${storeFlag} ... --to ` +
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
        cause:
          "opens under the current key, but the plaintext is not UTF-8 text: Laminar's web app decodes it leniently " +
          '(invalid bytes become U+FFFD), so the provider receives a mangled key',
        nextStep: reenterStep(finding, context),
        command: null,
      };
  }
}
