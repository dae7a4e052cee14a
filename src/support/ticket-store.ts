import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { Ticket, TicketInput } from './ticket-schemas.js';

type TicketRow = {
  id: string;
  number: number;
  subject: string;
  message: string;
  order_id: string | null;
  instance_id: string | null;
  status: 'open' | 'closed';
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
