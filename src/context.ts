/**
 * What every command gets: output, configuration read once, and the helpers that turn
 * configuration into a database target and keys. Commands stay thin on top of it.
 */
import {
  describeTarget,
  loadEnvironment,
  parseSecretReference,
  readAllStdin,
  resolveDatabaseTarget,
  resolveSecretReferences,
  type DatabaseTarget,
  type Environment,
  type LoadedEnvironment,
  type SecretIo,
} from './config.js';
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
  stdinIsTerminal: boolean;
  environment: () => LoadedEnvironment;
  databaseTarget: () => DatabaseTarget;
  /** Both Laminar keys, checked. */
  laminarSecrets: () => LaminarSecrets;
  /** Resolves --candidate/--from/--to style references (label by flag). */
  resolveKeys: (texts: string[], flag: string) => Promise<SecretKey[]>;
}

export function createContext(global: GlobalOptions, output: Output, processEnv: Environment, cwd: string): CommandContext {
  let loaded: LoadedEnvironment | undefined;
  const environment = () => {
    if (!loaded) {
      loaded = loadEnvironment({ processEnv, envFiles: global.envFile, cwd });
      for (const file of loaded.filesRead) output.debug(`read env file ${file}`);
      // Register every key-like value so an accidental echo is caught by the redactor.
      for (const name of ['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY', 'DATABASE_PASSWORD', 'POSTGRES_PASSWORD']) {
        output.redactor.add(loaded.env[name]?.trim());
      }
    }
    return loaded;
  };
  const secretIo = (): SecretIo => ({
    env: environment().env,
    cwd,
    readStdin: readAllStdin,
    warn: (message) => output.note(output.color.yellow(message)),
  });
  return {
    output,
    global,
    githubActions: processEnv.GITHUB_ACTIONS === 'true',
    stdinIsTerminal: Boolean(process.stdin.isTTY),
    environment,
    databaseTarget: () => {
      const target = resolveDatabaseTarget(environment().env, global.databaseUrl);
      const url = new URL(target.connectionString);
      output.redactor.add(decodeURIComponent(url.password));
      output.redactor.add(url.password);
      output.debug(`database ${describeTarget(target)} as ${target.user} (from ${target.source})`);
      return target;
    },
    laminarSecrets: () => {
      const env = environment().env;
      const aead = checkSecret('AEAD_SECRET_KEY', env.AEAD_SECRET_KEY);
      const slack = checkSecret('SLACK_ENCRYPTION_KEY', env.SLACK_ENCRYPTION_KEY);
      for (const check of [aead, slack]) if (check.key) output.redactor.add(Buffer.from(check.key.bytes).toString('hex'));
      return { aead, slack };
    },
    resolveKeys: async (texts, flag) => {
      const refs = texts.map((text, index) => parseSecretReference(text, flag, index + 1));
      const keys = await resolveSecretReferences(refs, secretIo());
      for (const key of keys) output.redactor.add(Buffer.from(key.bytes).toString('hex'));
      return keys;
    },
  };
}

/** Missing or invalid AEAD_SECRET_KEY stops every command that needs it, with the fix. */
export function requireAeadKey(secrets: LaminarSecrets): SecretKey {
  const { aead } = secrets;
  if (aead.key) return aead.key;
  throw new ConfigError(
    aead.problem ?? 'AEAD_SECRET_KEY is not usable',
    aead.status === 'missing'
      ? "set AEAD_SECRET_KEY to the value Laminar runs with (e.g. --env-file path/to/laminar/.env)"
      : 'it must be exactly 64 hex characters, the same value Laminar runs with',
  );
}
