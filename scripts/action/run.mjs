// The action's run step (action.yml): its inputs arrive as environment variables, never in the
// script's text; `args` is split into one argument per line and handed to the bin as an array
// (no shell ever reads it). Adds --json-out (and --junit for verify-provider) unless given,
// writes the outputs to $GITHUB_OUTPUT (also when it refuses), and forgives exit 1 when
// fail-on-problems is false.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMANDS = ['doctor', 'verify-provider', 'check-deployment'];
const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', '..', 'bin', 'lmnr-keys.js');

/** The step's outputs, whatever happened: a later step reads exit-code even when this one failed. */
function writeOutputs(code, json, junit) {
  if (!process.env.GITHUB_OUTPUT) return;
  const line = (name, value) => {
    // A value with a line break would inject another output: never written.
    if (/[\r\n]/.test(value)) throw new Error(`the ${name} output holds a line break`);
    return `${name}=${value}\n`;
  };
  fs.appendFileSync(process.env.GITHUB_OUTPUT, line('exit-code', String(code)) + line('json', json) + line('junit', junit));
}

/** A refusal of the action itself (exit 2): one annotation, the outputs, and nothing run. */
function refuse(message) {
  console.log(`::error title=lmnr-keys::${message}`);
  writeOutputs(2, '', '');
  process.exit(2);
}

const command = (process.env.LMNR_KEYS_COMMAND ?? '').trim();
if (!COMMANDS.includes(command)) {
  refuse(`the command input must be one of ${COMMANDS.join(', ')} (got ${JSON.stringify(command.slice(0, 40))})`);
}
const args = (process.env.LMNR_KEYS_ARGS ?? '')
  .split(/\r?\n/)
  .map((line) => line.trim())
  .filter((line) => line !== '');
const given = (flag) => {
  const at = args.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
  if (at < 0) return null;
  return args[at].startsWith(`${flag}=`) ? args[at].slice(flag.length + 1) : (args[at + 1] ?? null);
};
if (args.includes('--json')) {
  refuse('leave --json out of args: the action writes the JSON document with --json-out (its json output)');
}
const folder = process.env.RUNNER_TEMP || os.tmpdir();
const id = `${command}-${randomBytes(4).toString('hex')}`;
const json = path.resolve(given('--json-out') ?? path.join(folder, `lmnr-keys-${id}.json`));
if (given('--json-out') === null) args.push('--json-out', json);
let junit = '';
if (command === 'verify-provider') {
  junit = path.resolve(given('--junit') ?? path.join(folder, `lmnr-keys-${id}.xml`));
  if (given('--junit') === null) args.push('--junit', junit);
}

const result = spawnSync(process.execPath, [bin, command, ...args], { stdio: 'inherit' });
const signals = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };
const code = result.status ?? (result.signal ? 128 + (signals[result.signal] ?? 0) : 1);

writeOutputs(code, fs.existsSync(json) ? json : '', junit && fs.existsSync(junit) ? junit : '');
const forgive = code === 1 && (process.env.LMNR_KEYS_FAIL_ON_PROBLEMS ?? 'true').trim().toLowerCase() === 'false';
process.exit(forgive ? 0 : code);
