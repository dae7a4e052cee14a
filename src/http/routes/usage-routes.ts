import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { usageQuerySchema, usageSchema } from '../../billing/usage-schemas.js';
import type { UsageService } from '../../billing/usage-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

export function usageRoutes(usage: UsageService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/billing-profiles/:id/usage',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getBillingProfileUsage',
          summary: 'Metered usage of a month: lines per instance and size, total in cents',
          description:
            'Hourly from the next full hour after provisioning to the hour of deletion (in full); an hour with a ' +
            'scale is billed at the higher size; storage at pricePerStepPerMonth / 730 per step and hour. Exact ' +
            'integer arithmetic; each line rounded half up to cents, the total is the sum of the lines.',
          tags: ['billing'],
          params: idParamsSchema,
          querystring: usageQuerySchema,
          response: { 200: usageSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) =>
        usage.monthly(
          signedInActorOf(request).principal.organizationId,
          request.params.id,
          request.query.month,
        ),
    );
  };
}
