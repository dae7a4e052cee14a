import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { findInstance } from '../instances/instance-store.js';
import { findOrder } from '../orders/order-store.js';
import { ValidationError, type FieldError } from '../platform/errors.js';
import type { PageQuery } from '../platform/pagination.js';
import type { TicketInput } from './ticket-schemas.js';
import { insertTicket, listTickets } from './ticket-store.js';

export function createTicketService({ db }: { db: Database }) {
  return {
    list: (organizationId: string, page: PageQuery) => listTickets(db.pool, organizationId, page),

    create: (actor: SignedInActor, input: TicketInput) =>
      db.transaction(async (tx) => {
        const organizationId = actor.principal.organizationId;
        const problems: FieldError[] = [];
        // Linked resources must be the organisation's own; another tenant's id reads as unknown.
        if (input.orderId && !(await findOrder(tx, organizationId, input.orderId))) {
          problems.push({ path: 'orderId', message: 'No order with this id in your organisation.' });
        }
        if (input.instanceId && !(await findInstance(tx, organizationId, input.instanceId))) {
          problems.push({ path: 'instanceId', message: 'No instance with this id in your organisation.' });
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
