import { z } from 'zod';
import type { Catalog } from './catalog-schemas.js';
import {
  nodeSizeSchema,
  regionSchema,
  serviceTypeSchema,
  storageRulesSchema,
  termsSchema,
} from './catalog-schemas.js';
import { HOURS_PER_MONTH, priceOf } from './pricing.js';
import { backupRulesSchema } from '../backups/backup-schemas.js';

/** The catalog as customers see it: without operator-only fields such as a region's driver. */
export const publicCatalogSchema = z.object({
  serviceTypes: z.array(serviceTypeSchema),
  nodeSizes: z.array(nodeSizeSchema.extend({ pricePerMonth: z.string() })),
  storage: storageRulesSchema,
  regions: z.array(regionSchema.omit({ driver: true, capacity: true, warmPool: true })),
  terms: termsSchema,
  backups: backupRulesSchema,
  currency: z.literal('EUR'),
  hoursPerMonth: z.int(),
});
export type PublicCatalog = z.infer<typeof publicCatalogSchema>;

export function publicCatalog(catalog: Catalog): PublicCatalog {
  return {
    serviceTypes: catalog.serviceTypes,
    nodeSizes: catalog.nodeSizes.map((size) => ({
      ...size,
      pricePerMonth: priceOf(catalog, { nodeSize: size.id, storageGb: 0 }).perMonth,
    })),
    storage: catalog.storage,
    regions: catalog.regions.map(
      ({ driver: _driver, capacity: _capacity, warmPool: _warmPool, ...region }) => region,
    ),
    terms: catalog.terms,
    backups: catalog.backups,
    currency: catalog.currency,
    hoursPerMonth: HOURS_PER_MONTH,
  };
}
