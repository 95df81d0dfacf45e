/**
 * The commander program: global flags, one registration per command, and the one place that
 * maps errors to exit codes. Command modules are imported only when their command runs, so
 * `--help` stays fast.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import { readProcessEnvironment, type Environment } from './config.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { CliError, ExitCode, ExitError, type ExitCodeValue } from './errors.js';
import { createOutput, type Output } from './report/output.js';

const require = createRequire(import.meta.url);
const { version } = require('../package.json') as { version: string };

export const EXIT_CODE_HELP = `
Exit codes: 0 healthy · 1 problems found · 2 usage error or refused · 3 configuration · 4 database`;

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command validates its own flags
export function nonNegativeInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number of 0 or more.`);
    return Number(value);
  };
}

type Action = (ctx: CommandContext, flags: any, args: string[]) => Promise<ExitCodeValue>;

interface RunState {
  exitCode: ExitCodeValue;
  commandName: string;
  output: Output | null;
}

export function buildCli(state: RunState, io: { processEnv: Environment; cwd: string }): Command {
  const program = new Command('lmnr-keys')
    .description("Diagnose, rotate and verify the secrets self-hosted Laminar stores encrypted in Postgres.")
    .version(version, '-V, --version')
    .option('--database-url <url>', "Laminar's Postgres URL (default: DATABASE_URL, DATABASE_* parts, or POSTGRES_* of Laminar's .env)")
    .option('--env-file <path>', 'read variables from this file (repeatable; default ./.env when present; the environment wins)', collect)
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--debug', 'explain what is happening on stderr (never secrets)')
    .option('--no-color', 'no colours')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys demo
  $ lmnr-keys doctor --env-file ~/lmnr/.env --database-url postgres://postgres:PASSWORD@localhost:5433/postgres
  $ lmnr-keys rotate --from laminar-default --to env:NEW_AEAD_SECRET_KEY --dry-run
  $ lmnr-keys verify-provider --json`)
    .exitOverride();

  const register = (command: Command, load: () => Promise<Action>) => {
    command.exitOverride().showHelpAfterError('(run with --help for usage)').action(async (...actionArgs: unknown[]) => {
      const cmd = actionArgs[actionArgs.length - 1] as Command;
      const flags = actionArgs[actionArgs.length - 2];
      const positionals = actionArgs.slice(0, -2) as string[];
      const globals = cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
      const global: GlobalOptions = {
        databaseUrl: globals.databaseUrl,
        envFile: globals.envFile ?? [],
        json: Boolean(globals.json),
        debug: Boolean(globals.debug),
        color: globals.color !== false && !io.processEnv.NO_COLOR,
      };
      const ci = io.processEnv.CI === 'true' || io.processEnv.CI === '1';
      const output = createOutput({ json: global.json, debug: global.debug, color: global.color && Boolean(process.stdout.isTTY), ci });
      state.output = output;
      state.commandName = command.name();
      const ctx = createContext(global, output, io.processEnv, io.cwd);
      const action = await load();
      state.exitCode = await action(ctx, flags, positionals);
    });
    program.addCommand(command);
  };

  register(
    new Command('demo')
      .description('see every command work on a throwaway Laminar database (embedded Postgres, a few seconds); nothing of yours is touched')
      .option('--keep', 'leave the demo database running afterwards and print how to try commands by hand (Ctrl-C to stop)')
      .addHelpText('after', `
Examples:
  $ npx lmnr-keys demo
  $ npx lmnr-keys demo --keep`),
    async () => (await import('./commands/demo.js')).demoCommand,
  );

  register(
    new Command('doctor')
      .description('try every stored secret with the current keys; report each that fails, with its cause')
      .option('--candidate <ref>', 'another key to try on failing values: env:NAME, file:PATH, laminar-default, - or 64 hex (repeatable)', collect, [])
      .option('--strict', "also fail (exit 1) on Laminar's public default key and on duplicate key names")
      .addOption(new Option('--batch-size <n>', 'rows read per query').argParser(positiveInteger('--batch-size', 100_000)).default(5000))
      .addHelpText('after', `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys doctor --env-file ~/lmnr/.env
  $ lmnr-keys doctor --candidate file:/secure/old-aead.key --json
  $ cat old.key | lmnr-keys doctor --candidate -`),
    async () => (await import('./commands/doctor.js')).doctorCommand,
  );

  const lockOptions = (command: Command) =>
    command
      .option('--wait', 'if another lmnr-keys writer holds the lock, wait for it instead of exiting 4')
      .addOption(new Option('--lock-timeout <ms>', 'wait at most this many milliseconds for the lock (implies --wait; 0 with --wait = no limit)').argParser(nonNegativeInteger('--lock-timeout')).default(0));

  register(
    lockOptions(
      new Command('rotate')
        .description('re-seal every stored secret that opens under a --from key under the --to key, safely while Laminar runs')
        .requiredOption('--from <ref>', 'a key values may be sealed with now (repeatable): env:NAME, file:PATH, laminar-default, - or 64 hex', collect)
        .requiredOption('--to <ref>', 'the new key: env:NAME, file:PATH, - or 64 hex')
        .option('--store <name>', 'only these stores (repeatable; default: the AEAD_SECRET_KEY stores; slack_integrations only when named)', collect, [])
        .option('--dry-run', 'print the plan and write nothing')
        .option('--yes', 'do not ask for confirmation (required when no terminal is attached)')
        .addOption(new Option('--batch-size <n>', 'values per transaction').argParser(positiveInteger('--batch-size', 10_000)).default(5000))
        .option('--backup <file>', 'where to write the backup (default: lmnr-keys-backup-<UTC timestamp>.jsonl here)')
        .option('--no-backup', 'do not write a backup (not recommended)'),
    ).addHelpText('after', `${EXIT_CODE_HELP} (1 = stuck values remain; 4 also = another rotation holds the lock)

Examples:
  $ lmnr-keys gen-secret > /secure/new-aead.key
  $ lmnr-keys rotate --from env:AEAD_SECRET_KEY --from laminar-default --to file:/secure/new-aead.key --dry-run
  $ lmnr-keys rotate --from env:AEAD_SECRET_KEY --from laminar-default --to file:/secure/new-aead.key --yes
  $ lmnr-keys rotate --store slack_integrations --from env:AEAD_SECRET_KEY --to env:SLACK_ENCRYPTION_KEY --yes`),
    async () => (await import('./commands/rotate.js')).rotateCommand,
  );

  register(
    lockOptions(
      new Command('restore')
        .description('put back the values a backup file says lmnr-keys replaced or removed, where they are still as lmnr-keys left them')
        .argument('<file>', 'a backup written by rotate, set or quarantine')
        .option('--dry-run', 'say what would be restored and write nothing')
        .option('--yes', 'do not ask for confirmation (required when no terminal is attached)'),
    ).addHelpText('after', `${EXIT_CODE_HELP} (1 = some rows were left alone)

Examples:
  $ lmnr-keys restore lmnr-keys-backup-20261127T213000Z.jsonl --dry-run
  $ lmnr-keys restore lmnr-keys-backup-20261127T213000Z.jsonl --yes`),
    async () => {
      const { restoreCommand } = await import('./commands/restore.js');
      return (ctx, flags, args) => restoreCommand(ctx, args[0]!, flags);
    },
  );

  register(
    new Command('verify-provider')
      .description('test-call each stored provider key and tell decode problems, invalid keys, exhausted quota, rate limits and outages apart')
      .option('--project <id>', 'only this project (repeatable)', collect, [])
      .option('--provider <name>', `only this provider (repeatable): ${'openai, anthropic, gemini, groq, mistral, azure, bedrock'}`, collect, [])
      .addOption(new Option('--probe <kind>', 'generate: one 1-token generation (sees quota); auth: key-only endpoint where one exists').choices(['generate', 'auth']).default('generate'))
      .addOption(new Option('--concurrency <n>', 'requests in flight at once').argParser(positiveInteger('--concurrency', 64)).default(8))
      .addOption(new Option('--timeout <ms>', 'per-request timeout').argParser(positiveInteger('--timeout', 600_000)).default(15_000))
      .option('--base-url <provider=url>', "replace a provider's base URL (gateways, proxies; keys are sent there) (repeatable)", collect, [])
      .option('--model <provider=id>', 'model used by the generation probe (repeatable)', collect, [])
      .option('--fail-on <statuses>', 'comma-separated statuses that fail the run (default: every status but ok and skipped)')
      .option('--junit <file>', 'also write a JUnit XML report (one testcase per credential)')
      .option('--key <ref>', 'check one key without any database: env:NAME, file:PATH or - (needs one --provider)')
      .addOption(new Option('--max-retry-wait <ms>', 'longest retry-after honoured before the single retry').argParser(nonNegativeInteger('--max-retry-wait')).default(5000))
      .addHelpText('after', `${EXIT_CODE_HELP} (1 = a result in --fail-on)

Examples:
  $ lmnr-keys verify-provider --env-file ~/lmnr/.env
  $ lmnr-keys verify-provider --fail-on invalid_key,quota_exceeded,decode_failed --junit verify.xml --json
  $ lmnr-keys verify-provider --provider openai --key env:OPENAI_API_KEY`),
    async () => (await import('./commands/verify-provider.js')).verifyProviderCommand,
  );

  register(
    lockOptions(
      new Command('set')
        .description("seal a value under the current key and replace a project's rows for a key name (\"delete and re-add\" without the web UI)")
        .requiredOption('--project <id>', 'project id (uuid)')
        .requiredOption('--name <KEY_NAME>', 'e.g. OPENAI_API_KEY')
        .option('--value <ref>', 'env:NAME, file:PATH or - (stdin); asked with hidden input when omitted on a terminal')
        .option('--force', 'allow a name Laminar does not use')
        .option('--dry-run', 'say what would be replaced and write nothing')
        .option('--yes', 'do not ask for confirmation (required when no terminal is attached)')
        .option('--backup <file>', 'where to back up the replaced rows (default: lmnr-keys-backup-<UTC timestamp>.jsonl here)')
        .option('--no-backup', 'do not write a backup (not recommended)'),
    ).addHelpText('after', `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys set --project 5f0c...e1 --name GEMINI_API_KEY
  $ lmnr-keys set --project 5f0c...e1 --name OPENAI_API_KEY --value env:NEW_OPENAI_KEY --yes`),
    async () => (await import('./commands/set.js')).setCommand,
  );

  register(
    lockOptions(
      new Command('quarantine')
        .description('take out the values no key opens (current, public default, --candidate): rows deleted, deployment pairs cleared, after a 0600 backup')
        .option('--store <name>', 'only these stores (repeatable; default: all)', collect, [])
        .option('--id <id>', 'only these row ids (repeatable)', collect, [])
        .option('--candidate <ref>', 'another key that may open values: keeps them out of quarantine (repeatable)', collect, [])
        .option('--dry-run', 'list what would be taken out and write nothing')
        .option('--yes', 'do not ask for confirmation (required when no terminal is attached)')
        .option('--backup <file>', 'where to write the backup (default: lmnr-keys-backup-<UTC timestamp>.jsonl here)')
        .option('--no-backup', 'do not write a backup (not recommended)')
        .addOption(new Option('--batch-size <n>', 'rows read per query').argParser(positiveInteger('--batch-size', 100_000)).default(5000)),
    ).addHelpText('after', `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys quarantine --dry-run
  $ lmnr-keys quarantine --candidate file:/secure/old.key --yes
  $ lmnr-keys restore lmnr-keys-backup-20261127T213000Z.jsonl --yes   # undo`),
    async () => (await import('./commands/quarantine.js')).quarantineCommand,
  );

  register(
    new Command('gen-secret')
      .description('print a fresh random key (64 hex characters) for AEAD_SECRET_KEY or SLACK_ENCRYPTION_KEY')
      .addHelpText('after', `
Examples:
  $ lmnr-keys gen-secret > /secure/new-aead.key && chmod 600 /secure/new-aead.key
  $ lmnr-keys gen-secret --json`),
    async () => (await import('./commands/gen-secret.js')).genSecretCommand,
  );

  return program;
}

/** Runs the CLI and returns the exit code. The bin is the only caller of process.exit. */
export async function main(argv: string[], io = { processEnv: readProcessEnvironment(), cwd: process.cwd() }): Promise<number> {
  const state: RunState = { exitCode: ExitCode.healthy, commandName: argv[2] ?? '', output: null };
  const program = buildCli(state, io);
  try {
    await program.parseAsync(argv);
    return state.exitCode;
  } catch (error) {
    return reportError(error, state, argv);
  }
}

function reportError(error: unknown, state: RunState, argv: string[]): number {
  const jsonMode = state.output?.jsonMode ?? argv.includes('--json');
  const output = state.output ?? createOutput({ json: jsonMode, debug: argv.includes('--debug'), color: false, ci: true });
  if (error instanceof ExitError) return error.exitCode;
  if (error instanceof CommanderError) {
    if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
      return 0;
    }
    // commander already printed its one-line message on stderr.
    if (jsonMode) output.json(errorDocument(state.commandName, ExitCode.usage, error.message.replace(/^error: /, ''), null));
    return ExitCode.usage;
  }
  if (error instanceof CliError) {
    output.note(`${output.color.red('error:')} ${error.message}`);
    if (error.hint) output.note(`hint: ${error.hint}`);
    if (error.cause) output.debug(`cause: ${describeCause(error.cause)}`);
    output.debug(error.stack ?? '');
    if (jsonMode) output.json(errorDocument(state.commandName, error.exitCode, error.message, error.hint ?? null));
    return error.exitCode;
  }
  output.note(`internal error: ${error instanceof Error ? error.message : String(error)}`);
  output.note('This is a bug in lmnr-keys; please report it with the output of --debug (it never contains secrets).');
  output.debug(error instanceof Error ? error.stack ?? '' : '');
  if (jsonMode) output.json(errorDocument(state.commandName, ExitCode.problemsFound, 'internal error', null));
  return ExitCode.problemsFound;
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: string }).code;
  return `${cause.name}${code ? ` [${code}]` : ''}: ${cause.message.split('\n')[0]}`;
}

function errorDocument(command: string, exitCode: number, message: string, hint: string | null) {
  return { version: 1, command, ok: false, error: { exitCode, message, hint } };
}
