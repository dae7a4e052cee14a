import type { Region } from '../catalog/catalog-schemas.js';
import type { Driver } from './driver.js';

/** A region's `driver` key in the configuration: which backend provisions its instances. */
export type DriverKey = Region['driver'];

/**
 * The drivers this process runs, by the regions' `driver` key. Filled once by the composition root (src/app.ts)
 * with the backends the configured regions name; the reconciler looks a region's driver up here and knows no
 * backend by name.
 */
export type DriverRegistry = {
  /** The driver of the region's backend; undefined when this process runs none for it. */
  forRegion(region: Pick<Region, 'driver'>): Driver | undefined;
};

export function createDriverRegistry(drivers: Partial<Record<DriverKey, Driver>>): DriverRegistry {
  return { forRegion: (region) => drivers[region.driver] };
}
