import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { logPageSchema, logQuerySchema } from '../../instances/instance-log-schemas.js';
import type { InstanceLogService } from '../../instances/instance-log-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export function instanceLogRoutes(logs: InstanceLogService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances/:id/logs',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'readInstanceLog',
          summary: "The instance's Keycloak log of the last 7 days: the newest entries, optionally searched",
          tags: ['instances'],
          params: idParamsSchema,
          querystring: logQuerySchema,
          response: { 200: logPageSchema, ...problemResponses(400, 401, 404, 409) },
        },
      },
      async (request) =>
        logs.read(signedInActorOf(request).principal.organizationId, request.params.id, request.query),
    );

    app.get(
      '/api/v1/instances/:id/logs/download',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'downloadInstanceLog',
          summary: "The instance's Keycloak log of the last 7 days as a file (the newest 50 000 entries)",
          tags: ['instances'],
          params: idParamsSchema,
          querystring: logQuerySchema.pick({ search: true }),
          response: { 200: z.string().describe('text/plain'), ...problemResponses(400, 401, 404, 409) },
        },
      },
      async (request, reply) => {
        const file = await logs.download(
          signedInActorOf(request).principal.organizationId,
          request.params.id,
          request.query.search,
        );
        return reply
          .type('text/plain; charset=utf-8')
          .header('content-disposition', `attachment; filename="${file.fileName}"`)
          .header('cache-control', 'no-store')
          .send(file.text);
      },
    );

    app.get(
      '/api/v1/instances/:id/logs/stream',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'streamInstanceLog',
          summary: "Server-sent events: the instance's Keycloak log entries as they are written (live tail)",
          description:
            'Each event is `event: entries` with `{ "entries": [{ time, level, text }] }` in `data`.',
          tags: ['instances'],
          params: idParamsSchema,
          response: { 200: z.string().describe('text/event-stream'), ...problemResponses(401, 404, 409) },
        },
      },
      async (request, reply) => {
        // Answers 404 (or 409, 503) before the stream opens.
        const follow = await logs.follow(
          signedInActorOf(request).principal.organizationId,
          request.params.id,
        );
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-request-id': request.id,
        });
        // Tells the client the tail runs (and flushes the headers through proxies).
        raw.write(': following\n\n');
        const controller = new AbortController();
        const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
        raw.on('close', () => controller.abort());
        try {
          for await (const entries of follow(controller.signal))
            raw.write(`event: entries\ndata: ${JSON.stringify({ entries })}\n\n`);
        } catch (error) {
          request.log.warn({ err: error }, 'log tail ended');
        } finally {
          clearInterval(keepalive);
          raw.end();
        }
      },
    );
  };
}
