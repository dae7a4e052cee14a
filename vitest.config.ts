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
    // Two files at a time: the API tests run beside the slow ones that wait for a real Keycloak.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      integration('embedded'),
      integration('external'),
      {
        // Kubernetes regions: a real kube-apiserver (test/support/kube-apiserver.ts) judges the driver's objects.
        extends: true,
        test: {
          name: 'kubernetes',
          include: ['test/kubernetes/**/*.test.ts'],
          // The driver tests run Keyhouse on a scratch database, and the stand-in operators' instance databases.
          globalSetup: ['test/support/global-setup.ts'],
          env: { KEYHOUSE_TEST_DATABASE: 'embedded' },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // End-to-end: the built portal in Debian's Chromium against a real Keyhouse on the embedded database.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts', 'test/e2e/build-portal.ts'],
          env: { KEYHOUSE_TEST_DATABASE: 'embedded' },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
