import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryNumber } from '../../platform/query-schemas.js';
import { mailStateSchema, outboxMailSchema } from '../../mail/mail-schemas.js';
import {
  opsInstanceSchema,
  opsOrderDetailSchema,
  opsOrderFilterSchema,
  opsOrderSummarySchema,
  organizationRefSchema,
  regionCapacitySchema,
  regionFilterSchema,
  retryOrderRequestSchema,
} from '../../operators/operator-schemas.js';
import type { OperatorService } from '../../operators/operator-service.js';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import {
  operatorTicketReplyInputSchema,
  ticketDetailSchema,
  ticketSchema,
  ticketStatusPatchSchema,
  ticketStatusSchema,
} from '../../support/ticket-schemas.js';
import type { TicketService } from '../../support/ticket-service.js';
import { warmPoolStatusSchema } from '../../warm-pool/warm-pool-schemas.js';
import { operatorActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';

/**
 * The operator console's API under /api/v1/ops. For anybody but a signed-in operator every route answers exactly
 * like an unknown one (404), and none is in the public OpenAPI document.
 */
export function operatorRoutes(operators: OperatorService, tickets: TicketService): FastifyPluginAsyncZod {
  const read = { operatorPermission: 'ops:read' } as const;
  const act = { operatorPermission: 'ops:act' } as const;
  const hide = true;
  const id = z.object({ id: z.uuid() });
  return async (app) => {
    app.get(
      '/api/v1/ops/orders',
      {
        config: read,
        schema: {
          hide,
          querystring: opsOrderFilterSchema,
          response: { 200: pageSchema(opsOrderSummarySchema) },
        },
      },
      async (request) => operators.listOrders(request.query),
    );

    app.get(
      '/api/v1/ops/orders/:id',
      { config: read, schema: { hide, params: id, response: { 200: opsOrderDetailSchema } } },
      async (request) => operators.getOrder(request.params.id),
    );

    app.post(
      '/api/v1/ops/orders/:id/retry',
      {
        config: act,
        schema: {
          hide,
          params: id,
          body: retryOrderRequestSchema,
          response: { 200: opsOrderDetailSchema, ...problemResponses(400, 403, 404, 409) },
        },
      },
      async (request) =>
        operators.retryOrder(operatorActorOf(request), request.params.id, request.body.attempt),
    );

    app.post(
      '/api/v1/ops/orders/:id/cancel',
      {
        config: act,
        schema: {
          hide,
          params: id,
          response: { 200: opsOrderDetailSchema, ...problemResponses(403, 404, 409) },
        },
      },
      async (request) => operators.cancelOrder(operatorActorOf(request), request.params.id),
    );

    app.get(
      '/api/v1/ops/instances',
      {
        config: read,
        schema: {
          hide,
          querystring: pageQuerySchema.extend({
            region: regionFilterSchema.optional(),
            organizationId: z.uuid().optional(),
            includeDeleted: z.stringbool().optional(),
          }),
          response: { 200: pageSchema(opsInstanceSchema) },
        },
      },
      async (request) => operators.listInstances(request.query),
    );

    app.get(
      '/api/v1/ops/organizations',
      {
        config: read,
        schema: { hide, response: { 200: z.object({ items: z.array(organizationRefSchema) }) } },
      },
      async () => ({ items: await operators.listOrganizations() }),
    );

    app.get(
      '/api/v1/ops/capacity',
      {
        config: read,
        schema: { hide, response: { 200: z.object({ regions: z.array(regionCapacitySchema) }) } },
      },
      async () => ({ regions: await operators.capacity() }),
    );

    app.get(
      '/api/v1/ops/warm-pool',
      {
        config: read,
        schema: { hide, response: { 200: z.object({ pools: z.array(warmPoolStatusSchema) }) } },
      },
      async () => ({ pools: await operators.warmPool() }),
    );

    app.get(
      '/api/v1/ops/tickets',
      {
        config: read,
        schema: {
          hide,
          querystring: pageQuerySchema.extend({ status: ticketStatusSchema.optional() }),
          response: {
            200: pageSchema(
              ticketSchema.extend({
                organizationName: z.string(),
                customerNumber: z.string(),
                updatedAt: z.string(),
              }),
            ),
          },
        },
      },
      async (request) => tickets.listForOperators(request.query),
    );

    app.get(
      '/api/v1/ops/tickets/:id',
      {
        config: read,
        schema: {
          hide,
          params: id,
          response: { 200: ticketDetailSchema.extend({ organizationId: z.uuid() }) },
        },
      },
      async (request) => tickets.getForOperator(request.params.id),
    );

    app.post(
      '/api/v1/ops/tickets/:id/replies',
      {
        config: act,
        schema: {
          hide,
          params: id,
          body: operatorTicketReplyInputSchema,
          response: { 201: ticketDetailSchema, ...problemResponses(400, 403, 404) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await tickets.operatorReply(operatorActorOf(request), request.params.id, request.body)),
    );

    app.patch(
      '/api/v1/ops/tickets/:id',
      {
        config: act,
        schema: {
          hide,
          params: id,
          body: ticketStatusPatchSchema,
          response: { 200: ticketDetailSchema, ...problemResponses(400, 403, 404) },
        },
      },
      async (request) =>
        tickets.setStatusByOperator(operatorActorOf(request), request.params.id, request.body.status),
    );

    app.get(
      '/api/v1/ops/mail',
      {
        config: read,
        schema: {
          hide,
          querystring: z.object({
            state: mailStateSchema.optional(),
            limit: queryNumber(z.coerce.number().int().min(1).max(200).default(50)),
          }),
          response: {
            200: z.object({ items: z.array(outboxMailSchema), counts: z.record(mailStateSchema, z.int()) }),
          },
        },
      },
      async (request) => operators.outbox(request.query),
    );

    app.post(
      '/api/v1/ops/mail/:id/resend',
      {
        config: act,
        schema: { hide, params: id, response: { 204: z.null(), ...problemResponses(403, 404) } },
      },
      async (request, reply) => {
        await operators.resendMail(operatorActorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
