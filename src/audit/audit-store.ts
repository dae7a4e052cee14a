import type { Queryable } from '../db/database.js';
import type { Principal } from '../accounts/roles.js';

/** Who acts and from where: passed by every adapter (REST, OSB, workers) into the services. */
export type Actor = {
  principal: Principal | undefined;
  /** A name for actors without a user: "system", "osb:<platform identity>", or an e-mail before sign-in. */
  label?: string;
  requestId: string;
  sourceAddress: string;
};

/** An actor on a route that requires a permission: the principal is known. */
export type SignedInActor = Actor & { principal: Principal };

export type AuditEvent = {
  action: string;
  targetType?: string;
  targetId?: string;
  outcome?: 'success' | 'failure';
  /** Never secrets: ids, names, changed fields. */
  details?: Record<string, unknown>;
  /** For events before a principal exists (sign-up, failed login). */
  organizationId?: string;
};

export async function recordAudit(db: Queryable, actor: Actor, event: AuditEvent): Promise<void> {
  await db.query(
    `INSERT INTO audit_events
       (organization_id, actor_user_id, actor, action, target_type, target_id, outcome, source_address, request_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      event.organizationId ?? actor.principal?.organizationId ?? null,
      actor.principal?.userId ?? null,
      actor.principal?.email ?? actor.label ?? 'anonymous',
      event.action,
      event.targetType ?? null,
      event.targetId ?? null,
      event.outcome ?? 'success',
      actor.sourceAddress,
      actor.requestId,
      JSON.stringify(event.details ?? {}),
    ],
  );
}
