import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config-schema.js';
import { logTail } from '../drivers/local/keycloak-process.js';

const TAIL_LINES = 40;

/**
 * The last lines of an instance's Keycloak log for the operator console. Readable only where the instance runs on
 * this host (a `local` region, the layout of src/drivers/local-driver.ts: <dataDir>/instances/<name>/logs/); other
 * regions answer null (their logs are in the cluster's logging).
 */
export function createInstanceLogReader(config: Config) {
  return (instance: { name: string; region: string }): string | null => {
    const region = config.catalog.regions.find((r) => r.id === instance.region);
    if (region?.driver !== 'local' || !/^[a-z0-9-]{1,63}$/.test(instance.name)) return null;
    const file = path.join(config.dataDir, 'instances', instance.name, 'logs', 'keycloak.log');
    return existsSync(file) ? logTail(file, TAIL_LINES) : null;
  };
}
