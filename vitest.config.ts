import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two test files at once even on a 2-core machine: integration tests spend most of their
    // time waiting on child processes and Postgres, and one worker (the default there, cores - 1)
    // left npm test near 6 minutes. Each file works in databases and folders of its own.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Some unit tests start the bin or npm: on a shared 2-core machine 5 s is not always enough.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
