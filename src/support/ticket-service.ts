import { randomUUID } from 'node:crypto';
import { findUser } from '../accounts/account-store.js';
import type { Actor, OperatorPrincipal, SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Database, Queryable } from '../db/database.js';
import { queueMail } from '../mail/mail-outbox-store.js';
import { fieldError } from '../platform/field-errors.js';
import { findInstance } from '../instances/instance-store.js';
import { findOrder } from '../orders/order-store.js';
import { NotFoundError, ValidationError, type FieldError } from '../platform/errors.js';
import type { PageQuery } from '../platform/pagination.js';
import type { Ticket, TicketDetail, TicketInput, TicketStatus } from './ticket-schemas.js';
import {
  findTicket,
  insertTicket,
  insertTicketReply,
  listTicketOperators,
  listTicketReplies,
  listTickets,
  listTicketsForOperators,
  setTicketStatus,
} from './ticket-store.js';

const EXCERPT_LENGTH = 1500;
const excerptOf = (message: string) =>
  message.length > EXCERPT_LENGTH ? `${message.slice(0, EXCERPT_LENGTH)}…` : message;

/**
 * Support tickets and their conversations. A customer's reply (re)opens the ticket and is mailed to the operators
 * who took part; an operator's reply sets it waiting (or the status the operator chooses) and is mailed to the
 * customer who opened it, each in their language. Every change is audited in the customer's organisation.
 */
export function createTicketService({ db, now }: { db: Database; now: () => Date }) {
  async function replyMail(
    tx: Queryable,
    ticket: Ticket,
    replyId: string,
    from: 'customer' | 'operator',
    message: string,
    recipients: { email: string; language: 'de' | 'en' }[],
  ) {
    for (const recipient of recipients) {
      await queueMail(tx, {
        recipient: recipient.email,
        language: recipient.language,
        data: {
          kind: 'ticket-reply',
          ticketId: ticket.id,
          number: ticket.number,
          subject: ticket.subject,
          from,
          excerpt: excerptOf(message),
        },
        dedupeKey: `ticket-reply:${replyId}:${recipient.email}`,
      });
    }
  }

  async function detail(tx: Queryable, ticket: Ticket, view: 'customer' | 'operator'): Promise<TicketDetail> {
    return { ...ticket, replies: await listTicketReplies(tx, ticket.id, view) };
  }

  const strip = <T extends Ticket>({
    id,
    number,
    subject,
    message,
    orderId,
    instanceId,
    status,
    createdBy,
    createdAt,
  }: T) =>
    ({ id, number, subject, message, orderId, instanceId, status, createdBy, createdAt }) satisfies Ticket;

  return {
    async get(actor: SignedInActor, id: string): Promise<TicketDetail> {
      const ticket = await findTicket(db.pool, id, actor.principal.organizationId);
      if (!ticket) throw new NotFoundError('Ticket');
      return detail(db.pool, strip(ticket), 'customer');
    },

    reply(actor: SignedInActor, id: string, message: string): Promise<TicketDetail> {
      return db.transaction(async (tx) => {
        const ticket = await findTicket(tx, id, actor.principal.organizationId);
        if (!ticket) throw new NotFoundError('Ticket');
        const replyId = randomUUID();
        await insertTicketReply(tx, {
          id: replyId,
          ticketId: id,
          authorUserId: actor.principal.userId,
          authorKind: 'customer',
          message,
          now: now(),
        });
        await setTicketStatus(tx, id, 'open');
        await replyMail(tx, ticket, replyId, 'customer', message, await listTicketOperators(tx, id));
        await recordAudit(tx, actor, { action: 'ticket.reply', targetType: 'ticket', targetId: id });
        return detail(tx, strip({ ...ticket, status: 'open' }), 'customer');
      });
    },

    listForOperators: (filter: PageQuery & { status?: TicketStatus }) =>
      listTicketsForOperators(db.pool, filter),

    async getForOperator(id: string): Promise<TicketDetail & { organizationId: string }> {
      const ticket = await findTicket(db.pool, id);
      if (!ticket) throw new NotFoundError('Ticket');
      return { ...(await detail(db.pool, strip(ticket), 'operator')), organizationId: ticket.organizationId };
    },

    operatorReply(
      actor: Actor & { operator: OperatorPrincipal },
      id: string,
      input: { message: string; status?: TicketStatus },
    ): Promise<TicketDetail> {
      return db.transaction(async (tx) => {
        const ticket = await findTicket(tx, id);
        if (!ticket) throw new NotFoundError('Ticket');
        const status = input.status ?? 'waiting';
        const replyId = randomUUID();
        await insertTicketReply(tx, {
          id: replyId,
          ticketId: id,
          authorUserId: actor.operator.userId,
          authorKind: 'operator',
          message: input.message,
          now: now(),
        });
        await setTicketStatus(tx, id, status);
        const customer = await findUser(tx, ticket.createdById);
        await replyMail(tx, ticket, replyId, 'operator', input.message, customer ? [customer] : []);
        await recordAudit(tx, actor, {
          organizationId: ticket.organizationId,
          action: 'ticket.reply',
          targetType: 'ticket',
          targetId: id,
          details: { status },
        });
        return detail(tx, strip({ ...ticket, status }), 'operator');
      });
    },

    setStatusByOperator(actor: Actor & { operator: OperatorPrincipal }, id: string, status: TicketStatus) {
      return db.transaction(async (tx) => {
        const ticket = await findTicket(tx, id);
        if (!ticket) throw new NotFoundError('Ticket');
        await setTicketStatus(tx, id, status);
        await recordAudit(tx, actor, {
          organizationId: ticket.organizationId,
          action: 'ticket.status',
          targetType: 'ticket',
          targetId: id,
          details: { from: ticket.status, to: status },
        });
        return detail(tx, strip({ ...ticket, status }), 'operator');
      });
    },

    list: (organizationId: string, page: PageQuery) => listTickets(db.pool, organizationId, page),

    create: (actor: SignedInActor, input: TicketInput) =>
      db.transaction(async (tx) => {
        const organizationId = actor.principal.organizationId;
        const problems: FieldError[] = [];
        // Linked resources must be the organisation's own; another tenant's id reads as unknown.
        if (input.orderId && !(await findOrder(tx, organizationId, input.orderId))) {
          problems.push(fieldError('orderId', 'ticket.orderUnknown'));
        }
        if (input.instanceId && !(await findInstance(tx, organizationId, input.instanceId))) {
          problems.push(fieldError('instanceId', 'ticket.instanceUnknown'));
        }
        if (problems.length) throw new ValidationError(problems);
        const ticket = await insertTicket(tx, {
          ...input,
          organizationId,
          createdBy: actor.principal.userId,
        });
        await recordAudit(tx, actor, {
          action: 'ticket.create',
          targetType: 'ticket',
          targetId: ticket.id,
          details: { number: ticket.number, orderId: ticket.orderId, instanceId: ticket.instanceId },
        });
        return ticket;
      }),
  };
}
export type TicketService = ReturnType<typeof createTicketService>;
