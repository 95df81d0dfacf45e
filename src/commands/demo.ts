/**
 * `lmnr-keys demo`: the whole tool on a throwaway Laminar database, narrated with the real
 * commands' real output (each step runs this very bin as a child process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandContext } from '../context.js';
import { describeSignal, exitCodeForSignal, stoppableBy, type StopSignal } from '../interrupt.js';
import { readProcessEnvironment } from '../config/environment.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { documentError, documentOf } from '../report/document.js';
import type { FlagsOf } from './definitions.js';
import { loadCipher } from '../crypto/aead.js';
import { LAMINAR_DEFAULT_KEY_HEX } from '../crypto/keys.js';
import { openDatabase } from '../db/connect.js';
import { sql } from 'kysely';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../demo/postgres.js';
import { seedBrokenPlatform, seedProviderShowcase, type DemoKeys } from '../demo/seed.js';
import { startProviderImitation, type ImitationServer } from '../demo/provider-imitation.js';
import { writeDemoDeployment } from '../demo/deployment.js';
import { packageRoot } from '../package-root.js';

const BIN = path.join(packageRoot(), 'bin/lmnr-keys.js');

interface Step {
  say: string;
  args: string[];
  expect: number;
  database?: 'platform' | 'providers';
  /** Run in this folder (shown as `cd` in the transcript). */
  cwd?: string;
  /** Without the keys in the environment: the step reads them where Laminar does. */
  withoutKeys?: boolean;
}

export async function demoCommand(ctx: CommandContext, flags: FlagsOf<'demo'>): Promise<ExitCodeValue> {
  const { output } = ctx;
  const c = output.color;
  const started = Date.now();
  // With --json the story goes to stderr and stdout carries one document: the steps and their exit codes.
  const say = (text: string) => (output.jsonMode ? output.note(text) : output.result(text));
  const ran: Array<{ command: string; exitCode: number | null; expected: number }> = [];
  let server: ThrowawayPostgres | null = null;
  let imitation: ImitationServer | null = null;
  let child: ChildProcess | null = null;
  const cleanUp = async () => {
    child?.kill('SIGKILL');
    await imitation?.close();
    await server?.stop();
  };
  let interrupted: StopSignal | null = null;
  let wakeKeeper: () => void = () => {};
  // The first stop request (Ctrl-C, SIGTERM, SIGHUP) cleans up before leaving; a second leaves at once.
  const onSignal = (signal: StopSignal) => {
    interrupted = signal;
    output.note(`${describeSignal(signal)}: stopping the demo database and removing its folder`);
    child?.kill('SIGKILL');
    wakeKeeper();
  };
  const { value, stoppedBy } = await stoppableBy(onSignal, async (): Promise<ExitCodeValue> => {
    try {
      // The banner once the server runs: a missing optional dependency is then the only line.
      server = await startThrowawayPostgres({ note: (message) => output.note(c.yellow(message)), label: 'lmnr-keys-demo-' });
      say(c.bold('lmnr-keys demo: a broken self-hosted Laminar, diagnosed and repaired on a throwaway Postgres'));
      await loadCipher();
      const keys: DemoKeys = {
        current: randomBytes(32),
        slack: randomBytes(32),
        lost: randomBytes(32),
        publicDefault: Buffer.from(LAMINAR_DEFAULT_KEY_HEX, 'hex'),
      };
      const admin = await openDatabase({
        connectionString: server.urlFor('postgres'),
        host: server.host,
        port: server.port,
        database: 'postgres',
        user: 'postgres',
        source: 'demo',
      });
      await sql`create database laminar`.execute(admin.db);
      await sql`create database laminar_providers`.execute(admin.db);
      await admin.close();
      const target = (database: string) => ({
        connectionString: server!.urlFor(database),
        host: server!.host,
        port: server!.port,
        database,
        user: 'postgres',
        source: 'demo',
      });
      const platform = await openDatabase(target('laminar'));
      const { supportBot } = await seedBrokenPlatform(platform.db, keys);
      await platform.close();
      const providers = await openDatabase(target('laminar_providers'));
      await seedProviderShowcase(providers.db, keys);
      await providers.close();
      imitation = await startProviderImitation();

      const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
      const env = {
        AEAD_SECRET_KEY: hex(keys.current),
        SLACK_ENCRYPTION_KEY: hex(keys.slack),
        DEMO_NEW_OPENAI_KEY: `sk-proj-demo-${randomBytes(12).toString('hex')}`,
      };
      for (const value of [...Object.values(env), server.password]) output.redactor.add(value);
      const backup = (name: string) => path.join(server!.folder, name);
      const deployment = writeDemoDeployment(server.folder, { aead: env.AEAD_SECRET_KEY, slack: env.SLACK_ENCRYPTION_KEY });
      say(
        `\nSeeded Laminar's tables in a Postgres 16 at ${server.host}:${server.port} (${c.dim(server.folder)}):\n` +
          "  two workspaces, three projects; keys sealed under the current key, under Laminar's public default key\n" +
          '  (saved before AEAD_SECRET_KEY was changed), under a key nobody kept; a malformed value; a duplicate name;\n' +
          '  a Slack token sealed with AEAD_SECRET_KEY instead of SLACK_ENCRYPTION_KEY; a hybrid deployment.',
      );
      const steps: Step[] = [
        {
          say: 'The playground says "Failed to decode api_key GEMINI_API_KEY". Which keys are broken, and why?',
          args: ['doctor'],
          expect: 1,
        },
        {
          say: 'Most were sealed with the public default key. Plan re-sealing them under the current key:',
          args: ['rotate', '--from', 'laminar-default', '--to', 'env:AEAD_SECRET_KEY', '--dry-run'],
          expect: 1,
        },
        {
          say: 'Do it (a backup of the old ciphertext is written first; --yes because no one is here to confirm):',
          args: ['rotate', '--from', 'laminar-default', '--to', 'env:AEAD_SECRET_KEY', '--yes', '--backup', backup('rotate.jsonl')],
          expect: 1,
        },
        {
          say: 'The Slack token opens with AEAD_SECRET_KEY: re-seal it under SLACK_ENCRYPTION_KEY.',
          args: [
            'rotate',
            '--store',
            'slack_integrations',
            '--from',
            'env:AEAD_SECRET_KEY',
            '--to',
            'env:SLACK_ENCRYPTION_KEY',
            '--yes',
            '--backup',
            backup('slack.jsonl'),
          ],
          expect: 0,
        },
        { say: 'Doctor again: only what no available key opens remains.', args: ['doctor'], expect: 1 },
        {
          say: 'Take those out (rows deleted after a 0600 backup; `lmnr-keys restore` can put them back):',
          args: ['quarantine', '--yes', '--backup', backup('quarantine.jsonl')],
          expect: 0,
        },
        {
          say: 'Fix the duplicate OPENAI_API_KEY: replace both rows with one fresh value (what "delete and re-add" did in the UI):',
          args: [
            'set',
            '--project',
            supportBot,
            '--name',
            'OPENAI_API_KEY',
            '--value',
            'env:DEMO_NEW_OPENAI_KEY',
            '--yes',
            '--backup',
            backup('set.jsonl'),
          ],
          expect: 0,
        },
        { say: 'Doctor: healthy.', args: ['doctor'], expect: 0 },
        {
          say:
            "The stored values are right; is every Laminar service running with that key? In Laminar's folder " +
            '(compose file, .env, and what `docker inspect` says of the running containers):',
          args: ['check-deployment', '--containers', 'containers.json'],
          expect: 1,
          cwd: deployment.folder,
          withoutKeys: true,
        },
        {
          say: 'After `docker compose up -d --force-recreate frontend` (here: the containers as docker inspect shows them afterwards):',
          args: ['check-deployment', '--containers', 'containers-recreated.json'],
          expect: 0,
          cwd: deployment.folder,
          withoutKeys: true,
        },
        {
          say: 'Decoding works; do the providers accept the keys? verify-provider against a local imitation of OpenAI and Anthropic:',
          args: [
            'verify-provider',
            '--base-url',
            `openai=${imitation.url}/openai`,
            '--base-url',
            `anthropic=${imitation.url}/anthropic`,
            '--max-retry-wait',
            '100',
          ],
          expect: 1,
          database: 'providers',
        },
      ];
      for (const step of steps) {
        const cd = step.cwd ? `cd ${displayArg(server.folder)(step.cwd)} && ` : '';
        say(`\n${c.bold.cyan('# ' + step.say)}\n${c.bold(`$ ${cd}lmnr-keys ` + step.args.map(displayArg(server.folder)).join(' '))}`);
        const databaseUrl = server.urlFor(step.database === 'providers' ? 'laminar_providers' : 'laminar');
        const result = await runStep(
          step.args,
          { ...(step.withoutKeys ? {} : env), DATABASE_URL: databaseUrl },
          output.color.level > 0,
          (p) => (child = p),
          step.cwd,
        );
        child = null;
        ran.push({
          command: `lmnr-keys ${step.args.map(displayArg(server.folder)).join(' ')}`,
          exitCode: result.code,
          expected: step.expect,
        });
        if (interrupted) return exitCodeForSignal(interrupted);
        if (result.stdout) say(result.stdout.trimEnd());
        if (result.stderr.trim()) say(c.dim(result.stderr.trimEnd()));
        say(c.dim(`(exit ${result.code})`));
        if (result.code !== step.expect) {
          output.note(
            c.red(
              `demo step failed: lmnr-keys ${step.args[0]} exited ${result.code}, expected ${step.expect}; this is a bug, please report it`,
            ),
          );
          if (output.jsonMode) output.json(documentOf('demo', false, { steps: ran }));
          return ExitCode.problemsFound;
        }
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      say(
        `\n${c.green.bold(`Demo finished in ${seconds} s.`)} On your own Laminar ` +
          `(from this folder, pointing at Laminar's .env):\n  ${c.cyan('npx lmnr-keys doctor --env-file ~/lmnr/.env')}`,
      );
      if (flags.keep) {
        const envFile = path.join(server.folder, 'demo.env');
        fs.writeFileSync(
          envFile,
          [
            `DATABASE_URL=${server.urlFor('laminar')}`,
            `AEAD_SECRET_KEY=${env.AEAD_SECRET_KEY}`,
            `SLACK_ENCRYPTION_KEY=${env.SLACK_ENCRYPTION_KEY}`,
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
        say(
          `\nThe demo database is still running at postgres://postgres@${server.host}:${server.port}/laminar ` +
            `(password and keys in the env file).\n` +
            `Try any command by hand, e.g.:\n  ${c.cyan(`npx lmnr-keys doctor --env-file ${envFile}`)}\n ` +
            ` ${c.cyan(`npx lmnr-keys gen-secret --out ${path.join(server.folder, 'new.key')}`)}\n ` +
            ` ${c.cyan(`npx lmnr-keys rotate --env-file ${envFile} --from env:AEAD_SECRET_KEY --to file:${path.join(server.folder, 'new.key')} --dry-run`)}\n` +
            `Press Ctrl-C to stop it and remove ${server.folder}.`,
        );
        await new Promise<void>((resolve) => (wakeKeeper = resolve)); // until Ctrl-C
        return exitCodeForSignal(interrupted ?? 'SIGINT');
      }
      if (output.jsonMode) output.json(documentOf('demo', true, { seconds: Number(seconds), steps: ran }));
      return ExitCode.healthy;
    } finally {
      await cleanUp();
    }
  });
  // Stopped by a signal: --json still owes its one document.
  if (stoppedBy && output.jsonMode && !output.jsonWritten)
    output.jsonError('demo', documentError(value, describeSignal(stoppedBy), 'run the demo again'));
  return value;
}

/** Shows paths inside the demo folder short. */
function displayArg(folder: string) {
  return (arg: string) => (arg.startsWith(folder) ? `$DEMO/${path.relative(folder, arg)}` : arg);
}

function runStep(
  args: string[],
  env: Record<string, string>,
  color: boolean,
  onSpawn: (child: ChildProcess) => void,
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--', BIN, ...args], {
      ...(cwd ? { cwd } : {}),
      env: { PATH: readProcessEnvironment().PATH ?? '', CI: 'true', ...(color ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' }), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onSpawn(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
