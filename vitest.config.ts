import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL for the run (a throwaway cluster, or KMS_TEST_DATABASE_URL); each test makes its own database.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // One process per test file: SoftHSM reads SOFTHSM2_CONF once per process,
    // and every file brings its own throwaway token.
    pool: 'forks',
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
