/**
 * The commander program: global flags, one registration per command (declared in
 * commands/definitions.ts), and the one place that maps errors to exit codes. Command modules
 * are imported only when their command runs, so `--help` stays fast.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { readProcessEnvironment, type Environment } from './config/environment.js';
import { createContext, processContextIo, type CommandContext, type GlobalOptions } from './context.js';
import tty from 'node:tty';
import v8 from 'node:v8';
import path from 'node:path';
import { CliError, ExitCode, UsageError, type ExitCodeValue } from './errors.js';
import { createOutput, type Output } from './report/output.js';
import { documentError, documentOf, type CommandName as DocumentCommand } from './report/document.js';
import { fdTextSink } from './report/text-sink.js';
import { definitions, EXIT_CODE_HELP, type ArgsOf, type CommandName, type FlagsOf } from './commands/definitions.js';
import { packageVersion } from './package-root.js';
// Loaded only with --metrics (its series name core's statuses, which pull in the database layer: --help stays light).
import type { MetricsTarget } from './commands/metrics-file.js';
import type { MetricFamily, MetricsCommand } from './report/metrics.js';
import { describeSignal, exitCodeForSignal, handleStopSignals, setLeaveAnnouncer } from './interrupt.js';

const version = packageVersion();

type Action<N extends CommandName> = (ctx: CommandContext, flags: FlagsOf<N>, args: ArgsOf<N>) => Promise<ExitCodeValue>;

/**
 * The handler of each command, loaded on demand. `satisfies` checks every handler against the
 * flags its definition declares.
 */
export const actions = {
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  rotate: async () => (await import('./commands/rotate.js')).rotateCommand,
  restore: async () => (await import('./commands/restore.js')).restoreCommand,
  'verify-provider': async () => (await import('./commands/verify-provider.js')).verifyProviderCommand,
  set: async () => (await import('./commands/set.js')).setCommand,
  quarantine: async () => (await import('./commands/quarantine.js')).quarantineCommand,
  'gen-secret': async () => (await import('./commands/gen-secret.js')).genSecretCommand,
  'save-key': async () => (await import('./commands/save-key.js')).saveKeyCommand,
  'check-deployment': async () => (await import('./commands/check-deployment.js')).checkDeploymentCommand,
  fingerprint: async () => (await import('./commands/fingerprint.js')).fingerprintCommand,
} satisfies { [N in CommandName]: () => Promise<Action<N>> };

interface RunState {
  exitCode: ExitCodeValue;
  /** --metrics: where the run's series go, and the series the command recorded (null: it did not complete). */
  metrics: { target: MetricsTarget; families: MetricFamily[] | null } | null;
  commandName: string;
  output: Output | null;
  /** With --json, what commander would print on stdout (help, the version): it goes into the one document instead. */
  captured: string | null;
  /** Why the run failed (exit 2 and above), for GitHub's annotation and job summary. */
  failure?: { exitCode: number; message: string; hint: string | null };
}

export interface MainIo {
  processEnv: Environment;
  cwd: string;
  /** Replaces command handlers (tests that pin the flags each command receives). */
  actions?: Partial<{ [N in CommandName]: () => Promise<Action<N>> }>;
}

export function buildCli(state: RunState, io: MainIo): Command {
  const program = new Command('lmnr-keys')
    .description('Diagnose, rotate and verify the secrets self-hosted Laminar stores encrypted in Postgres.')
    .version(version, '-V, --version')
    .option('--database-url <url>', "Laminar's Postgres URL (default: DATABASE_URL, DATABASE_* parts, or POSTGRES_* of Laminar's .env)")
    .option(
      '--env-file <path>',
      'read variables from this file (repeatable; default ./.env when present; the environment wins)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--debug', 'explain what is happening on stderr (never secrets)')
    .option('--no-color', 'no colours')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `${EXIT_CODE_HELP}

Examples:
  $ lmnr-keys demo
  $ lmnr-keys doctor --env-file ~/lmnr/.env --database-url postgres://postgres:PASSWORD@localhost:5433/postgres
  $ lmnr-keys rotate --from laminar-default --to env:NEW_AEAD_SECRET_KEY --dry-run
  $ lmnr-keys verify-provider --json`,
    )
    .exitOverride();
  const writeOut = (text: string) => {
    if (state.captured !== null) state.captured += text;
    else {
      // Help and version, before any output exists: straight to file descriptor 1, as every result.
      const sink = fdTextSink(1, () => {});
      sink.write(text);
      sink.flush();
    }
  };
  program.configureOutput({ writeOut });

  const loaders = { ...actions, ...io.actions } as Record<
    CommandName,
    () => Promise<(ctx: CommandContext, flags: unknown, args: unknown) => Promise<ExitCodeValue>>
  >;
  for (const name of Object.keys(definitions) as CommandName[]) {
    const command = definitions[name]() as unknown as Command<unknown[]>;
    command
      .exitOverride()
      .configureOutput({ writeOut })
      .showHelpAfterError('(run with --help for usage)')
      .action(async (...actionArgs: unknown[]) => {
        const self = actionArgs[actionArgs.length - 1] as Command<unknown[]>;
        const flags = actionArgs[actionArgs.length - 2];
        const positionals = actionArgs.slice(0, -2);
        const globals = self.optsWithGlobals() as {
          databaseUrl?: string;
          envFile?: string[];
          json?: boolean;
          debug?: boolean;
          color?: boolean;
        };
        const global: GlobalOptions = {
          ...(globals.databaseUrl !== undefined ? { databaseUrl: globals.databaseUrl } : {}),
          envFile: globals.envFile ?? [],
          json: Boolean(globals.json),
          debug: Boolean(globals.debug),
          color: globals.color !== false && !io.processEnv.NO_COLOR,
        };
        // Stacks under --debug name the compiled modules rather than the bundle's chunks (scripts/bundle.mjs).
        if (global.debug) process.setSourceMapsEnabled(true);
        const ci = io.processEnv.CI === 'true' || io.processEnv.CI === '1';
        // --json-out FILE (doctor, verify-provider, check-deployment): the document to FILE, the human report to stdout.
        const jsonOut = (flags as { jsonOut?: string }).jsonOut;
        if (jsonOut !== undefined && global.json)
          throw new UsageError(
            '--json-out and --json both ask for the JSON document',
            'use --json-out FILE (the human report stays on stdout), or --json > FILE',
          );
        const output = createOutput({
          json: global.json,
          debug: global.debug,
          color: global.color && tty.isatty(1),
          ci,
          ...(jsonOut !== undefined ? { jsonOut: { path: path.resolve(io.cwd, jsonOut) } } : {}),
        });
        state.output = output;
        state.commandName = name;
        const metricsFlag = (flags as { metrics?: string }).metrics;
        if (metricsFlag !== undefined) {
          const { prepareMetricsFile } = await import('./commands/metrics-file.js');
          state.metrics = { target: prepareMetricsFile(io.cwd, metricsFlag, name as MetricsCommand), families: null };
        }
        const ctx = createContext(global, output, {
          ...processContextIo(io.processEnv, io.cwd),
          recordMetrics: (families) => {
            if (state.metrics) state.metrics.families = families;
          },
        });
        setLeaveAnnouncer((signal, note) => {
          const what = describeSignal(signal);
          output.note(note ?? `${what} before anything was written; run the same command again`);
          if (output.documentWanted)
            output.jsonError(name as DocumentCommand, documentError(exitCodeForSignal(signal), what, 'run the same command again'));
          output.flush();
        });
        const stopHandlingSignals = handleStopSignals();
        try {
          const action = await loaders[name]();
          state.exitCode = await action(ctx, flags, positionals);
        } finally {
          stopHandlingSignals();
        }
      });
    program.addCommand(command as unknown as Command);
  }
  return program;
}

/**
 * Memory is bounded by the program, not by the operator's command line: V8 grows its young
 * generation (to 32 MB on 64-bit) when objects survive collections, which every batched write
 * does (a batch lives across its round trips to Postgres), and what it then promotes grows the
 * old generation too. Kept at its first size, peak RSS drops by 15 to 40 MB with no loss of speed
 * (docs/performance.md: measured with and without). Set before anything is allocated in bulk.
 */
function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/** Runs the CLI and returns the exit code. The bin is the only caller of process.exit. */
export async function main(argv: string[], io: MainIo = { processEnv: readProcessEnvironment(), cwd: process.cwd() }): Promise<number> {
  keepYoungGenerationSmall();
  const state: RunState = {
    exitCode: ExitCode.healthy,
    commandName: 'lmnr-keys',
    output: null,
    captured: argv.includes('--json') ? '' : null,
    metrics: null,
  };
  const program = buildCli(state, io);
  let exitCode: number;
  try {
    await program.parseAsync(argv);
    exitCode = state.exitCode;
  } catch (error) {
    exitCode = reportError(error, state, argv);
  }
  // A flag commander refused (exit 2) stopped the run before its action: its metrics are still owed.
  if (!state.metrics && exitCode === ExitCode.usage) state.metrics = await metricsNamedIn(argv, io.cwd);
  if (state.metrics) exitCode = await writeRunMetrics(state, exitCode);
  if (state.failure && exitCode >= ExitCode.usage) await tellGithub(state, io.processEnv, argv);
  state.output?.flush();
  state.output?.close();
  // A result that could not be delivered (stdout failed: a full disk under `> file`) is a local environment problem.
  if (state.output?.stdoutFailure && exitCode < ExitCode.configuration) return ExitCode.configuration;
  return exitCode;
}

const METRICS_COMMANDS: readonly string[] = ['doctor', 'verify-provider', 'check-deployment'] satisfies MetricsCommand[];

/** --metrics FILE of a command line commander refused, when it names one (best effort: nothing when it cannot). */
async function metricsNamedIn(argv: string[], cwd: string): Promise<RunState['metrics']> {
  const command = commandNamedIn(argv);
  if (!METRICS_COMMANDS.includes(command)) return null;
  const at = argv.findIndex((word) => word === '--metrics' || word.startsWith('--metrics='));
  const given = at < 0 ? undefined : argv[at]!.startsWith('--metrics=') ? argv[at]!.slice('--metrics='.length) : argv[at + 1];
  if (!given || given.startsWith('-')) return null;
  try {
    const { prepareMetricsFile } = await import('./commands/metrics-file.js');
    return { target: prepareMetricsFile(cwd, given, command as MetricsCommand), families: null };
  } catch {
    return null;
  }
}

/**
 * In GitHub Actions, a run that could not complete says so where a reader of the run's page looks:
 * an error annotation, and for the checks a job summary (whose absence would read as "nothing
 * to see").
 */
async function tellGithub(state: RunState, env: Environment, argv: string[]): Promise<void> {
  const failure = state.failure!;
  const command = state.commandName === 'lmnr-keys' ? commandNamedIn(argv) : state.commandName;
  const output = state.output ?? createOutput({ json: false, debug: false, color: false, ci: true });
  const { escapeAnnotation } = await import('./report/verify.js');
  if (env.GITHUB_ACTIONS === 'true') output.note(`::error title=lmnr-keys ${command}::${escapeAnnotation(failure.message)}`);
  const file = env.GITHUB_STEP_SUMMARY;
  if (!file || !METRICS_COMMANDS.includes(command)) return;
  const { renderFailedRunSummary } = await import('./report/step-summary.js');
  try {
    (await import('node:fs')).appendFileSync(file, output.redactor.apply(renderFailedRunSummary(command, failure)));
  } catch {
    // A courtesy: the run's own error is already reported.
  }
}

/** --metrics, after the run: its series, failed runs included; a file that cannot be written is exit 3. */
async function writeRunMetrics(state: RunState, exitCode: number): Promise<number> {
  const { target, families } = state.metrics!;
  const { writeMetricsFile } = await import('./commands/metrics-file.js');
  try {
    writeMetricsFile(target, families, exitCode, Date.now() / 1000);
    return exitCode;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    const output = state.output ?? createOutput({ json: false, debug: false, color: false, ci: true });
    output.note(`${output.color.red('error:')} ${error.message}`);
    if (error.hint) output.note(`hint: ${error.hint}`);
    return Math.max(exitCode, ExitCode.configuration);
  }
}

function reportError(error: unknown, state: RunState, argv: string[]): number {
  const jsonMode = state.output?.jsonMode ?? argv.includes('--json');
  const output = state.output ?? createOutput({ json: jsonMode, debug: argv.includes('--debug'), color: false, ci: true });
  const command = (state.commandName === 'lmnr-keys' ? commandNamedIn(argv) : state.commandName) as DocumentCommand;
  const fail = (exitCode: number, message: string, hint: string | null, details: Record<string, unknown> = {}) => {
    state.failure = { exitCode, message, hint };
    if (jsonMode || output.documentWanted) {
      try {
        output.jsonError(command, documentError(exitCode, message, hint, details));
      } catch (error) {
        // --json-out's file could not take the error document either (the disk that failed the run).
        if (!(error instanceof CliError)) throw error;
        output.note(`${output.color.red('error:')} ${error.message}`);
      }
    }
    output.flush();
    return exitCode;
  };
  if (error instanceof CommanderError) {
    // `--help`, `help` and `help COMMAND` (commander.help with exit code 0; without a command it is 1) and `--version`.
    const helpAsked = error.code === 'commander.helpDisplayed' || (error.code === 'commander.help' && error.exitCode === 0);
    if (helpAsked || error.code === 'commander.version') {
      const text = (state.captured ?? '').trim();
      if (jsonMode) output.json(documentOf(command, true, error.code === 'commander.version' ? { lmnrKeys: text } : { help: text }));
      output.flush();
      return 0;
    }
    // No command given: commander printed the help on stderr. A usage error, not a success a script could mistake.
    if (error.code === 'commander.help') return fail(ExitCode.usage, 'no command given', 'run lmnr-keys --help for the commands');
    // commander already printed its one-line message on stderr.
    return fail(ExitCode.usage, error.message.replace(/^error: /, ''), null);
  }
  if (error instanceof CliError) {
    output.note(`${output.color.red('error:')} ${error.message}`);
    if (error.hint) output.note(`hint: ${error.hint}`);
    if (error.cause) output.debug(`cause: ${describeCause(error.cause)}`);
    output.debug(error.stack ?? '');
    return fail(error.exitCode, error.message, error.hint ?? null, error.details);
  }
  output.note(`internal error: ${error instanceof Error ? error.message : String(error)}`);
  output.note('This is a bug in lmnr-keys; please report it with the output of --debug (it never contains secrets).');
  output.debug(error instanceof Error ? (error.stack ?? '') : '');
  return fail(ExitCode.problemsFound, 'internal error', null);
}

/** The command a run named, for the error document of a run that failed before its action started (a bad flag). */
function commandNamedIn(argv: string[]): string {
  return argv.slice(2).find((word): word is CommandName => Object.hasOwn(definitions, word)) ?? 'lmnr-keys';
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: string }).code;
  return `${cause.name}${code ? ` [${code}]` : ''}: ${cause.message.split('\n')[0]}`;
}
