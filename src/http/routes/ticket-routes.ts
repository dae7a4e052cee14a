import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { ticketInputSchema, ticketSchema } from '../../support/ticket-schemas.js';
import type { TicketService } from '../../support/ticket-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';

export function ticketRoutes(tickets: TicketService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/tickets',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listTickets',
          summary: "The organisation's support tickets, newest first",
          tags: ['support'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(ticketSchema), ...problemResponses(400, 401) },
        },
      },
      async (request) => tickets.list(signedInActorOf(request).principal.organizationId, request.query),
    );

    app.post(
      '/api/v1/tickets',
      {
        config: { permission: 'tickets:create' },
        schema: {
          operationId: 'createTicket',
          summary: 'Open a support ticket, optionally about an order or instance',
          tags: ['support'],
          body: ticketInputSchema,
          response: { 201: ticketSchema, ...problemResponses(400, 401, 403) },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await tickets.create(signedInActorOf(request), request.body)),
    );
  };
}
