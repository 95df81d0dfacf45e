import fs from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, runCli } from '../support/cli.js';

const folderOf = (text: string) => /\((\/[^)]*lmnr-keys-(?:demo|pg)-[^)]+)\)/.exec(text)?.[1];
const portOf = (text: string) => Number(/at 127\.0\.0\.1:(\d+)/.exec(text)?.[1]);

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('lmnr-keys demo', () => {
  it('runs the whole story, exits 0 and removes its folder and server', async () => {
    const result = await runCli(['demo'], { timeoutMs: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/sealed with Laminar's public default key/);
    expect(out).toContain('$ lmnr-keys rotate --from laminar-default --to env:AEAD_SECRET_KEY --dry-run');
    expect(out).toMatch(/Rotation plan \(dry run: nothing written\)/);
    expect(out).toMatch(/\$ lmnr-keys quarantine --yes/);
    expect(out).toMatch(/Verdict: healthy/);
    expect(out).toMatch(/x stale_container {2}frontend \(container lmnr-frontend-1\) AEAD_SECRET_KEY/);
    expect(out).toContain('fix: docker compose up -d --force-recreate frontend');
    for (const status of ['cannot decrypt \\(nothing sent\\)', 'invalid key', 'quota exhausted', 'ok  '])
      expect(out).toMatch(new RegExp(status));
    expect(out).toMatch(/Demo finished in [\d.]+ s/);
    const folder = folderOf(out)!;
    expect(folder).toBeTruthy();
    expect(fs.existsSync(folder)).toBe(false);
    expect(await portOpen(portOf(out))).toBe(false);
  });

  it('--keep leaves the database running until Ctrl-C, then cleans up', async () => {
    const child = spawn(process.execPath, ['--', BIN, 'demo', '--keep'], {
      env: { PATH: process.env.PATH ?? '', CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !out.includes('Press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('Press Ctrl-C');
    const envFile = /--env-file (\S+demo\.env)/.exec(out)![1]!;
    expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    const doctor = await runCli(['doctor', '--env-file', envFile]);
    expect(doctor.code).toBe(0);
    child.kill('SIGINT');
    await exited;
    expect(fs.existsSync(folderOf(out)!)).toBe(false);
    expect(await portOpen(portOf(out))).toBe(false);
  });
});
