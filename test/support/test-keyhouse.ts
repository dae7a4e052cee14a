import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { createKeyhouse, type Keyhouse } from '../../src/app.js';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { LocalDriverTestFaults } from '../../src/drivers/local/local-driver.js';
import { prometheusFiles } from '../../src/metrics/prometheus-files.js';
import { stopPrometheus } from '../../src/metrics/prometheus-process.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort } from './edge-probes.js';
import { killEverythingUnder } from './process-tree.js';
import { createTestDatabase } from './test-database.js';

export type TestKeyhouse = Keyhouse & {
  /**
   * The scratch database's superuser URL: for tests that start parts of Keyhouse of their own beside it, and for
   * instance databases of the local driver, which live on the same server.
   */
  databaseUrl: string;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  stop(): Promise<void>;
};

/**
 * Where tests keep the built Keycloak distributions across runs and clones: outside the clone, filled by
 * `scripts/prepare-tests.sh` (part of `npm test`).
 */
export const testKeycloakCache =
  process.env.KEYHOUSE_TEST_KEYCLOAK_CACHE ?? '/var/tmp/keyhouse-test-keycloak';

/**
 * Roles api, worker and edge, the edge on loopback, and edge and Keycloak ports from a random base, so that test
 * files provisioning real Keycloaks side by side never share a port.
 */
export function provisioningOnLoopback(config: Config): void {
  config.roles = ['api', 'worker', 'edge'];
  config.edge.listenHost = '127.0.0.1';
  const base = 20000 + Math.floor(Math.random() * 20000);
  config.edge.portRange = { from: base, to: base + 20 };
  config.keycloak.portRange = { from: base + 100, to: base + 140 };
}

/**
 * An earlier patch release of the catalog's 26.5 for the test of a patch upgrade beside the running Keycloak
 * (zero-downtime.test.ts); not in the catalog customers order from, built into the cache with the catalog's.
 */
export const earlierPatchRelease = '26.5.5';

/**
 * A Keyhouse on a scratch database, driven through fastify's inject (no sockets). Only the API role runs unless
 * `adjust` asks for more (the provisioning tests add the worker and edge roles).
 */
export async function startTestKeyhouse(
  adjust: (config: Config) => void = () => undefined,
  options: {
    now?: () => Date;
    localDriverTestFaults?: LocalDriverTestFaults;
    kubernetesDriverOptions?: { pollSeconds?: number; upgradeReadyTimeoutMs?: number };
    backupSchedule?: boolean;
    mail?: Parameters<typeof createKeyhouse>[0]['mail'];
    /** Where the log goes (default: silent unless KEYHOUSE_TEST_LOG names a level). */
    logger?: Logger;
    /** Where the log lines go (at level info), for tests that read what Keyhouse logs. */
    logDestination?: DestinationStream;
  } = {},
): Promise<TestKeyhouse> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-'));
  const config = loadConfig({ DATA_DIR: dataDir });
  config.roles = ['api'];
  // A worker runs Prometheus and the exporter: ports of their own, so parallel test files never meet.
  config.metrics.prometheus.port = await freePort();
  config.metrics.exporterPort = await freePort();
  // The edge's plain-HTTP listener (ACME challenges, redirects) off port 80, likewise.
  config.edge.httpPort = await freePort();
  config.metrics.prometheus.scrapeIntervalSeconds = 2;
  adjust(config);
  const database = await createTestDatabase();
  const keyhouse = await createKeyhouse({
    config,
    databaseUrl: database.url,
    logger:
      options.logger ??
      (options.logDestination
        ? createLogger({ level: 'info', destination: options.logDestination })
        : createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' })),
    now: options.now,
    distributionCacheDir: testKeycloakCache,
    localDriverTestFaults: options.localDriverTestFaults,
    kubernetesDriverOptions: options.kubernetesDriverOptions,
    mail: options.mail,
    backupSchedule: options.backupSchedule,
  });
  return {
    ...keyhouse,
    databaseUrl: database.url,
    request: (options) => keyhouse.http.inject(options),
    async stop() {
      await keyhouse.close();
      // Detached like in production (it outlives Keyhouse); a test's Prometheus goes with its data dir.
      await stopPrometheus(prometheusFiles(dataDir));
      // HAProxy outlives Keyhouse by design; a test's data dir takes its HAProxy with it.
      await keyhouse.edge?.stopHaproxy();
      // And whatever else still runs from the data dir (an HAProxy the edge respawned after a test killed it).
      killEverythingUnder(dataDir);
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
