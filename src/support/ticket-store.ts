import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { Ticket, TicketInput, TicketReply, TicketStatus } from './ticket-schemas.js';

type TicketRow = {
  id: string;
  number: number;
  subject: string;
  message: string;
  order_id: string | null;
  instance_id: string | null;
  status: TicketStatus;
  created_by_email: string;
  created_at: string;
};

const toTicket = (row: TicketRow): Ticket => ({
  id: row.id,
  number: row.number,
  subject: row.subject,
  message: row.message,
  orderId: row.order_id,
  instanceId: row.instance_id,
  status: row.status,
  createdBy: row.created_by_email,
  createdAt: row.created_at,
});

const SELECT = `SELECT t.*, u.email AS created_by_email FROM tickets t JOIN users u ON u.id = t.created_by`;

export async function insertTicket(
  db: Queryable,
  ticket: TicketInput & { organizationId: string; createdBy: string },
): Promise<Ticket> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO tickets (id, organization_id, subject, message, order_id, instance_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      id,
      ticket.organizationId,
      ticket.subject,
      ticket.message,
      ticket.orderId ?? null,
      ticket.instanceId ?? null,
      ticket.createdBy,
    ],
  );
  const { rows } = await db.query<TicketRow>(`${SELECT} WHERE t.id = $1`, [id]);
  return toTicket(rows[0]!);
}

export async function listTickets(
  db: Queryable,
  organizationId: string,
  page: PageQuery,
): Promise<Page<Ticket>> {
  const after = page.cursor;
  const { rows } = await db.query<TicketRow>(
    `${SELECT} WHERE t.organization_id = $1 AND ($2::timestamptz IS NULL OR (t.created_at, t.id) < ($2, $3::uuid))
      ORDER BY t.created_at DESC, t.id DESC LIMIT $4`,
    [organizationId, after?.createdAt ?? null, after?.id ?? null, page.limit + 1],
  );
  return toPage(rows.map(toTicket), page.limit);
}

/** One ticket; with `organizationId`, only if it is that organisation's (customers), else any (operators). */
export async function findTicket(
  db: Queryable,
  id: string,
  organizationId?: string,
): Promise<(Ticket & { organizationId: string; createdById: string }) | undefined> {
  const { rows } = await db.query<TicketRow & { organization_id: string; created_by: string }>(
    `${SELECT} WHERE t.id = $1 AND ($2::uuid IS NULL OR t.organization_id = $2)`,
    [id, organizationId ?? null],
  );
  const row = rows[0];
  return row && { ...toTicket(row), organizationId: row.organization_id, createdById: row.created_by };
}

/** The conversation, oldest first. Customers see the provider's side as one voice, operators see who wrote. */
export async function listTicketReplies(
  db: Queryable,
  ticketId: string,
  view: 'customer' | 'operator',
): Promise<TicketReply[]> {
  const { rows } = await db.query<TicketReply>(
    `SELECT r.id, r.author_kind AS "authorKind",
            CASE WHEN r.author_kind = 'operator' AND $2 = 'customer' THEN 'Keyhouse support' ELSE u.email END AS author,
            r.message, r.created_at AS "createdAt"
       FROM ticket_replies r JOIN users u ON u.id = r.author_user_id
      WHERE r.ticket_id = $1 ORDER BY r.position`,
    [ticketId, view],
  );
  return rows;
}

export async function insertTicketReply(
  db: Queryable,
  reply: {
    id: string;
    ticketId: string;
    authorUserId: string;
    authorKind: 'customer' | 'operator';
    message: string;
    now: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO ticket_replies (id, ticket_id, author_user_id, author_kind, message, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [reply.id, reply.ticketId, reply.authorUserId, reply.authorKind, reply.message, reply.now],
  );
}

export async function setTicketStatus(db: Queryable, ticketId: string, status: TicketStatus): Promise<void> {
  await db.query('UPDATE tickets SET status = $2, updated_at = now() WHERE id = $1', [ticketId, status]);
}

/** Operators who took part in a ticket's conversation: a customer's reply is mailed to them. */
export async function listTicketOperators(
  db: Queryable,
  ticketId: string,
): Promise<{ email: string; language: 'de' | 'en' }[]> {
  const { rows } = await db.query<{ email: string; language: 'de' | 'en' }>(
    `SELECT DISTINCT u.email, u.language FROM ticket_replies r JOIN users u ON u.id = r.author_user_id
      WHERE r.ticket_id = $1 AND r.author_kind = 'operator' AND u.removed_at IS NULL`,
    [ticketId],
  );
  return rows;
}

/** The inbox of every organisation's tickets, optionally by status, newest activity first. */
export async function listTicketsForOperators(
  db: Queryable,
  filter: PageQuery & { status?: TicketStatus },
): Promise<Page<Ticket & { organizationName: string; customerNumber: string; updatedAt: string }>> {
  const after = filter.cursor;
  const { rows } = await db.query<
    TicketRow & { organization_name: string; customer_number: string; updated_at: string }
  >(
    `SELECT t.*, u.email AS created_by_email, g.name AS organization_name, g.customer_number
       FROM tickets t JOIN users u ON u.id = t.created_by JOIN organizations g ON g.id = t.organization_id
      WHERE ($1::text IS NULL OR t.status = $1)
        AND ($2::timestamptz IS NULL OR (t.created_at, t.id) < ($2, $3::uuid))
      ORDER BY t.created_at DESC, t.id DESC LIMIT $4`,
    [filter.status ?? null, after?.createdAt ?? null, after?.id ?? null, filter.limit + 1],
  );
  return toPage(
    rows.map((row) => ({
      ...toTicket(row),
      organizationName: row.organization_name,
      customerNumber: row.customer_number,
      updatedAt: row.updated_at,
    })),
    filter.limit,
  );
}
