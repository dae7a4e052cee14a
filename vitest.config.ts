import { defineConfig } from 'vitest/config';

// Integration tests run twice: against the embedded PostgreSQL that Keyhouse starts itself, and against the external
// server of this machine (DATABASE_URL path). Each test file gets a scratch database of its own.
const integration = (database: 'embedded' | 'external') => ({
  extends: true as const,
  test: {
    name: `integration-${database}`,
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    env: { KEYHOUSE_TEST_DATABASE: database },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});

export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      integration('embedded'),
      integration('external'),
    ],
  },
});
