/** The throwaway Postgres 16 the test harness and the restart tests use: the demo's, with a URL-special password. */
import { randomBytes } from 'node:crypto';
import { freePort, startThrowawayPostgres, type ThrowawayPostgres } from '../../src/demo/postgres.js';

export { freePort };

export interface RunningPostgres {
  url: string;
  port: number;
  password: string;
  start: () => Promise<void>;
  stopServer: () => Promise<void>;
  stop: () => Promise<void>;
}

/** `persistent: true` keeps the data across stopServer()/start() (restart tests); stop() always removes it. */
export async function startEmbeddedPostgres(options: { persistent?: boolean } = {}): Promise<RunningPostgres> {
  // A password with URL-special characters, made at run time: exercises encoding, never on disk.
  const password = `pw@${randomBytes(6).toString('hex')}:/#`;
  const server: ThrowawayPostgres = await startThrowawayPostgres({
    note: (message) => console.warn(message),
    persistent: options.persistent ?? false,
    password,
  });
  return {
    url: server.urlFor('postgres'),
    port: server.port,
    password,
    start: server.start,
    stopServer: server.stopServer,
    stop: server.stop,
  };
}
