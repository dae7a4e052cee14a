import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { Price } from '../catalog/pricing.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import type {
  MessageParts,
  Order,
  OrderAttempt,
  OrderStatus,
  OrderStep,
  OrderType,
} from './order-schemas.js';

/** Orders with the customer's view of their earlier attempts (after an operator's retry). */
const SELECT_ORDERS = `SELECT o.*, (
    SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'failureReason', a.failure_reason,
                                        'failureReasonParts', a.failure_reason_parts,
                                        'finishedAt', a.finished_at) ORDER BY a.attempt)
      FROM order_attempts a WHERE a.order_id = o.id) AS previous_attempts
  FROM orders o`;

type OrderRow = {
  id: string;
  organization_id: string;
  instance_id: string;
  type: OrderType;
  status: OrderStatus;
  spec: InstanceSpec;
  previous_spec: InstanceSpec | null;
  details: Record<string, unknown> | null;
  price: Price;
  price_delta: Price | null;
  steps: OrderStep[];
  failure_reason: string | null;
  failure_reason_parts: MessageParts | null;
  attempt: number;
  previous_attempts: OrderAttempt[] | null;
  billing_profile_id: string;
  terms_version: string | null;
  request_hash: string | null;
  created_at: string;
  updated_at: string;
};

export type StoredOrder = Order & { organizationId: string; requestHash: string | null };

const toOrder = (row: OrderRow): StoredOrder => ({
  id: row.id,
  organizationId: row.organization_id,
  type: row.type,
  status: row.status,
  instanceId: row.instance_id,
  spec: row.spec,
  previousSpec: row.previous_spec,
  details: row.details,
  price: row.price,
  priceDelta: row.price_delta,
  steps: row.steps,
  failureReason: row.failure_reason,
  failureReasonParts: row.failure_reason_parts,
  attempt: row.attempt,
  previousAttempts: row.previous_attempts ?? [],
  billingProfileId: row.billing_profile_id,
  termsVersion: row.terms_version,
  requestHash: row.request_hash,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export type NewOrder = {
  id: string;
  organizationId: string;
  instanceId: string;
  type: OrderType;
  spec: InstanceSpec;
  /** The instance's spec before a change order (null for create). */
  previousSpec?: InstanceSpec | null;
  /** What a backup or restore order asks for beyond the spec (src/backups). */
  details?: Record<string, unknown> | null;
  price: Price;
  priceDelta: Price | null;
  billingProfileId: string;
  terms: { version: string; sourceAddress: string } | null;
  actorUserId: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
};

export async function insertOrder(db: Queryable, order: NewOrder): Promise<StoredOrder> {
  const { rows } = await db.query<OrderRow>(
    `INSERT INTO orders (id, organization_id, instance_id, type, status, spec, price, price_delta, billing_profile_id,
                         terms_version, terms_accepted_at, terms_source_address, actor_user_id, idempotency_key,
                         request_hash, previous_spec, details)
     VALUES ($1, $2, $3, $4, 'new', $5, $6, $7, $8, $9, CASE WHEN $9::text IS NULL THEN NULL ELSE now() END, $10, $11,
             $12, $13, $14, $15)
     RETURNING *, NULL::jsonb AS previous_attempts`,
    [
      order.id,
      order.organizationId,
      order.instanceId,
      order.type,
      JSON.stringify(order.spec),
      JSON.stringify(order.price),
      order.priceDelta && JSON.stringify(order.priceDelta),
      order.billingProfileId,
      order.terms?.version ?? null,
      order.terms?.sourceAddress ?? null,
      order.actorUserId,
      order.idempotencyKey,
      order.requestHash,
      order.previousSpec ? JSON.stringify(order.previousSpec) : null,
      order.details ? JSON.stringify(order.details) : null,
    ],
  );
  return toOrder(rows[0]!);
}

export async function findOrder(
  db: Queryable,
  organizationId: string,
  id: string,
): Promise<StoredOrder | undefined> {
  const { rows } = await db.query<OrderRow>(`${SELECT_ORDERS} WHERE o.organization_id = $1 AND o.id = $2`, [
    organizationId,
    id,
  ]);
  return rows[0] && toOrder(rows[0]);
}

export async function findOrderByIdempotencyKey(
  db: Queryable,
  organizationId: string,
  key: string,
): Promise<StoredOrder | undefined> {
  const { rows } = await db.query<OrderRow>(
    `${SELECT_ORDERS} WHERE o.organization_id = $1 AND o.idempotency_key = $2`,
    [organizationId, key],
  );
  return rows[0] && toOrder(rows[0]);
}

/** Serialises concurrent requests with one Idempotency-Key of an organisation until the transaction ends. */
export async function lockIdempotencyKey(tx: Queryable, organizationId: string, key: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${organizationId}:${key}`]);
}

/** The instance's order that is new or processing, if any (at most one runs at a time). */
export async function findRunningOrder(db: Queryable, instanceId: string): Promise<StoredOrder | undefined> {
  const { rows } = await db.query<OrderRow>(
    `SELECT * FROM orders WHERE instance_id = $1 AND status IN ('new', 'processing')
      ORDER BY created_at DESC LIMIT 1`,
    [instanceId],
  );
  return rows[0] && toOrder(rows[0]);
}

/** The order that created the instance. */
export async function findCreateOrder(db: Queryable, instanceId: string): Promise<StoredOrder | undefined> {
  const { rows } = await db.query<OrderRow>(
    `SELECT * FROM orders WHERE instance_id = $1 AND type = 'create'`,
    [instanceId],
  );
  return rows[0] && toOrder(rows[0]);
}

export type OrderFilter = { status?: OrderStatus; instanceId?: string };

export async function listOrders(
  db: Queryable,
  organizationId: string,
  filter: OrderFilter,
  page: PageQuery,
): Promise<Page<StoredOrder>> {
  const after = page.cursor;
  // Newest first: the dashboard and the order list show the latest orders on top.
  const { rows } = await db.query<OrderRow>(
    `${SELECT_ORDERS}
      WHERE o.organization_id = $1
        AND ($2::text IS NULL OR o.status = $2)
        AND ($3::uuid IS NULL OR o.instance_id = $3)
        AND ($4::timestamptz IS NULL OR (o.created_at, o.id) < ($4, $5::uuid))
      ORDER BY o.created_at DESC, o.id DESC LIMIT $6`,
    [
      organizationId,
      filter.status ?? null,
      filter.instanceId ?? null,
      after?.createdAt ?? null,
      after?.id ?? null,
      page.limit + 1,
    ],
  );
  return toPage(rows.map(toOrder), page.limit);
}

/** For workers, which act for every organisation. */
export async function findOrderById(db: Queryable, id: string): Promise<StoredOrder | undefined> {
  const { rows } = await db.query<OrderRow>(`${SELECT_ORDERS} WHERE o.id = $1`, [id]);
  return rows[0] && toOrder(rows[0]);
}

/** Orders not finished yet, oldest first: what the reconciler's start-up sweep re-drives. */
export async function listUnfinishedOrders(db: Queryable): Promise<StoredOrder[]> {
  const { rows } = await db.query<OrderRow>(
    `${SELECT_ORDERS} WHERE o.status IN ('new', 'processing') ORDER BY o.created_at`,
  );
  return rows.map(toOrder);
}
