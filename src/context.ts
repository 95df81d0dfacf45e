/**
 * What every command gets: output, configuration read once, and the helpers that turn
 * configuration into a database target, keys and values. The only way a command reads the
 * environment, env files, stdin or the working folder. Commands stay thin on top of it.
 */
import type { MetricFamily } from './report/metrics.js';
import {
  loadEnvironment,
  resolveBackupDirectory,
  resolveKeyDirectory,
  SECRET_VARIABLES,
  type Environment,
  type LoadedEnvironment,
} from './config/environment.js';
import { describeTarget, resolveDatabaseTarget, type DatabaseTarget } from './config/database-target.js';
import { describeTargetFully } from './report/target.js';
import {
  parseReference,
  readAllStdin,
  resolveKey,
  resolveValue,
  stdinTwice,
  type ReferenceIo,
  type ValueCleaning,
} from './config/references.js';
import { checkSecret, type SecretKey } from './crypto/keys.js';
import { ConfigError } from './errors.js';
import type { LaminarSecrets } from './core/keyring.js';
import type { Output } from './report/output.js';

export interface GlobalOptions {
  databaseUrl?: string;
  envFile: string[];
  json: boolean;
  debug: boolean;
  color: boolean;
}

export interface CommandContext {
  output: Output;
  global: GlobalOptions;
  /** GITHUB_ACTIONS=true: also print workflow annotations. */
  githubActions: boolean;
  /** $GITHUB_STEP_SUMMARY: the file the checks append their Markdown summary to (null: none). */
  stepSummaryFile: string | null;
  stdinIsTerminal: boolean;
  /** The working folder relative paths are resolved against. */
  cwd: string;
  /** The process environment alone, no env file: what `docker compose` run from this shell would see. */
  shellEnvironment: Environment;
  /** All of stdin, for input piped in whole (docker inspect JSON, manifests, a key); the run's one stdin reader. */
  readStdin: () => Promise<string>;
  environment: () => LoadedEnvironment;
  /**
   * Where to connect, said on stderr (host:port/db as user, and where it came from; `announce:
   * false` for writes, which say it as "Writing to"), with a note when the environment overrides
   * the database an --env-file would give, whatever form the file gives it in.
   */
  databaseTarget: (options?: { announce?: boolean }) => DatabaseTarget;
  /** Both Laminar keys, checked. */
  laminarSecrets: () => LaminarSecrets;
  /** The default backup folder (from the process environment only, never from env files). */
  backupDirectory: () => { path: string; explicit: boolean };
  /** Where the rotate runbook proposes to keep an old key ($LMNR_KEYS_KEY_DIR, else the state folder's keys/). */
  keyFolder: () => string;
  /** Resolves key references (--from, --to, --candidate); stdin is read by one reference per run at most. */
  resolveKeys: (refs: Array<{ text: string; flag: string }>) => Promise<SecretKey[]>;
  /**
   * Resolves a provider value reference (--value, --key): env:NAME, file:PATH or -. Cleaned
   * unless `raw` (saying on stderr what cleaning removed, and returning it).
   */
  resolveValue: (text: string, flag: string, raw?: boolean) => Promise<{ value: string; cleaned: ValueCleaning[] }>;
  /** The run's Prometheus series (doctor, verify-provider, check-deployment), written by --metrics when the run ends. */
  recordMetrics: (families: MetricFamily[]) => void;
}

export interface ContextIo {
  processEnv: Environment;
  cwd: string;
  stdinIsTerminal: boolean;
  readStdin: () => Promise<string>;
  /** Where recordMetrics keeps the series (the entry point, which writes --metrics); none: dropped. */
  recordMetrics?: (families: MetricFamily[]) => void;
}

export function createContext(global: GlobalOptions, output: Output, io: ContextIo): CommandContext {
  let loaded: LoadedEnvironment | undefined;
  const environment = () => {
    if (!loaded) {
      loaded = loadEnvironment({ processEnv: io.processEnv, envFiles: global.envFile, cwd: io.cwd });
      for (const file of loaded.filesRead) output.debug(`read env file ${file}`);
      for (const { name, file, fileValue } of loaded.overridden) {
        if (SECRET_VARIABLES.includes(name)) output.redactor.add(fileValue.trim(), { password: name.endsWith('PASSWORD') });
        const check = (text: string) => checkSecret(name, text).fingerprint;
        const fingerprints =
          name === 'AEAD_SECRET_KEY' || name === 'SLACK_ENCRYPTION_KEY'
            ? ` (fingerprint ${check(loaded.env[name] ?? '') ?? 'invalid'} here, ${check(fileValue) ?? 'invalid'} in ${file})`
            : '';
        output.note(
          output.color.yellow(
            `note: ${name} set in this shell wins over ${file}, and they differ${fingerprints}: unset it in the shell if ${file} is right`,
          ),
        );
      }
      for (const { file, name } of loaded.readDifferently) {
        output.note(
          output.color.yellow(
            `note: ${file}: ${name} is read as Docker Compose reads it (an unquoted ` +
              `# or $ in the value); dotenv-based tools would read another value`,
          ),
        );
      }
      // Register every secret-holding variable so an accidental echo is caught by the redactor.
      for (const name of SECRET_VARIABLES) output.redactor.add(loaded.env[name]?.trim(), { password: name.endsWith('PASSWORD') });
    }
    return loaded;
  };
  let stdinRead = false;
  const readStdinOnce = async () => {
    if (stdinRead) throw stdinTwice();
    stdinRead = true;
    return io.readStdin();
  };
  const referenceIo = (): ReferenceIo => ({
    env: environment().env,
    cwd: io.cwd,
    readStdin: readStdinOnce,
    warn: (message) => output.note(output.color.yellow(message)),
  });
  const rememberKey = (key: SecretKey) => output.redactor.add(Buffer.from(key.bytes).toString('hex'));
  const positions = new Map<string, number>();
  return {
    output,
    global,
    recordMetrics: io.recordMetrics ?? (() => {}),
    githubActions: io.processEnv.GITHUB_ACTIONS === 'true',
    stepSummaryFile: io.processEnv.GITHUB_STEP_SUMMARY || null,
    stdinIsTerminal: io.stdinIsTerminal,
    cwd: io.cwd,
    shellEnvironment: io.processEnv,
    readStdin: readStdinOnce,
    environment,
    databaseTarget: (options = {}) => {
      const loaded = environment();
      const target = resolveDatabaseTarget(loaded.env, global.databaseUrl, loaded.origins);
      const url = new URL(target.connectionString);
      output.redactor.add(decodeURIComponent(url.password), { password: true });
      output.redactor.add(url.password, { password: true });
      if (options.announce !== false) output.note(`Reading ${describeTargetFully(target)}`);
      // A shell's DATABASE_URL (or DATABASE_*, POSTGRES_*) beats what the env files say: say so when they differ.
      if (global.databaseUrl === undefined && loaded.filesRead.length > 0) {
        let fromFiles: DatabaseTarget | null = null;
        try {
          fromFiles = resolveDatabaseTarget(loaded.filesOnly, undefined, loaded.filesOnlyOrigins);
        } catch {
          fromFiles = null;
        }
        const where = (t: DatabaseTarget) => `${describeTarget(t)} as ${t.user}`;
        if (fromFiles !== null && where(fromFiles) !== where(target))
          output.note(
            output.color.yellow(
              `note: the environment wins: ${where(target)} (${target.source}), not ${where(fromFiles)} ` +
                `(${fromFiles.source}); unset it in this shell if the env file is right`,
            ),
          );
      }
      return target;
    },
    laminarSecrets: () => {
      const env = environment().env;
      const aead = checkSecret('AEAD_SECRET_KEY', env.AEAD_SECRET_KEY);
      const slack = checkSecret('SLACK_ENCRYPTION_KEY', env.SLACK_ENCRYPTION_KEY);
      for (const check of [aead, slack]) if (check.key) rememberKey(check.key);
      return { aead, slack };
    },
    backupDirectory: () => resolveBackupDirectory(io.processEnv),
    keyFolder: () => resolveKeyDirectory(io.processEnv),
    resolveKeys: async (refs) => {
      const parsed = refs.map(({ text, flag }) => {
        const position = (positions.get(flag) ?? 0) + 1;
        positions.set(flag, position);
        return parseReference(text, flag, position, 'key');
      });
      if (parsed.filter((ref) => ref.kind === 'stdin').length > 1) throw stdinTwice();
      const keys: SecretKey[] = [];
      for (const ref of parsed) {
        const key = await resolveKey(ref, referenceIo());
        rememberKey(key);
        keys.push(key);
      }
      return keys;
    },
    resolveValue: async (text, flag, raw = false) => {
      const resolved = await resolveValue(parseReference(text, flag, 1, 'value'), referenceIo(), raw);
      output.redactor.add(resolved.value);
      if (resolved.cleaned.length > 0)
        output.note(
          output.color.yellow(
            `note: ${flag} was cleaned before use (${resolved.cleaned.join(', ')} removed)` +
              (flag === '--value' ? "; Laminar's own UI stores exactly what it is given: --raw stores the value as it is" : ''),
          ),
        );
      return resolved;
    },
  };
}

/** The process's own IO, for the entry point. */
export function processContextIo(processEnv: Environment, cwd: string): ContextIo {
  return { processEnv, cwd, stdinIsTerminal: Boolean(process.stdin.isTTY), readStdin: readAllStdin };
}

/** Missing or invalid AEAD_SECRET_KEY stops every command that needs it, with the fix. */
export function requireAeadKey(secrets: LaminarSecrets): SecretKey {
  const { aead } = secrets;
  if (aead.key) return aead.key;
  throw new ConfigError(
    aead.problem ?? 'AEAD_SECRET_KEY is not usable',
    aead.status === 'missing'
      ? 'set AEAD_SECRET_KEY to the value Laminar runs with (e.g. --env-file path/to/laminar/.env)'
      : 'it must be exactly 64 hex characters, the same value Laminar runs with',
  );
}
