import type { Config } from '../config/config-schema.js';
import { defaultInstancesDir, readKeycloakLogTail } from './local/instance-files.js';

const TAIL_LINES = 40;

/**
 * The last lines of an instance's Keycloak log for the operator console, asked of the backend its region names.
 * Runs in the API role, which need not run the backend's driver (the worker may be another process on the same
 * host), so each backend answers from what it leaves readable: the local one its log file in the data dir.
 */
export function createInstanceLogReader(config: Config) {
  return (instance: { name: string; region: string }): string | null => {
    const region = config.catalog.regions.find((r) => r.id === instance.region);
    if (!region) return null;
    switch (region.driver) {
      case 'local':
        return readKeycloakLogTail(defaultInstancesDir(config.dataDir), instance.name, TAIL_LINES);
      case 'kubernetes':
        return null; // the Keycloak pod's log is in the cluster's logging, not readable from here
      default:
        return region.driver satisfies never;
    }
  };
}
