import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { DriverRegistry } from '../drivers/driver-registry.js';
import type { SecretBox } from '../platform/secret-box.js';
import { createBackupRunner, type BackupRunner } from '../backups/backup-runner.js';
import { createRealmTransfer } from '../backups/realm-transfer.js';
import { createReconciler, type Reconciler } from './reconciler.js';

/**
 * The `worker` role: provisions orders (the reconciler behind the job queue) through the drivers of the regions'
 * backends. It knows no backend: the composition root (src/app.ts) starts the backends the configured regions
 * name, with their own background work, and hands their drivers over in the registry.
 */
export type WorkerRole = {
  reconciler: Reconciler;
  drivers: DriverRegistry;
  /** Takes and removes backups through the regions' drivers (src/backups). */
  backups: BackupRunner;
};

export function startWorkerRole(options: {
  catalog: Catalog;
  db: Database;
  drivers: DriverRegistry;
  secretBox: SecretBox;
  logger: Logger;
  now: () => Date;
}): WorkerRole {
  const { catalog, drivers } = options;
  const logger = options.logger.child({ role: 'worker' });
  for (const region of catalog.regions) {
    if (!drivers.forRegion(region))
      logger.warn(
        { region: region.id, driver: region.driver },
        'this worker runs no driver for the region: its orders fail',
      );
  }
  const backups = createBackupRunner({
    db: options.db,
    logger,
    now: options.now,
    driverFor: (instance) => {
      const region = catalog.regions.find((r) => r.id === instance.spec.region);
      return region && drivers.forRegion(region);
    },
  });
  const reconciler = createReconciler({
    db: options.db,
    catalog,
    drivers,
    secretBox: options.secretBox,
    logger,
    backups,
    realms: createRealmTransfer({ db: options.db, secretBox: options.secretBox }),
  });
  return { reconciler, drivers, backups };
}
