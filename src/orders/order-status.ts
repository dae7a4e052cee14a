import type { Queryable } from '../db/database.js';
import type { OrderStatus } from './order-schemas.js';

/**
 * THE place where an order's status changes. The life cycle of the provider's order page:
 *   new ──► processing ──► done
 *    │          │
 *    └──────────┴──────► failed
 * Each change is a compare-and-set: a late or duplicate worker that expects another status changes nothing.
 */
const allowedTransitions: Record<OrderStatus, readonly OrderStatus[]> = {
  new: ['processing', 'failed'],
  processing: ['done', 'failed'],
  done: [],
  failed: [],
};

export class IllegalTransitionError extends Error {
  constructor(from: OrderStatus, to: OrderStatus) {
    super(`An order cannot go from ${from} to ${to}.`);
  }
}

/** Channel on which every order change is announced (server-sent events listen to it). */
export const ORDER_EVENTS_CHANNEL = 'order_events';

/**
 * Moves the order from `from` to `to` if it is still in `from`. Returns false when another actor got there first.
 * A failure needs a reason written for the customer; the operator's detail stays off the customer API.
 */
export async function transitionOrder(
  db: Queryable,
  orderId: string,
  from: OrderStatus,
  to: OrderStatus,
  failure?: { reason: string; operatorDetail?: string },
): Promise<boolean> {
  if (!allowedTransitions[from].includes(to)) throw new IllegalTransitionError(from, to);
  if ((to === 'failed') !== (failure !== undefined))
    throw new Error('a failure reason belongs to failed orders only');
  const result = await db.query(
    `WITH changed AS (
       UPDATE orders SET status = $3, failure_reason = $4, operator_detail = $5, updated_at = now()
        WHERE id = $1 AND status = $2
        RETURNING id)
     SELECT pg_notify($6, id::text) FROM changed`,
    [orderId, from, to, failure?.reason ?? null, failure?.operatorDetail ?? null, ORDER_EVENTS_CHANNEL],
  );
  return result.rowCount === 1;
}
