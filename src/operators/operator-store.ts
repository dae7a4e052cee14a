import type { Queryable } from '../db/database.js';
import type { Condition, InstanceSpec } from '../instances/instance-schemas.js';
import type { MessageParts, OrderStatus, OrderStep, OrderType } from '../orders/order-schemas.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { OpsInstance, OpsOrderFilter, OpsOrderSummary } from './operator-schemas.js';

/** SQL of the operator console: it reads across every organisation, so nothing here is for customer routes. */

const ORGANIZATION_REF = `jsonb_build_object('id', g.id, 'name', g.name, 'customerNumber', g.customer_number)`;

export async function listOrdersForOperators(
  db: Queryable,
  filter: OpsOrderFilter,
  now: Date,
): Promise<Page<OpsOrderSummary>> {
  const after = filter.cursor;
  const { rows } = await db.query<OpsOrderSummary>(
    `SELECT o.id, o.type, o.status, o.attempt, o.spec->>'region' AS region, o.instance_id AS "instanceId",
            i.name AS "instanceName", ${ORGANIZATION_REF} AS organization, o.failure_reason AS "failureReason",
            o.failure_reason_parts AS "failureReasonParts", o.created_at AS "createdAt", o.updated_at AS "updatedAt"
       FROM orders o JOIN instances i ON i.id = o.instance_id JOIN organizations g ON g.id = o.organization_id
      WHERE ($1::text IS NULL OR o.status = $1)
        AND ($2::text IS NULL OR o.type = $2)
        AND ($3::text IS NULL OR o.spec->>'region' = $3)
        AND ($4::uuid IS NULL OR o.organization_id = $4)
        AND ($5::int IS NULL OR (o.status = 'processing'
             AND o.updated_at < $6::timestamptz - make_interval(mins => $5)))
        AND ($7::timestamptz IS NULL OR (o.created_at, o.id) < ($7, $8::uuid))
      ORDER BY o.created_at DESC, o.id DESC LIMIT $9`,
    [
      filter.status ?? null,
      filter.type ?? null,
      filter.region ?? null,
      filter.organizationId ?? null,
      filter.processingLongerThanMinutes ?? null,
      now,
      after?.createdAt ?? null,
      after?.id ?? null,
      filter.limit + 1,
    ],
  );
  return toPage(rows, filter.limit);
}

type OperatorOrderRow = {
  id: string;
  type: OrderType;
  status: OrderStatus;
  attempt: number;
  instanceId: string;
  instanceName: string;
  instanceStatus: string;
  instanceSpec: InstanceSpec;
  spec: InstanceSpec;
  organizationId: string;
  organization: { id: string; name: string; customerNumber: string };
  operatorDetail: string | null;
  steps: OrderStep[];
  attempts: {
    attempt: number;
    steps: OrderStep[];
    failureReason: string | null;
    failureReasonParts: MessageParts | null;
    operatorDetail: string | null;
    finishedAt: string;
    retriedBy: string | null;
  }[];
};

export async function findOrderForOperators(
  db: Queryable,
  orderId: string,
  options: { forUpdate?: boolean } = {},
): Promise<OperatorOrderRow | undefined> {
  const { rows } = await db.query<OperatorOrderRow>(
    `SELECT o.id, o.type, o.status, o.attempt, o.instance_id AS "instanceId", i.name AS "instanceName",
            i.status AS "instanceStatus", i.spec AS "instanceSpec", o.spec, o.organization_id AS "organizationId",
            ${ORGANIZATION_REF} AS organization, o.operator_detail AS "operatorDetail", o.steps,
            COALESCE((SELECT jsonb_agg(jsonb_build_object(
                        'attempt', a.attempt, 'steps', a.steps, 'failureReason', a.failure_reason,
                        'failureReasonParts', a.failure_reason_parts, 'operatorDetail', a.operator_detail, 'finishedAt', a.finished_at,
                        'retriedBy', (SELECT email FROM users WHERE id = a.retried_by)) ORDER BY a.attempt)
                        FROM order_attempts a WHERE a.order_id = o.id), '[]') AS attempts
       FROM orders o JOIN instances i ON i.id = o.instance_id JOIN organizations g ON g.id = o.organization_id
      WHERE o.id = $1 ${options.forUpdate ? 'FOR UPDATE OF o, i' : ''}`,
    [orderId],
  );
  return rows[0];
}

/** The newest order of an instance: only that one may be retried (a later order already built on its result). */
export async function latestOrderIdOfInstance(
  db: Queryable,
  instanceId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM orders WHERE instance_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`,
    [instanceId],
  );
  return rows[0]?.id;
}

/** A retried order asks for its spec again; a create order's instance is provisioning again. */
export async function prepareInstanceForRetry(
  db: Queryable,
  instanceId: string,
  order: { type: OrderType; spec: InstanceSpec },
): Promise<void> {
  await db.query(
    `UPDATE instances SET spec = CASE WHEN $2 = 'delete' THEN spec ELSE $3::jsonb END,
            status = CASE WHEN $2 = 'create' THEN 'provisioning' ELSE status END, updated_at = now()
      WHERE id = $1`,
    [instanceId, order.type, JSON.stringify(order.spec)],
  );
}

/** A create order cancelled before it started leaves an instance that never ran: failed, so it can be deleted. */
export async function markInstanceFailed(db: Queryable, instanceId: string): Promise<void> {
  await db.query(`UPDATE instances SET status = 'failed', updated_at = now() WHERE id = $1`, [instanceId]);
}

export async function listInstancesForOperators(
  db: Queryable,
  filter: PageQuery & { region?: string; organizationId?: string; includeDeleted?: boolean },
): Promise<Page<OpsInstance>> {
  const after = filter.cursor;
  const { rows } = await db.query<OpsInstance & { conditions: Condition[] }>(
    `SELECT i.id, i.name, i.status, i.spec->>'version' AS version, i.spec->>'nodeSize' AS "nodeSize",
            (i.spec->>'storageGb')::int AS "storageGb", i.spec->>'region' AS region, i.url, i.conditions,
            ${ORGANIZATION_REF} AS organization, i.created_at AS "createdAt"
       FROM instances i JOIN organizations g ON g.id = i.organization_id
      WHERE ($1::text IS NULL OR i.spec->>'region' = $1)
        AND ($2::uuid IS NULL OR i.organization_id = $2)
        AND ($3 OR i.status <> 'deleted')
        AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4, $5::uuid))
      ORDER BY i.created_at DESC, i.id DESC LIMIT $6`,
    [
      filter.region ?? null,
      filter.organizationId ?? null,
      filter.includeDeleted ?? false,
      after?.createdAt ?? null,
      after?.id ?? null,
      filter.limit + 1,
    ],
  );
  return toPage(rows, filter.limit);
}

/** Per region: active instances with their node sizes, and orders by status. */
export async function regionLoad(db: Queryable): Promise<
  {
    region: string;
    instances: number;
    nodeSizes: Record<string, number>;
    processingOrders: number;
    waitingOrders: number;
  }[]
> {
  const { rows } = await db.query<{
    region: string;
    instances: number;
    nodeSizes: Record<string, number> | null;
    processingOrders: number;
    waitingOrders: number;
  }>(
    `WITH regions AS (
       SELECT DISTINCT spec->>'region' AS region FROM instances
     ), sizes AS (
       SELECT spec->>'region' AS region, spec->>'nodeSize' AS size, count(*)::int AS n FROM instances
        WHERE status NOT IN ('deleted', 'failed') GROUP BY 1, 2
     )
     SELECT r.region,
            COALESCE((SELECT sum(n)::int FROM sizes s WHERE s.region = r.region), 0) AS instances,
            (SELECT jsonb_object_agg(size, n) FROM sizes s WHERE s.region = r.region) AS "nodeSizes",
            (SELECT count(*)::int FROM orders o WHERE o.spec->>'region' = r.region AND o.status = 'processing')
              AS "processingOrders",
            (SELECT count(*)::int FROM orders o WHERE o.spec->>'region' = r.region AND o.status = 'new')
              AS "waitingOrders"
       FROM regions r`,
  );
  return rows.map((row) => ({ ...row, nodeSizes: row.nodeSizes ?? {} }));
}

/** Every organisation, for the console's filters (name order; a provider has hundreds, not millions). */
export async function listOrganizationsForOperators(
  db: Queryable,
): Promise<{ id: string; name: string; customerNumber: string }[]> {
  const { rows } = await db.query<{ id: string; name: string; customerNumber: string }>(
    `SELECT id, name, customer_number AS "customerNumber" FROM organizations ORDER BY name, customer_number LIMIT 1000`,
  );
  return rows;
}
