import type { Database } from '../db/database.js';
import type { AuditQuery } from './audit-schemas.js';
import { listAuditEvents } from './audit-store.js';

/** Reading the audit trail (who did what, when, from where); writing happens in each service's transaction. */
export function createAuditService({ db }: { db: Database }) {
  return {
    list(organizationId: string, query: AuditQuery) {
      return listAuditEvents(
        db.pool,
        organizationId,
        { action: query.action },
        { limit: query.limit, after: query.cursor },
      );
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
