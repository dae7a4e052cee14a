import type { Queryable } from '../db/database.js';
import { queueOrderFinishedMail } from '../mail/mail-outbox-store.js';
import { messageParts, renderStepMessage, type StepMessage } from '../platform/messages.js';
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
 * A failure needs a reason written for the customer: coded (src/platform/messages.ts) wherever its words are ours,
 * stored as its English text plus its parts so the portal can say it in German too; plain words (words an operator
 * typed, an error's own) are stored as they are. The operator's detail stays off the customer API.
 * Reaching `done` or `failed` queues the e-mail to whoever placed the order: pass the transaction that ends the
 * order, so the mail is queued exactly when the change commits.
 */
export async function transitionOrder(
  db: Queryable,
  orderId: string,
  from: OrderStatus,
  to: OrderStatus,
  failure?: { reason: StepMessage; operatorDetail?: string },
): Promise<boolean> {
  if (!allowedTransitions[from].includes(to)) throw new IllegalTransitionError(from, to);
  if ((to === 'failed') !== (failure !== undefined))
    throw new Error('a failure reason belongs to failed orders only');
  const result = await db.query(
    `WITH changed AS (
       UPDATE orders SET status = $3, failure_reason = $4, failure_reason_parts = $7::jsonb, operator_detail = $5,
                         updated_at = now()
        WHERE id = $1 AND status = $2
        RETURNING id)
     SELECT pg_notify($6, id::text) FROM changed`,
    [
      orderId,
      from,
      to,
      failure ? renderStepMessage(failure.reason) : null,
      failure?.operatorDetail ?? null,
      ORDER_EVENTS_CHANNEL,
      // SQL NULL (not JSON null) for plain words.
      failure && messageParts(failure.reason) ? JSON.stringify(messageParts(failure.reason)) : null,
    ],
  );
  const changed = result.rowCount === 1;
  if (changed && (to === 'done' || to === 'failed')) await queueOrderFinishedMail(db, orderId, to);
  return changed;
}

/**
 * The one way back from `failed`: a provider operator retries the order (failed → new, attempt + 1). What the failed
 * attempt did (steps, reasons) moves to order_attempts and the order starts with no steps, so the status page shows
 * the new attempt from its beginning. Compare-and-set on status and attempt: retrying the attempt that failed
 * twice (a double click, two operators) retries it once. Returns false when the order is not `failed` in `attempt`.
 */
export async function retryFailedOrder(
  db: Queryable,
  orderId: string,
  attempt: number,
  retriedBy: string,
): Promise<boolean> {
  const result = await db.query(
    `WITH archived AS (
       INSERT INTO order_attempts (order_id, attempt, steps, failure_reason, failure_reason_parts, operator_detail,
                                   finished_at, retried_by)
       SELECT id, attempt, steps, failure_reason, failure_reason_parts, operator_detail, updated_at, $3 FROM orders
        WHERE id = $1 AND status = 'failed' AND attempt = $2
       RETURNING order_id
     ), changed AS (
       UPDATE orders SET status = 'new', attempt = attempt + 1, steps = '[]', failure_reason = NULL,
                         failure_reason_parts = NULL, operator_detail = NULL, updated_at = now()
        WHERE id = (SELECT order_id FROM archived)
        RETURNING id)
     SELECT pg_notify($4, id::text) FROM changed`,
    [orderId, attempt, retriedBy, ORDER_EVENTS_CHANNEL],
  );
  return result.rowCount === 1;
}
