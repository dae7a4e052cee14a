import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Catalog } from '../../catalog/catalog-schemas.js';
import { createOrderRequestSchema, orderSchema, orderStatusSchema } from '../../orders/order-schemas.js';
import { backupChangeOrderBodySchemas } from '../../backups/backup-schemas.js';
import type { OrderService, PlacedOrder } from '../../orders/order-service.js';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idempotencyHeadersSchema, idParamsSchema } from '../request-schemas.js';

/**
 * The body as documented, bounded; the rules that depend on the catalog and the instance (grow only, newer only,
 * the typed name, the region's trusted-source rules) are applied by the service with changeOrderRequestSchema.
 */
const changeOrderBodySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('scale'), nodeSize: z.string().max(40) }),
  z.strictObject({ type: z.literal('storage'), storageGb: z.int().min(0).max(100_000) }),
  z.strictObject({
    type: z.literal('trusted-sources'),
    trustedSources: z.array(z.string().max(64)).max(200),
  }),
  z.strictObject({
    type: z.literal('admin-sources'),
    adminSources: z.array(z.string().max(64)).max(200).nullable(),
  }),
  z.strictObject({ type: z.literal('restart') }),
  z.strictObject({ type: z.literal('upgrade'), version: z.string().max(20) }),
  z.strictObject({ type: z.literal('delete'), confirmName: z.string().max(63) }),
  z.strictObject({ type: z.literal('theme-deploy'), name: z.string().max(63), version: z.int().min(1) }),
  z.strictObject({ type: z.literal('theme-remove'), name: z.string().max(63) }),
  ...backupChangeOrderBodySchemas,
]);

export function orderRoutes(orders: OrderService, catalog: Catalog): FastifyPluginAsyncZod {
  /** First acceptance: 201. A retry with the same Idempotency-Key: 200 with the same order. */
  const answer = (reply: FastifyReply, placed: PlacedOrder) => {
    reply.status(placed.replayed ? 200 : 201).header('idempotent-replayed', String(placed.replayed));
    return placed.order;
  };

  return async (app) => {
    app.post(
      '/api/v1/orders',
      {
        config: { permission: 'orders:create' },
        schema: {
          operationId: 'createOrder',
          summary: 'Order a new Keycloak instance (with costs)',
          description:
            'Validates every field against the catalog, computes the price on the server and stores the order in ' +
            'status `new`. Send an `Idempotency-Key` header to make retries safe.',
          tags: ['orders'],
          headers: idempotencyHeadersSchema,
          body: createOrderRequestSchema(catalog),
          response: {
            201: orderSchema,
            200: orderSchema.describe('The order placed earlier with the same Idempotency-Key'),
            ...problemResponses(400, 401, 403, 413, 415, 422),
          },
        },
      },
      async (request, reply) =>
        answer(
          reply,
          await orders.placeOrder(signedInActorOf(request), request.body, request.headers['idempotency-key']),
        ),
    );

    app.get(
      '/api/v1/orders',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listOrders',
          summary: "The organisation's orders, newest first",
          tags: ['orders'],
          querystring: pageQuerySchema.extend({
            status: orderStatusSchema.optional(),
            instanceId: z.uuid().optional(),
          }),
          response: { 200: pageSchema(orderSchema), ...problemResponses(400, 401) },
        },
      },
      async (request) => {
        const { status, instanceId, ...page } = request.query;
        return orders.list(signedInActorOf(request).principal.organizationId, { status, instanceId }, page);
      },
    );

    app.get(
      '/api/v1/orders/:id',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getOrder',
          summary: 'One order with its status and provisioning steps',
          tags: ['orders'],
          params: idParamsSchema,
          response: { 200: orderSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => orders.get(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.post(
      '/api/v1/instances/:id/orders',
      {
        // The service checks the permission of the change's type: deleting is for managers, changing for technicians.
        config: { permission: 'read' },
        schema: {
          operationId: 'createChangeOrder',
          summary:
            'Change an instance: scale, storage, trusted-sources, restart, upgrade, delete, backup, restore or ' +
            'backup-policy',
          description:
            'An order with the same life cycle as the first one, with its price and price delta. Refused with 409 ' +
            'while another order of the instance runs (`runningOrder` links to it). `Idempotency-Key` honoured.',
          tags: ['orders'],
          params: idParamsSchema,
          headers: idempotencyHeadersSchema,
          body: changeOrderBodySchema,
          response: {
            201: orderSchema,
            200: orderSchema.describe('The order placed earlier with the same Idempotency-Key'),
            ...problemResponses(400, 401, 403, 404, 409, 422),
          },
        },
      },
      async (request, reply) =>
        answer(
          reply,
          await orders.placeChangeOrder(
            signedInActorOf(request),
            request.params.id,
            request.body,
            request.headers['idempotency-key'],
          ),
        ),
    );
  };
}
