import type { Language } from '../accounts/account-schemas.js';
import type { Queryable } from '../db/database.js';
import type { OrderStatus } from '../orders/order-schemas.js';
import type { MailData, MailState, OutboxMail } from './mail-schemas.js';

/**
 * SQL of the e-mail outbox (table mail_outbox, migration 010). Its times are the database's clock (`now()`), the
 * one every process shares: a mail queued by one process is due for the sender of another.
 */

/** Channel that wakes the mail sender when a mail is queued (delivered on commit). */
export const MAIL_OUTBOX_CHANNEL = 'mail_outbox';

const OUTBOX_COLUMNS = `m.id, m.kind, m.recipient, m.language, m.state, m.message_id AS "messageId", m.attempts,
  m.last_error AS "lastError", m.created_at AS "createdAt", m.sent_at AS "sentAt"`;

/** Recipients under .invalid (the service broker's users) cannot receive mail: nothing is queued for them. */
const DELIVERABLE = `NOT (u.email LIKE '%.invalid')`;

/**
 * Queues one mail in the caller's transaction; a second mail with the same `dedupeKey` is dropped. Answers whether
 * it was queued.
 */
export async function queueMail(
  db: Queryable,
  mail: {
    recipient: string;
    language: Language;
    data: MailData;
    dedupeKey: string;
    /** Sealed with the secret box; wiped once sent. */
    sealedSecret?: string;
  },
): Promise<boolean> {
  const result = await db.query(
    `WITH queued AS (
       INSERT INTO mail_outbox (id, kind, recipient, language, data, sealed_secret, dedupe_key)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id)
     SELECT pg_notify($7, id::text) FROM queued`,
    [
      mail.data.kind,
      mail.recipient,
      mail.language,
      JSON.stringify(mail.data),
      mail.sealedSecret ?? null,
      mail.dedupeKey,
      MAIL_OUTBOX_CHANNEL,
    ],
  );
  return result.rowCount === 1;
}

/**
 * The mail an order's end sends to whoever placed it, queued in the transaction that ends the order (called by
 * transitionOrder): one per order, attempt and outcome. Built from the order row itself, in one statement.
 */
export async function queueOrderFinishedMail(
  db: Queryable,
  orderId: string,
  status: Extract<OrderStatus, 'done' | 'failed'>,
): Promise<void> {
  await db.query(
    `WITH queued AS (
       INSERT INTO mail_outbox (id, kind, recipient, language, data, dedupe_key)
       SELECT gen_random_uuid(), 'order-finished', u.email, u.language,
              jsonb_build_object('kind', 'order-finished', 'orderId', o.id, 'orderType', o.type, 'status', $2::text,
                                 'attempt', o.attempt, 'instanceName', i.name, 'failureReason', o.failure_reason,
                                 'failureReasonParts', o.failure_reason_parts),
              'order:' || o.id || ':' || o.attempt || ':' || $2
         FROM orders o JOIN instances i ON i.id = o.instance_id JOIN users u ON u.id = o.actor_user_id
        WHERE o.id = $1 AND u.removed_at IS NULL AND ${DELIVERABLE}
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id)
     SELECT pg_notify($3, id::text) FROM queued`,
    [orderId, status, MAIL_OUTBOX_CHANNEL],
  );
}

type ClaimedMail = {
  id: string;
  recipient: string;
  language: Language;
  data: MailData;
  sealedSecret: string | null;
  messageId: string;
};

/**
 * Claims a due pending mail for sending (pending → sending) and records the Message-ID it will carry, committed
 * before the SMTP server sees anything. Answers undefined when it is not due or someone else has it.
 */
export async function claimMail(
  db: Queryable,
  id: string,
  messageId: string,
): Promise<(ClaimedMail & { attempts: number }) | undefined> {
  const result = await db.query<ClaimedMail & { attempts: number }>(
    `UPDATE mail_outbox SET state = 'sending', message_id = $2, sending_since = now(), attempts = attempts + 1
      WHERE id = $1 AND state = 'pending' AND next_attempt_at <= now()
      RETURNING id, recipient, language, data, sealed_secret AS "sealedSecret", message_id AS "messageId",
                attempts`,
    [id, messageId],
  );
  return result.rows[0];
}

/** The SMTP server accepted the mail: sent, and its secret part is gone. */
export async function markMailSent(db: Queryable, id: string, smtpResponse: string): Promise<void> {
  await db.query(
    `UPDATE mail_outbox SET state = 'sent', sent_at = now(), smtp_response = $2, sealed_secret = NULL,
            last_error = NULL
      WHERE id = $1 AND state = 'sending'`,
    [id, smtpResponse.slice(0, 500)],
  );
}

/** The SMTP server did not take the mail: back to pending, due again in `retryAfterMs`. */
export async function markMailRetry(
  db: Queryable,
  id: string,
  error: string,
  retryAfterMs: number,
): Promise<void> {
  await db.query(
    `UPDATE mail_outbox SET state = 'pending', last_error = $2, sending_since = NULL,
            next_attempt_at = now() + make_interval(secs => $3)
      WHERE id = $1 AND state = 'sending'`,
    [id, error.slice(0, 500), retryAfterMs / 1000],
  );
}

/**
 * Mails left `sending` longer than `leaseSeconds` belong to a sender that died while talking to the SMTP server: the
 * mail may have arrived. They are never sent again by themselves (a mail twice is worse than an operator's look);
 * they become `unconfirmed`, to be checked by their Message-ID.
 */
export async function markAbandonedMailsUnconfirmed(db: Queryable, leaseSeconds: number): Promise<number> {
  const result = await db.query(
    `UPDATE mail_outbox SET state = 'unconfirmed',
            last_error = 'the sender stopped while handing this mail to the SMTP server; it may have arrived'
      WHERE state = 'sending' AND sending_since < now() - make_interval(secs => $1)`,
    [leaseSeconds],
  );
  return result.rowCount ?? 0;
}

/** An operator checked an unconfirmed mail and wants it sent (again). */
export async function requeueMail(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    `WITH requeued AS (
       UPDATE mail_outbox SET state = 'pending', next_attempt_at = now(), sending_since = NULL
        WHERE id = $1 AND state = 'unconfirmed' RETURNING id)
     SELECT pg_notify($2, id::text) FROM requeued`,
    [id, MAIL_OUTBOX_CHANNEL],
  );
  return result.rowCount === 1;
}

export async function listDueMailIds(db: Queryable, limit: number): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at LIMIT $1`,
    [limit],
  );
  return result.rows.map((row) => row.id);
}

export async function listOutbox(
  db: Queryable,
  filter: { state?: MailState; limit: number },
): Promise<OutboxMail[]> {
  const result = await db.query<OutboxMail>(
    `SELECT ${OUTBOX_COLUMNS} FROM mail_outbox m WHERE ($1::text IS NULL OR m.state = $1)
      ORDER BY m.created_at DESC LIMIT $2`,
    [filter.state ?? null, filter.limit],
  );
  return result.rows;
}

export async function countOutboxByState(db: Queryable): Promise<Record<MailState, number>> {
  const result = await db.query<{ state: MailState; count: number }>(
    `SELECT state, count(*)::int AS count FROM mail_outbox GROUP BY state`,
  );
  const counts: Record<MailState, number> = { pending: 0, sending: 0, sent: 0, unconfirmed: 0 };
  for (const row of result.rows) counts[row.state] = row.count;
  return counts;
}
