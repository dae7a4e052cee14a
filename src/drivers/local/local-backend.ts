import type { Logger } from 'pino';
import type { Config } from '../../config/config-schema.js';
import type { Database } from '../../db/database.js';
import { edgeFiles } from '../../edge/edge-files.js';
import { deleteEdgeRoute, edgeRouteUrl, upsertEdgeRoute } from '../../edge/edge-route-store.js';
import { createUpstreamObserver } from '../../edge/edge-upstream.js';
import type { LocalCa } from '../../edge/local-ca.js';
import type { MetricsSources } from '../../metrics/metrics-role.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { readThemeArchive } from '../../themes/theme-store.js';
import { desiredInstancesIn } from '../desired-instance.js';
import { observeInstances } from '../instance-observer.js';
import {
  catalogKeycloakVersions,
  checkPrerequisites,
  createKeycloakDistributions,
} from './keycloak-distribution.js';
import {
  createLocalDriver,
  type EdgeRoutes,
  type LocalDriver,
  type LocalDriverTestFaults,
} from './local-driver.js';
import { superviseLocalInstances, type Supervisor } from './supervisor.js';

/**
 * The local backend, as a worker runs it when the configuration has a region with `driver: local`: the local
 * driver with its edge routes, the Keycloak distributions of the catalog (prepared in the background), the
 * supervisor that restarts dead Keycloak processes, and the observer of conditions and storage usage. Fails at
 * start-up, with what to install, when this host cannot run Keycloak — not in the middle of an order.
 */
export type LocalBackend = {
  driver: LocalDriver;
  supervisor: Supervisor;
  /** What Prometheus scrapes of this backend's instances (src/metrics/metrics-role.ts). */
  metricsSources: MetricsSources;
  stop(): Promise<void>;
};

export async function startLocalBackend(options: {
  config: Config;
  db: Database;
  /** Superuser URL of the PostgreSQL server: instance databases and roles are created there. */
  adminDatabaseUrl: string;
  secretBox: SecretBox;
  /** The edge's CA: instance certificates chain to it, and the login check trusts it. */
  ca: LocalCa;
  logger: Logger;
  /** Interval of the supervisor and the observer. */
  superviseIntervalMs?: number;
  /** Tests share one built distribution across runs. */
  distributionCacheDir?: string;
  /** Only tests: see LocalDriverOptions.testFaults. */
  testFaults?: LocalDriverTestFaults;
}): Promise<LocalBackend> {
  const { config, db } = options;
  const logger = options.logger.child({ role: 'worker', backend: 'local' });

  const prerequisites = checkPrerequisites(config, { cacheDir: options.distributionCacheDir });
  if (!prerequisites.ok) throw new Error(prerequisites.message);
  for (const warning of prerequisites.warnings) logger.warn(warning);

  const distributions = createKeycloakDistributions({
    config,
    logger,
    cacheDir: options.distributionCacheDir,
  });
  // Made on first use: edgeFiles() creates the edge's directories, which a worker that never switches needs not.
  let upstreams: ReturnType<typeof createUpstreamObserver> | undefined;
  const observeUpstream = (instanceId: string, upstreamPort: number) =>
    (upstreams ??= createUpstreamObserver(edgeFiles(config.dataDir).masterSocket))(instanceId, upstreamPort);
  const edge: EdgeRoutes = {
    async ensureRoute(route) {
      const stored = await upsertEdgeRoute(
        db,
        {
          instanceId: route.instanceId,
          hostname: `${route.name}.${config.edge.publicHost}`,
          upstreamHost: '127.0.0.1',
          upstreamPort: route.upstreamPort,
          trustedSources: route.trustedSources,
          adminSources: route.adminSources,
          customHostname: route.customHostname,
        },
        { portRange: config.edge.portRange },
      );
      return { url: edgeRouteUrl(stored) };
    },
    async removeRoute(instanceId) {
      await deleteEdgeRoute(db, instanceId);
    },
    // The local region's upstreams are on loopback, so its edge is this host's HAProxy (same data dir).
    observeUpstream: (instanceId, upstreamPort) => observeUpstream(instanceId, upstreamPort),
    caPem: options.ca.certificatePem,
  };
  const driver = createLocalDriver({
    config,
    adminDatabaseUrl: options.adminDatabaseUrl,
    distributions,
    logger,
    edge,
    themeArchive: (instanceId, theme) => readThemeArchive(db.pool, instanceId, theme),
    testFaults: options.testFaults,
  });

  // Fetch and build every catalog version now, one after the other, so the first order does not wait for Maven,
  // then (by default) its schema template, so it does not wait for Keycloak's migrations either. Not awaited on
  // stop: a download in progress must not hold up a shutdown; the next start resumes it.
  void (async () => {
    for (const version of catalogKeycloakVersions(config)) {
      try {
        await distributions.get(version);
        if (!config.keycloak.schemaTemplatesAtStart) continue;
        await driver.prepareSchemaTemplate(version);
        logger.info({ version }, 'schema template ready');
      } catch (error) {
        logger.error({ err: error, version }, 'preparing Keycloak failed; orders of this version will retry');
      }
    }
  })();

  const localRegions = config.catalog.regions.filter((r) => r.driver === 'local').map((r) => r.id);
  const desiredInstances = () =>
    desiredInstancesIn({
      db: db.pool,
      catalog: config.catalog,
      secretBox: options.secretBox,
      regions: localRegions,
    });
  const intervalMs = options.superviseIntervalMs ?? 15_000;
  const supervisor = superviseLocalInstances({ driver, desiredInstances, logger, intervalMs });
  const observer = observeInstances({ driver, desiredInstances, db, logger, intervalMs });

  const metricsSources: MetricsSources = {
    async targets() {
      return (await desiredInstances()).flatMap((instance) => {
        const endpoint = driver.managementEndpoint(instance);
        return endpoint ? [{ instanceId: instance.instanceId, ...endpoint }] : [];
      });
    },
    async databaseSizes() {
      const sizes = [];
      for (const instance of await desiredInstances())
        sizes.push({ instanceId: instance.instanceId, bytes: await driver.databaseBytes(instance) });
      return sizes;
    },
  };

  return {
    driver,
    supervisor,
    metricsSources,
    async stop() {
      await observer.stop();
      await supervisor.stop();
    },
  };
}
