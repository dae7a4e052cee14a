import { createBackupRunner } from '../../src/backups/backup-runner.js';
import { createRealmTransfer } from '../../src/backups/realm-transfer.js';
import { createDriverRegistry } from '../../src/drivers/driver-registry.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createLogger } from '../../src/platform/logger.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { startProvisioningQueue } from '../../src/provisioning/provisioning-worker.js';
import { createReconciler } from '../../src/provisioning/reconciler.js';
import type { TestKeyhouse } from './test-keyhouse.js';

const notUsed = () => Promise.reject(new Error('not used here'));

/**
 * A driver that only applies, as `apply` says; the login check passes (no Keycloak runs), everything else is not
 * used by these tests and refuses.
 */
export function standInDriver(apply: Driver['apply']): Driver {
  return {
    apply,
    restart: notUsed,
    upgrade: notUsed,
    destroy: notUsed,
    locateAdminApi: async () => null,
    observe: notUsed,
    verifyAdminLogin: async () => ({ ok: true, note: 'stand-in: no Keycloak' }),
    backup: notUsed,
    restore: notUsed,
    removeBackup: notUsed,
    readBackup: notUsed,
  };
}

/**
 * The reconciler of an API-only test Keyhouse over a stand-in driver (no Keycloak): for tests of what the control
 * plane does with a driver's answers. The local region's orders go to `driver`.
 */
export function standInReconciler(keyhouse: TestKeyhouse, driver: Driver) {
  const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });
  const secretBox = createSecretBox({
    secretKey: keyhouse.config.secretKey,
    dataDir: keyhouse.config.dataDir,
  });
  const reconciler = createReconciler({
    db: keyhouse.db,
    catalog: keyhouse.config.catalog,
    drivers: createDriverRegistry({ local: driver }),
    secretBox,
    logger,
    backups: createBackupRunner({ db: keyhouse.db, logger, now: () => new Date(), driverFor: () => driver }),
    realms: createRealmTransfer({ db: keyhouse.db, secretBox }),
  });
  return { reconciler, logger };
}

/** The same reconciler behind the real job queue, as a worker runs it; `stop` it after the test. */
export function startStandInWorker(keyhouse: TestKeyhouse, driver: Driver) {
  const { reconciler, logger } = standInReconciler(keyhouse, driver);
  return startProvisioningQueue({
    databaseUrl: keyhouse.databaseUrl,
    db: keyhouse.db,
    catalog: keyhouse.config.catalog,
    logger,
    reconciler,
  });
}
