import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import type { Database } from '../db/database.js';
import type { DesiredInstance } from '../drivers/driver.js';
import {
  catalogKeycloakVersions,
  checkPrerequisites,
  createKeycloakDistributions,
} from '../drivers/keycloak-distribution.js';
import {
  createLocalDriver,
  superviseLocalInstances,
  type EdgeRoutes,
  type LocalDriver,
  type LocalDriverTestFaults,
} from '../drivers/local-driver.js';
import { deleteEdgeRoute, edgeRouteUrl, upsertEdgeRoute } from '../edge/edge-route-store.js';
import type { LocalCa } from '../edge/local-ca.js';
import { listInstancesToRun, updateInstanceRuntime } from '../instances/instance-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import { openInstanceSecrets } from '../instances/instance-secrets.js';
import { desiredInstance } from './desired-instance.js';
import { createReconciler } from './reconciler.js';
import { verifyAdminLoginThroughEdge } from './verify-through-edge.js';

/**
 * The `worker` role: provisions orders (reconciler behind the job queue), keeps local instances running
 * (supervisor) and refreshes their conditions and storage usage. Fails at start-up, with what to install, when this
 * host cannot run Keycloak — not in the middle of an order.
 */
export type WorkerRole = {
  reconciler: ReturnType<typeof createReconciler>;
  /** The local region's driver (delete orders and operators' tools use it besides the reconciler). */
  localDriver: LocalDriver;
  stop(): Promise<void>;
};

export async function startWorkerRole(options: {
  config: Config;
  db: Database;
  /** Superuser URL of the PostgreSQL server: instance databases and roles are created there. */
  adminDatabaseUrl: string;
  secretBox: SecretBox;
  ca: LocalCa;
  logger: Logger;
  /** Interval of the supervisor and the usage observer. */
  superviseIntervalMs?: number;
  /** Tests share one built distribution across runs. */
  distributionCacheDir?: string;
  /** Only tests: see LocalDriverOptions.testFaults. */
  testFaults?: LocalDriverTestFaults;
}): Promise<WorkerRole> {
  const { config, db, secretBox } = options;
  const logger = options.logger.child({ role: 'worker' });
  const hasLocalRegion = config.catalog.regions.some((r) => r.driver === 'local');

  const prerequisites = hasLocalRegion
    ? checkPrerequisites(config, { cacheDir: options.distributionCacheDir })
    : ({ ok: true, warnings: [] } as const);
  if (!prerequisites.ok) throw new Error(prerequisites.message);
  for (const warning of prerequisites.warnings) logger.warn(warning);

  const distributions = createKeycloakDistributions({
    config,
    logger,
    cacheDir: options.distributionCacheDir,
  });
  // Fetch and build every catalog version now, one after the other, so the first order does not wait for Maven.
  // Not awaited on stop: a download in progress must not hold up a shutdown; the next start resumes it.
  void (async () => {
    for (const version of catalogKeycloakVersions(config)) {
      await distributions.get(version).catch((error: unknown) => {
        logger.error({ err: error, version }, 'preparing Keycloak failed; orders of this version will retry');
      });
    }
  })();
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
        },
        { portRange: config.edge.portRange },
      );
      return { url: edgeRouteUrl(stored) };
    },
    async removeRoute(instanceId) {
      await deleteEdgeRoute(db, instanceId);
    },
  };
  const localDriver = createLocalDriver({
    config,
    adminDatabaseUrl: options.adminDatabaseUrl,
    distributions,
    logger,
    edge,
    testFaults: options.testFaults,
  });

  const reconciler = createReconciler({
    db,
    catalog: config.catalog,
    driverFor: (driver) => (driver === 'local' ? localDriver : undefined),
    secretBox,
    logger,
    verifyThroughEdge: (check) => verifyAdminLoginThroughEdge({ ...check, ca: options.ca.certificatePem }),
  });

  const localRegions = config.catalog.regions.filter((r) => r.driver === 'local');
  const desiredLocalInstances = async (): Promise<DesiredInstance[]> => {
    const desired: DesiredInstance[] = [];
    for (const region of localRegions) {
      for (const instance of await listInstancesToRun(db.pool, region.id)) {
        if (!instance.sealedSecrets) continue;
        const secrets = openInstanceSecrets(secretBox, instance.sealedSecrets);
        desired.push(desiredInstance(config.catalog, instance, instance.spec, secrets));
      }
    }
    return desired;
  };

  const intervalMs = options.superviseIntervalMs ?? 15_000;
  const supervisor = superviseLocalInstances({
    driver: localDriver,
    desiredInstances: desiredLocalInstances,
    logger,
    intervalMs,
  });

  // Conditions and storage usage for the instance page; observing is read-only and cheap enough every interval.
  let observing: Promise<void> = Promise.resolve();
  const observe = async () => {
    for (const instance of await desiredLocalInstances()) {
      const observed = await localDriver.observe(instance);
      await updateInstanceRuntime(db.pool, instance.instanceId, {
        conditions: observed.conditions,
        usage: observed.usage,
      });
    }
  };
  const observer = setInterval(() => {
    observing = observe().catch((error: unknown) =>
      logger.warn({ err: error }, 'observing instances failed'),
    );
  }, intervalMs);
  observer.unref();

  return {
    reconciler,
    localDriver,
    async stop() {
      clearInterval(observer);
      await observing;
      await supervisor.stop();
    },
  };
}
