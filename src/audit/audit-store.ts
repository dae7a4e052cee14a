import type { Queryable } from '../db/database.js';
import { toPage, type Page, type Position } from '../platform/pagination.js';

/** What the audit trail records of who acted (the accounts' `Actor` is one). */
export type AuditedActor = {
  principal: { userId: string; organizationId: string; email: string } | undefined;
  /** A provider operator acting; recorded as `operator:<e-mail>`. */
  operator?: { userId: string; email: string };
  /** A name for actors without a user: "system", "osb:<platform identity>", or an e-mail before sign-in. */
  label?: string;
  requestId: string;
  sourceAddress: string;
};

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

export async function recordAudit(db: Queryable, actor: AuditedActor, event: AuditEvent): Promise<void> {
  await db.query(
    `INSERT INTO audit_events
       (organization_id, actor_user_id, actor, action, target_type, target_id, outcome, source_address, request_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      event.organizationId ?? actor.principal?.organizationId ?? null,
      actor.principal?.userId ?? actor.operator?.userId ?? null,
      actor.principal?.email ??
        (actor.operator ? `operator:${actor.operator.email}` : undefined) ??
        actor.label ??
        'anonymous',
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

export type StoredAuditEvent = {
  id: string;
  actor: string;
  actorUserId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: 'success' | 'failure';
  sourceAddress: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  createdAt: string;
};

type AuditRow = {
  id: number;
  actor: string;
  actor_user_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: 'success' | 'failure';
  source_address: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  created_at: string;
};

/** The organisation's audit trail, newest first, optionally one action only. */
export async function listAuditEvents(
  db: Queryable,
  organizationId: string,
  filter: { action?: string },
  page: { limit: number; after?: Position },
): Promise<Page<StoredAuditEvent>> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, actor, actor_user_id, action, target_type, target_id, outcome, source_address, request_id, details,
            created_at
       FROM audit_events
      WHERE organization_id = $1
        AND ($2::text IS NULL OR action = $2)
        AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::bigint))
      ORDER BY created_at DESC, id DESC LIMIT $5`,
    [
      organizationId,
      filter.action ?? null,
      page.after?.createdAt ?? null,
      page.after?.id ?? null,
      page.limit + 1,
    ],
  );
  const events = rows.map((row): StoredAuditEvent => ({
    id: String(row.id),
    actor: row.actor,
    actorUserId: row.actor_user_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    outcome: row.outcome,
    sourceAddress: row.source_address,
    requestId: row.request_id,
    details: row.details,
    createdAt: row.created_at,
  }));
  return toPage(events, page.limit);
}
