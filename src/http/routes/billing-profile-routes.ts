import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { billingProfileInputSchema, billingProfileSchema } from '../../billing/billing-profile-schemas.js';
import type { BillingProfileService } from '../../billing/billing-profile-service.js';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';

export function billingProfileRoutes(billingProfiles: BillingProfileService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/billing-profiles',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listBillingProfiles',
          summary: "The organisation's billing profiles",
          tags: ['billing'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(billingProfileSchema), ...problemResponses(400, 401) },
        },
      },
      async (request) =>
        billingProfiles.list(signedInActorOf(request).principal.organizationId, request.query),
    );

    app.post(
      '/api/v1/billing-profiles',
      {
        config: { permission: 'billing-profiles:create' },
        schema: {
          operationId: 'createBillingProfile',
          summary: 'Add a billing profile (company, address, VAT id, invoice e-mail)',
          tags: ['billing'],
          body: billingProfileInputSchema,
          response: { 201: billingProfileSchema, ...problemResponses(400, 401, 403) },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await billingProfiles.create(signedInActorOf(request), request.body)),
    );
  };
}
