import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import { NotFoundError } from '../platform/errors.js';
import { findBillingProfile } from './billing-profile-store.js';
import { computeUsage, monthWindow } from './metering.js';
import type { Usage } from './usage-schemas.js';
import { listUsageRecords } from './usage-store.js';

/** Usage per billing profile and month: the records from the database, the arithmetic in metering.ts. */
export function createUsageService(deps: { db: Database; catalog: Catalog; now: () => Date }) {
  return {
    async monthly(organizationId: string, billingProfileId: string, month: string): Promise<Usage> {
      const profile = await findBillingProfile(deps.db.pool, organizationId, billingProfileId);
      if (!profile) throw new NotFoundError('Billing profile');
      const window = monthWindow(month);
      const asOf = deps.now();
      const records = await listUsageRecords(deps.db.pool, profile.id, {
        from: window.start,
        to: window.end,
      });
      const report = computeUsage({ records, prices: deps.catalog, month: window, asOf: asOf.getTime() });
      return {
        billingProfileId: profile.id,
        month,
        currency: deps.catalog.currency,
        asOf: asOf.toISOString(),
        ...report,
      };
    },
  };
}
export type UsageService = ReturnType<typeof createUsageService>;
