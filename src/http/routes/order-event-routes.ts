import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { OrderEventHub } from '../../orders/order-event-hub.js';
import type { OrderService } from '../../orders/order-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

/** A safety net beside the notifications: the stream re-reads the order at least this often. */
const REFRESH_MS = 5_000;

export function orderEventRoutes(orders: OrderService, hub: OrderEventHub): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/orders/:id/events',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'streamOrderEvents',
          summary:
            'Server-sent events: the order (status and steps) on every change, until it is done or failed',
          description: 'Each event is `event: order` with the whole order as JSON in `data`.',
          tags: ['orders'],
          params: idParamsSchema,
          response: { 200: z.string().describe('text/event-stream'), ...problemResponses(401, 404) },
        },
      },
      async (request, reply) => {
        const organizationId = signedInActorOf(request).principal.organizationId;
        // Answers 404 before the stream opens when the order is not the caller's.
        let last = JSON.stringify(await orders.get(organizationId, request.params.id));
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-request-id': request.id,
        });
        const send = (json: string) => raw.write(`event: order\ndata: ${json}\n\n`);
        send(last);

        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          unsubscribe();
          clearInterval(timer);
          raw.end();
        };
        const refresh = async () => {
          try {
            const order = await orders.get(organizationId, request.params.id);
            const json = JSON.stringify(order);
            if (json !== last) send((last = json));
            if (order.status === 'done' || order.status === 'failed') finish();
          } catch (error) {
            request.log.warn({ err: error }, 'order stream refresh failed');
          }
        };
        const unsubscribe = hub.subscribe(request.params.id, () => void refresh());
        const timer = setInterval(() => void refresh(), REFRESH_MS);
        raw.on('close', finish);
        await refresh();
      },
    );
  };
}
