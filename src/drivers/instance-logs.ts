import type { Region } from '../catalog/catalog-schemas.js';
import type { Config } from '../config/config-schema.js';
import { UnavailableError } from '../platform/errors.js';
import type { InstanceLogSource } from './driver.js';
import type { DriverKey } from './driver-registry.js';
import { kubernetesRegionAccess } from './kubernetes/kubernetes-backend.js';
import { createKubernetesLogSource } from './kubernetes/pod-log.js';
import { defaultInstancesDir } from './local/instance-files.js';
import { createLocalLogSource } from './local/instance-log.js';

/**
 * The instances' Keycloak logs, by the regions' backend, for every role of this process: the API reads them for
 * customers (log view, download, live tail) and operators (the console's log tail) whether or not this process
 * runs the region's worker. A second backend adds its source here. Made on first use, so that an API process never
 * asked for a Kubernetes log needs no cluster credentials.
 */
export type InstanceLogSources = { forRegion(region: Pick<Region, 'driver'>): InstanceLogSource };

export function createInstanceLogSources(config: Config): InstanceLogSources {
  const made: Partial<Record<DriverKey, InstanceLogSource>> = {};
  const make = (key: DriverKey): InstanceLogSource => {
    switch (key) {
      case 'local':
        return createLocalLogSource(defaultInstancesDir(config.dataDir));
      case 'kubernetes':
        try {
          return createKubernetesLogSource(kubernetesRegionAccess(config));
        } catch (error) {
          throw new UnavailableError(`The logs of this region cannot be read: ${(error as Error).message}`);
        }
      default:
        return key satisfies never;
    }
  };
  return { forRegion: (region) => (made[region.driver] ??= make(region.driver)) };
}
