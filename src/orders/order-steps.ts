import type { Queryable } from '../db/database.js';
import { messageParts, renderStepMessage, type StepMessage } from '../platform/messages.js';
import type { OrderStep } from './order-schemas.js';
import { ORDER_EVENTS_CHANNEL } from './order-status.js';

function stepMessageFields(note: StepMessage | undefined): Partial<OrderStep> {
  if (note === undefined || note === '' || (Array.isArray(note) && note.length === 0)) return {};
  const message = renderStepMessage(note).slice(0, 500);
  const parts = messageParts(note);
  return parts ? { message, messageParts: parts } : { message };
}

/**
 * Records a provisioning step on the order (name, state, start, end) and announces the change, so the status page
 * shows progress live. A step reported again (a retry after a crash) updates the same entry. A coded note is
 * stored with its English text and its parts (code and parameters each).
 */
export async function recordOrderStep(
  db: Queryable,
  orderId: string,
  name: string,
  state: OrderStep['status'],
  message?: StepMessage,
): Promise<void> {
  const step = { name, status: state, ...stepMessageFields(message) };
  await db.query(
    `WITH current AS (
       SELECT steps FROM orders WHERE id = $1
     ), updated AS (
       UPDATE orders SET updated_at = now(), steps = CASE
         WHEN EXISTS (SELECT 1 FROM current, jsonb_array_elements(current.steps) s WHERE s->>'name' = $2)
         THEN (SELECT jsonb_agg(CASE WHEN s->>'name' = $2
                 THEN (s - 'message' - 'messageParts') || $3::jsonb || jsonb_build_object(
                        'startedAt', CASE WHEN $4 = 'running' AND s->>'status' <> 'running'
                                          THEN to_jsonb(now()) ELSE s->'startedAt' END,
                        'finishedAt', CASE WHEN $4 = 'running' THEN 'null'::jsonb ELSE to_jsonb(now()) END)
                 ELSE s END ORDER BY position)
               FROM current, jsonb_array_elements(current.steps) WITH ORDINALITY AS e(s, position))
         ELSE steps || jsonb_build_array($3::jsonb || jsonb_build_object(
                'startedAt', to_jsonb(now()),
                'finishedAt', CASE WHEN $4 = 'running' THEN 'null'::jsonb ELSE to_jsonb(now()) END))
       END
       WHERE id = $1
       RETURNING id)
     SELECT pg_notify($5, id::text) FROM updated`,
    [orderId, name, JSON.stringify(step), state, ORDER_EVENTS_CHANNEL],
  );
}
