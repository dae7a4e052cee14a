import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { z } from 'zod';
import {
  ticketDetailSchema,
  ticketInputSchema,
  ticketReplyInputSchema,
  ticketSchema,
} from '../../support/ticket-schemas.js';
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

    app.get(
      '/api/v1/tickets/:id',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getTicket',
          summary: 'A ticket with its conversation (your replies and the provider support team’s)',
          tags: ['support'],
          params: z.object({ id: z.uuid() }),
          response: { 200: ticketDetailSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => tickets.get(signedInActorOf(request), request.params.id),
    );

    app.post(
      '/api/v1/tickets/:id/replies',
      {
        config: { permission: 'tickets:create' },
        schema: {
          operationId: 'replyToTicket',
          summary: 'Reply in a ticket’s conversation; the ticket is open again for the support team',
          tags: ['support'],
          params: z.object({ id: z.uuid() }),
          body: ticketReplyInputSchema,
          response: { 201: ticketDetailSchema, ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await tickets.reply(signedInActorOf(request), request.params.id, request.body.message)),
    );
  };
}
