import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { DriverRegistry } from '../drivers/driver-registry.js';
import type { SecretBox } from '../platform/secret-box.js';
import { createReconciler, type Reconciler } from './reconciler.js';

/**
 * The `worker` role: provisions orders (the reconciler behind the job queue) through the drivers of the regions'
 * backends. It knows no backend: the composition root (src/app.ts) starts the backends the configured regions
 * name, with their own background work, and hands their drivers over in the registry.
 */
export type WorkerRole = {
  reconciler: Reconciler;
  drivers: DriverRegistry;
};

export function startWorkerRole(options: {
  catalog: Catalog;
  db: Database;
  drivers: DriverRegistry;
  secretBox: SecretBox;
  logger: Logger;
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
  const reconciler = createReconciler({
    db: options.db,
    catalog,
    drivers,
    secretBox: options.secretBox,
    logger,
  });
  return { reconciler, drivers };
}
