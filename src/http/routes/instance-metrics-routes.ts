import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { InstanceMetricsService } from '../../metrics/instance-metrics-service.js';
import { instanceMetricsSchema, metricsQuerySchema } from '../../metrics/metrics-schemas.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

export function instanceMetricsRoutes(metrics: InstanceMetricsService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances/:id/metrics',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getInstanceMetrics',
          summary:
            'Requests per second, logins, failed logins, tokens issued, response time p95, JVM heap, CPU and database size over the last hour, day or week',
          tags: ['instances'],
          params: idParamsSchema,
          querystring: metricsQuerySchema,
          response: { 200: instanceMetricsSchema, ...problemResponses(400, 401, 404, 503) },
        },
      },
      async (request) =>
        metrics.get(
          signedInActorOf(request).principal.organizationId,
          request.params.id,
          request.query.range,
        ),
    );
  };
}
