/** The bits every command shares: version, help, gen-secret, JSON errors. */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { runCli } from '../support/cli.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

describe('cli basics', () => {
  it('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
    // With --json, --version and --help are one JSON document too (the text on stdout would not parse).
    const json = await runCli(['--version', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ version: 1, command: 'lmnr-keys', ok: true, lmnrKeys: version });
    // `help` and `help COMMAND` are help asked for (exit 0), like --help; no command at all is a usage error.
    for (const args of [['help'], ['help', 'doctor']]) {
      const asked = await runCli(args);
      expect(asked.code, args.join(' ')).toBe(0);
      expect(asked.stdout).toMatch(/^Usage: lmnr-keys/);
    }
    expect((await runCli([])).code).toBe(2);
    const help = await runCli(['doctor', '--help', '--json']);
    expect(JSON.parse(help.stdout)).toMatchObject({ command: 'doctor', ok: true, help: expect.stringMatching(/^Usage: lmnr-keys doctor/) });
  });

  it('--help lists every command, and each command has examples', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    const commands = ['demo', 'doctor', 'rotate', 'restore', 'verify-provider', 'set', 'quarantine', 'gen-secret'];
    for (const command of commands) {
      expect(help.stdout).toContain(command);
      const own = await runCli([command, '--help']);
      expect(own.code, command).toBe(0);
      expect(own.stdout, command).toMatch(/Examples:\n\s+\$ (npx )?lmnr-keys /);
    }
    expect(help.stdout).toMatch(/Exit codes: 0 healthy/);
  });

  it('gen-secret prints a fresh 64-hex key (and its fingerprint on stderr); --json too', async () => {
    const a = await runCli(['gen-secret']);
    const b = await runCli(['gen-secret', '--json']);
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(a.stderr).toMatch(/fingerprint [0-9a-f]{8}/);
    const doc = JSON.parse(b.stdout);
    expect(doc).toMatchObject({
      version: 1,
      command: 'gen-secret',
      ok: true,
      key: expect.stringMatching(/^[0-9a-f]{64}$/),
      fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
    });
    expect(doc.key).not.toBe(a.stdout.trim());
  });

  it('an unknown command or flag is a usage error (exit 2); with --json the error is one JSON document', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    const result = await runCli(['doctor', '--json', '--nope']);
    expect(result.code).toBe(2);
    // The document names the command the run asked for, though its action never started.
    expect(JSON.parse(result.stdout)).toMatchObject({ command: 'doctor', ok: false, error: { exitCode: 2 } });
  });
});
