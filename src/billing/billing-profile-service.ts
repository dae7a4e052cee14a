import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import type { PageQuery } from '../platform/pagination.js';
import type { BillingProfileInput } from './billing-profile-schemas.js';
import { insertBillingProfile, listBillingProfiles } from './billing-profile-store.js';

export function createBillingProfileService({ db }: { db: Database }) {
  return {
    list: (organizationId: string, page: PageQuery) => listBillingProfiles(db.pool, organizationId, page),

    create: (actor: SignedInActor, input: BillingProfileInput) =>
      db.transaction(async (tx) => {
        const profile = await insertBillingProfile(tx, actor.principal.organizationId, input);
        await recordAudit(tx, actor, {
          action: 'billing-profile.create',
          targetType: 'billing-profile',
          targetId: profile.id,
          details: { company: profile.company, country: profile.country },
        });
        return profile;
      }),
  };
}
export type BillingProfileService = ReturnType<typeof createBillingProfileService>;
