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
 * `failureReason` is required for `failed` and is written for the customer.
 */
export async function transitionOrder(
  db: Queryable,
  orderId: string,
  from: OrderStatus,
  to: OrderStatus,
  failureReason?: string,
): Promise<boolean> {
  if (!allowedTransitions[from].includes(to)) throw new IllegalTransitionError(from, to);
  if (to === 'failed' && !failureReason) throw new Error('a failed order needs a reason for the customer');
  const result = await db.query(
    `WITH changed AS (
       UPDATE orders SET status = $3, failure_reason = $4, updated_at = now()
        WHERE id = $1 AND status = $2
        RETURNING id)
     SELECT pg_notify($5, id::text) FROM changed`,
    [orderId, from, to, to === 'failed' ? failureReason : null, ORDER_EVENTS_CHANNEL],
  );
  return result.rowCount === 1;
}
