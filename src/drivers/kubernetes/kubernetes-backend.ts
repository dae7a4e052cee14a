import type { Logger } from 'pino';
import type { Config } from '../../config/config-schema.js';
import type { Database } from '../../db/database.js';
import type { LocalCa } from '../../edge/local-ca.js';
import { renderMessage } from '../../platform/messages.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { desiredInstancesIn } from '../desired-instance.js';
import { observeInstances } from '../instance-observer.js';
import { createKubernetesClient, loadKubeConfig } from './kubernetes-client.js';
import {
  createKubernetesDriver,
  type KubernetesDriver,
  type KubernetesRegionAccess,
} from './kubernetes-driver.js';

/**
 * The backend of the regions with `driver: kubernetes`, as a worker runs it: one API client per region's cluster
 * (from its kubeconfig or the pod's service account), the driver over them, and the observer that keeps the
 * instances' conditions fresh from the operators' status. Nothing else runs here: the operators do the work in
 * the cluster. A kubeconfig that cannot be read fails the start, naming the region; a cluster that does not answer
 * does not: its orders say so on their status page and retry.
 */
export type KubernetesBackend = { driver: KubernetesDriver; stop(): Promise<void> };

/** An API client per `driver: kubernetes` region, by region id; a kubeconfig that cannot be read throws, naming it. */
export function kubernetesRegionAccess(config: Config): Record<string, KubernetesRegionAccess> {
  const regions: Record<string, KubernetesRegionAccess> = {};
  for (const region of config.catalog.regions.filter((r) => r.driver === 'kubernetes')) {
    const settings = config.kubernetes[region.id]!;
    let kubeConfig;
    try {
      kubeConfig = loadKubeConfig(settings.cluster);
    } catch (error) {
      throw new Error(
        `kubernetes.${region.id}.cluster: cannot load the cluster's credentials: ${(error as Error).message}`,
      );
    }
    regions[region.id] = { name: region.name, settings, client: createKubernetesClient(kubeConfig) };
  }
  return regions;
}

export function startKubernetesBackend(options: {
  config: Config;
  db: Database;
  secretBox: SecretBox;
  ca: LocalCa;
  logger: Logger;
  /** Interval of the observer. */
  observeIntervalMs?: number;
  /** Overrides for tests (how often a progressing order looks again, the upgrade's deadline). */
  driverOptions?: { pollSeconds?: number; upgradeReadyTimeoutMs?: number };
}): KubernetesBackend {
  const { config, db } = options;
  const logger = options.logger.child({ role: 'worker', backend: 'kubernetes' });
  const regions = kubernetesRegionAccess(config);
  const driver = createKubernetesDriver({ regions, ca: options.ca, logger, ...options.driverOptions });
  const desiredInstances = () =>
    desiredInstancesIn({
      db: db.pool,
      catalog: config.catalog,
      secretBox: options.secretBox,
      regions: Object.keys(regions),
    });
  const observer = observeInstances({
    driver,
    desiredInstances,
    db,
    logger,
    intervalMs: options.observeIntervalMs ?? 15_000,
  });
  // Certificates are due 30 days before they expire; looking once an hour is plenty. Apart from orders, so it
  // touches only the TLS Secret and the Namespace's renewal date, never what an order in progress changes.
  let renewing: Promise<void> = Promise.resolve();
  const renewal = setInterval(() => {
    renewing = (async () => {
      for (const instance of await desiredInstances()) {
        const done = await driver.ensureCertificate(instance);
        if (done)
          logger.info(
            { instance: instance.name, note: renderMessage(done.code, done.params) },
            'instance certificate renewed',
          );
      }
    })().catch((error: unknown) => logger.warn({ err: error }, 'renewing instance certificates failed'));
  }, 60 * 60_000);
  renewal.unref();
  return {
    driver,
    async stop() {
      clearInterval(renewal);
      await renewing;
      await observer.stop();
    },
  };
}
