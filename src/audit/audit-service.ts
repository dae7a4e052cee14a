import type { Database } from '../db/database.js';
import { ValidationError } from '../platform/errors.js';
import type { AuditQuery } from './audit-schemas.js';
import { decodeAuditCursor, listAuditEvents } from './audit-store.js';

/** Reading the audit trail (who did what, when, from where); writing happens in each service's transaction. */
export function createAuditService({ db }: { db: Database }) {
  return {
    list(organizationId: string, query: AuditQuery) {
      const after = query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor);
      if (query.cursor !== undefined && !after)
        throw new ValidationError([{ path: 'query.cursor', message: 'not a cursor of this list' }]);
      return listAuditEvents(
        db.pool,
        organizationId,
        { action: query.action },
        { limit: query.limit, after },
      );
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
