/**
 * Every command's flags, arguments and help, declared once. Each command module takes its
 * flags as `FlagsOf<...>` of its definition (a type-only import, so `--help` loads no command
 * module): renaming or retyping a flag here fails to compile where it is used.
 */
import { Command, InvalidArgumentError, Option, type OptionValues } from '@commander-js/extra-typings';
import { PROVIDER_NAMES } from '../providers/names.js';
import { STORE_NAMES } from '../stores/stores.js';
import { EXIT_CODE_MEANINGS } from '../errors.js';

/** The --help footer: the one table of exit codes (errors.ts), generated, never hand-copied. */
export const EXIT_CODE_HELP = `
Exit codes: ${Object.entries(EXIT_CODE_MEANINGS)
  .map(([code, meaning]) => `${code} ${meaning.replace(/ \(128 \+ \d+\)$/, '')}`)
  .join(' · ')}`;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInteger(name: string, max = 1_000_000) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}.`);
    }
    return Number(value);
  };
}

export function nonNegativeInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number of 0 or more.`);
    return Number(value);
  };
}

const KEY_FORMS = 'env:NAME, file:PATH, laminar-default, - or 64 hex';

/** --dry-run, --yes, --wait, --lock-timeout: every command that writes sealed values (see guarded-write.ts). */
function writeFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option('--dry-run', 'print the plan and write nothing (no lock; works under a SELECT-only role)')
    .option('--yes', 'do not ask for confirmation (required when no terminal is attached)')
    .option('--wait', 'if another lmnr-keys writer holds the lock, wait for it instead of exiting 4')
    .addOption(
      new Option('--lock-timeout <ms>', 'wait at most this many milliseconds for the lock (implies --wait; 0 with --wait = no limit)')
        .argParser(nonNegativeInteger('--lock-timeout'))
        .default(0),
    );
}

/** --backup FILE | --no-backup: every write that replaces or removes a value. */
function backupFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option(
      '--backup <file>',
      'where to write the backup (default: a new file in ~/.local/state/lmnr-keys/backups, or LMNR_KEYS_BACKUP_DIR)',
    )
    .option('--no-backup', 'do not write a backup (not recommended)');
}

/** --json-out FILE, --metrics FILE: the checks whose reports CI and monitoring keep (doctor, verify-provider, check-deployment). */
function reportFileFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option(
      '--json-out <file>',
      'also write the JSON document to this file (replaced whole when the run ends, failed runs included); the human report stays on stdout',
    )
    .option(
      '--metrics <file>',
      "write Prometheus metrics to this file for node_exporter's textfile collector (replaced whole; a folder: " +
        'lmnr-keys-COMMAND.prom in it; one file per command)',
    );
}

export const definitions = {
  demo: () =>
    new Command('demo')
      .description('see every command work on a throwaway Laminar database (embedded Postgres, a few seconds); nothing of yours is touched')
      .option('--keep', 'leave the demo database running afterwards and print how to try commands by hand (Ctrl-C to stop)')
      .addHelpText(
        'after',
        `
Examples:
  $ npx lmnr-keys demo
  $ npx lmnr-keys demo --keep`,
      ),

  doctor: () =>
    reportFileFlags(new Command('doctor'))
      .description('try every stored secret with the current keys; report each that fails, with its cause')
      .option('--candidate <ref>', `another key to try on failing values: ${KEY_FORMS} (repeatable)`, collect, [] as string[])
      .option('--strict', "also fail (exit 1) on Laminar's public default key and on duplicate key names")
      .option('--all', 'list every failing value, however many (by default a large list is summarised)')
      .addOption(
        new Option('--batch-size <n>', 'rows between progress updates (each table streams in one COPY)')
          .argParser(positiveInteger('--batch-size', 100_000))
          .default(5000),
      )
      .addHelpText(
        'after',
        `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys doctor --env-file ~/lmnr/.env
  $ lmnr-keys doctor --candidate file:/secure/old-aead.key --json
  $ cat old.key | lmnr-keys doctor --candidate -`,
      ),

  rotate: () =>
    backupFlags(
      writeFlags(
        new Command('rotate')
          .description('re-seal every stored secret that opens under a --from key under the --to key, safely while Laminar runs')
          .requiredOption('--from <ref>', `a key values may be sealed with now (repeatable): ${KEY_FORMS}`, collect)
          .requiredOption('--to <ref>', 'the new key: env:NAME, file:PATH, - or 64 hex')
          .option(
            '--store <name>',
            `only these stores (repeatable; default: the AEAD_SECRET_KEY stores; slack_integrations ` +
              `only when named): ${STORE_NAMES.join(', ')}`,
            collect,
            [] as string[],
          )
          .option('--allow-public-key', "allow --to to be Laminar's public default key (never for real data)")
          .addOption(
            new Option('--batch-size <n>', 'values per transaction (bounds memory: two batches are in flight)')
              .argParser(positiveInteger('--batch-size', 10_000))
              .default(5000),
          ),
      ),
    ).addHelpText(
      'after',
      `${EXIT_CODE_HELP} (1 = stuck values remain; 4 also = another rotation holds the lock)

Examples:
  $ lmnr-keys gen-secret --out /secure/new-aead.key
  $ lmnr-keys rotate --from env:AEAD_SECRET_KEY --from laminar-default --to file:/secure/new-aead.key --dry-run
  $ lmnr-keys rotate --from env:AEAD_SECRET_KEY --from laminar-default --to file:/secure/new-aead.key --yes
  $ lmnr-keys rotate --store slack_integrations --from env:AEAD_SECRET_KEY --to env:SLACK_ENCRYPTION_KEY --yes`,
    ),

  restore: () =>
    writeFlags(
      new Command('restore')
        .description('put back the values a backup file says lmnr-keys replaced or removed, where they are still as lmnr-keys left them')
        .argument('<file>', 'a backup written by rotate, set or quarantine')
        .option('--force', 'restore into a database other than the one the backup was taken from'),
    ).addHelpText(
      'after',
      `${EXIT_CODE_HELP} (1 = some rows were left alone, or put back incomplete)

Examples:
  $ lmnr-keys restore ~/.local/state/lmnr-keys/backups/lmnr-keys-rotate-20261127T213000.123Z-1a2b3c.jsonl --dry-run
  $ lmnr-keys restore ~/.local/state/lmnr-keys/backups/lmnr-keys-rotate-20261127T213000.123Z-1a2b3c.jsonl --yes`,
    ),

  'verify-provider': () =>
    reportFileFlags(new Command('verify-provider'))
      .description(
        'test-call each stored provider key and tell decode problems, invalid keys, exhausted quota, rate limits and outages apart',
      )
      .option('--project <id>', 'only this project (repeatable)', collect, [] as string[])
      .option('--provider <name>', `only this provider (repeatable): ${PROVIDER_NAMES.join(', ')}`, collect, [] as string[])
      .addOption(
        new Option('--probe <kind>', 'generate: one 1-token generation (sees quota); auth: key-only endpoint where one exists')
          .choices(['generate', 'auth'] as const)
          .default('generate' as const),
      )
      .addOption(new Option('--concurrency <n>', 'requests in flight at once').argParser(positiveInteger('--concurrency', 64)).default(8))
      .addOption(
        new Option('--timeout <ms>', 'bound on each probe, reading its answer included')
          .argParser(positiveInteger('--timeout', 600_000))
          .default(15_000),
      )
      .option(
        '--base-url <provider=url>',
        "replace a provider's base URL (gateways, proxies; keys are sent there) (repeatable)",
        collect,
        [] as string[],
      )
      .option('--model <provider=id>', 'model used by the generation probe (repeatable)', collect, [] as string[])
      .option('--fail-on <statuses>', 'comma-separated statuses that fail the run (default: every status but ok and skipped)')
      .option('--junit <file>', 'also write a JUnit XML report (one testcase per credential)')
      .option('--all', 'list every credential, however many (by default more than 100 are summarised)')
      .option('--key <ref>', 'check one key without any database: env:NAME, file:PATH or - (needs one --provider)')
      .addOption(
        new Option('--max-retry-wait <ms>', 'longest retry-after honoured before the single retry')
          .argParser(nonNegativeInteger('--max-retry-wait'))
          .default(5000),
      )
      .addHelpText(
        'after',
        `${EXIT_CODE_HELP} (1 = a result in --fail-on)

Examples:
  $ lmnr-keys verify-provider --env-file ~/lmnr/.env
  $ lmnr-keys verify-provider --fail-on invalid_key,quota_exceeded,decode_failed --junit verify.xml --json
  $ lmnr-keys verify-provider --provider openai --key env:OPENAI_API_KEY`,
      ),

  set: () =>
    backupFlags(
      writeFlags(
        new Command('set')
          .description(
            'seal a value under the current key and replace a project\'s rows for a key name ("delete and re-add" ' +
              'without the web UI), or keep one existing row of duplicates',
          )
          .requiredOption('--project <id>', 'project id (uuid)')
          .requiredOption('--name <KEY_NAME>', 'e.g. OPENAI_API_KEY')
          .option('--value <ref>', 'env:NAME, file:PATH or - (stdin); asked with hidden input when omitted on a terminal')
          .option(
            '--raw',
            'store exactly what --value yields (the whole variable, file or stdin); by default surrounding whitespace, quotes and `export ` are removed, as a note says',
          )
          .option('--keep <id>', 'keep this existing row (it must open under the current key) and remove the others of the same name')
          .option('--force', 'allow a name Laminar does not use')
          .option('--allow-public-key', "seal even when AEAD_SECRET_KEY is Laminar's public default key"),
      ),
    ).addHelpText(
      'after',
      `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys set --project 5f0c...e1 --name GEMINI_API_KEY
  $ lmnr-keys set --project 5f0c...e1 --name OPENAI_API_KEY --value env:NEW_OPENAI_KEY --yes
  $ lmnr-keys set --project 5f0c...e1 --name OPENAI_API_KEY --keep 0b7e...42 --yes`,
    ),

  quarantine: () =>
    backupFlags(
      writeFlags(
        new Command('quarantine')
          .description(
            'take out the values no key opens (current, public default, --candidate), after a 0600 backup: ' +
              'provider rows deleted, Slack tokens and deployment pairs emptied in place',
          )
          .option('--store <name>', `only these stores (repeatable; default: all): ${STORE_NAMES.join(', ')}`, collect, [] as string[])
          .option('--id <id>', 'only these row ids (repeatable)', collect, [] as string[])
          .option(
            '--candidate <ref>',
            'another key that may open values: keeps them out of quarantine (repeatable)',
            collect,
            [] as string[],
          )
          .addOption(
            new Option(
              '--expect <n>',
              'the exact count this run takes out: needed to take out more than 100 values, more than 1% of a store of ' +
                '1,000 or more, or more than half of any store (a wrong key makes everything look lost); when given, any ' +
                'other count refuses',
            ).argParser(nonNegativeInteger('--expect')),
          )
          .option('--all', 'list every value taken out (or, with --dry-run, every value that would be), however many')
          .addOption(
            new Option('--batch-size <n>', 'rows read per query; up to 500 of them taken out per transaction')
              .argParser(positiveInteger('--batch-size', 100_000))
              .default(5000),
          ),
      ),
    ).addHelpText(
      'after',
      `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys quarantine --dry-run
  $ lmnr-keys quarantine --candidate file:/secure/old.key --yes
  $ lmnr-keys restore ~/.local/state/lmnr-keys/backups/lmnr-keys-quarantine-....jsonl --yes   # undo`,
    ),

  'gen-secret': () =>
    new Command('gen-secret')
      .description('make a fresh random key (64 hex characters) for AEAD_SECRET_KEY or SLACK_ENCRYPTION_KEY')
      .option('--out <file>', 'write it to this new file, created with mode 0600 (never overwrites) instead of printing it')
      .addHelpText(
        'after',
        `
Examples:
  $ lmnr-keys gen-secret --out /secure/new-aead.key
  $ lmnr-keys gen-secret --json`,
      ),

  'save-key': () =>
    new Command('save-key')
      .description('copy a key into a new 0600 file (e.g. the old AEAD_SECRET_KEY before you replace it), printing only its fingerprint')
      .argument('<ref>', `the key: ${KEY_FORMS}`)
      .requiredOption('--out <file>', 'the new file (created with mode 0600; never overwrites; never inside a git work tree)')
      .option(
        '--fingerprint <fp>',
        "refuse unless the key has this fingerprint (the rotate runbook passes the old key's, so a key " +
          'already replaced is not saved as the old one)',
      )
      .addHelpText(
        'after',
        `
Examples:
  $ lmnr-keys save-key --env-file .env env:AEAD_SECRET_KEY --fingerprint 3fa1c2d9 --out ~/.local/state/lmnr-keys/keys/old-aead.key`,
      ),

  'check-deployment': () =>
    reportFileFlags(new Command('check-deployment'))
      .description(
        'find the Laminar service that runs without the key, with an invalid or different one, or with one ' +
          'the stored values do not open: compose files, running containers, Helm values, manifests, a cluster (kubectl)',
      )
      .option(
        '-f, --file <path>',
        'compose file (repeatable; merged as docker compose does; default: COMPOSE_FILE, or compose.yaml / ' +
          'docker-compose.yml and its override here)',
        collect,
        [] as string[],
      )
      .option('--project-directory <dir>', 'compose project directory, whose .env is read (default: the folder of the first compose file)')
      .option(
        '-p, --project-name <name>',
        "compose project name, whose running containers are compared with the files (default: COMPOSE_PROJECT_NAME, the files' top-level name:, or the project directory's name)",
      )
      .option(
        '--profile <name>',
        'compose profile to enable (repeatable; default: COMPOSE_PROFILES); a Laminar service only in profiles not enabled is not judged',
        collect,
        [] as string[],
      )
      .option(
        '--containers <file>',
        "docker inspect JSON of the running containers, - for stdin (default: ask docker for the compose project's containers)",
      )
      .option('--no-containers', 'do not look at running containers')
      .option(
        '--service <name=env_file>',
        'a Laminar service run outside compose from its own dotenv file, e.g. frontend=frontend/.env.local (repeatable)',
        collect,
        [] as string[],
      )
      .option('--helm-values <file>', "values file of Laminar's Helm chart (repeatable; later wins, as helm -f)", collect, [] as string[])
      .option(
        '--manifests <file>',
        'rendered Kubernetes objects (helm template, or kubectl get deploy,statefulset,secret -o yaml), - for stdin',
      )
      .option(
        '--kubectl',
        "ask the cluster with kubectl: the Laminar workloads, their running pods and the Secrets their keys come from (also finds pods started before their Secret's last change)",
      )
      .option('-n, --namespace <namespace>', "with --kubectl: the namespace Laminar runs in (default: the context's)")
      .option('--context <context>', 'with --kubectl: the kubeconfig context (default: the current one)')
      .option('--no-database', 'do not check which key opens the stored values')
      .option('--strict', 'also fail on a missing SLACK_ENCRYPTION_KEY when no Slack token is stored')
      .addHelpText(
        'after',
        `${EXIT_CODE_HELP} (1 = findings; 3 also = no compose file and no source given, an unreadable file, or kubectl missing, without a context or forbidden to list the workloads; 4 = the database part failed, after the file findings)

Examples:
  $ cd ~/lmnr && npx lmnr-keys check-deployment
  $ lmnr-keys check-deployment -f docker-compose-local-dev.yml --service frontend=frontend/.env.local
  $ lmnr-keys check-deployment -f docker-compose.yml -f lmnr-keys/compose.yaml --profile tools
  $ docker inspect $(docker compose ps -q) | lmnr-keys check-deployment --containers -
  $ lmnr-keys check-deployment --helm-values my-values.yaml --no-database
  $ helm template laminar ./charts/laminar -f my-values.yaml | lmnr-keys check-deployment --manifests - --database-url postgres://...
  $ lmnr-keys check-deployment --kubectl -n lmnr --no-database
  $ kubectl get deploy,sts,rs,pods,secrets -o yaml --show-managed-fields | lmnr-keys check-deployment --manifests -`,
      ),

  fingerprint: () =>
    new Command('fingerprint')
      .description(
        "print a key's fingerprint (first 8 hex of SHA-256 of its bytes, as doctor shows it), never the key: compare any container's key",
      )
      .argument('[ref]', 'the key: - (stdin, the default), env:NAME, file:PATH or laminar-default')
      .addHelpText(
        'after',
        `${EXIT_CODE_HELP} (1 = the key needs cleanup; 3 = empty or not a key)

Examples:
  $ docker compose exec -T frontend printenv AEAD_SECRET_KEY | lmnr-keys fingerprint
  $ kubectl exec deploy/laminar-app-server -- printenv AEAD_SECRET_KEY | lmnr-keys fingerprint
  $ lmnr-keys fingerprint env:AEAD_SECRET_KEY --env-file .env --json`,
      ),
} as const;

export type CommandName = keyof typeof definitions;

type DefinedCommand<N extends CommandName> = ReturnType<(typeof definitions)[N]>;
/** The flags object a command's handler receives, typed from its definition. */
export type FlagsOf<N extends CommandName> = ReturnType<DefinedCommand<N>['opts']>;
/** Its positional arguments. */
export type ArgsOf<N extends CommandName> = DefinedCommand<N> extends Command<infer A, OptionValues, OptionValues> ? A : never;
