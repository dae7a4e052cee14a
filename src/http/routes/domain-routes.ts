import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { customDomainSchema, domainRequestSchema } from '../../domains/domain-schemas.js';
import type { DomainService } from '../../domains/domain-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

export function domainRoutes(domains: DomainService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances/:id/domain',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getInstanceDomain',
          summary: "The instance's custom domain: the CNAME to create, DNS and certificate status",
          tags: ['domains'],
          params: idParamsSchema,
          response: { 200: customDomainSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => domains.get(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.put(
      '/api/v1/instances/:id/domain',
      {
        config: { permission: 'instances:change' },
        schema: {
          operationId: 'setInstanceDomain',
          summary: 'Set the custom domain, with an uploaded certificate (checked first) or one by ACME',
          description:
            'An uploaded certificate must match its key, come with a complete chain, cover the host name and be ' +
            'valid now; each refusal names its field. A host name in use by any other instance is refused at ' +
            '`hostname`. Then create the CNAME shown and check it (POST …/domain/check).',
          tags: ['domains'],
          params: idParamsSchema,
          body: domainRequestSchema,
          response: { 200: customDomainSchema, ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request) => domains.set(signedInActorOf(request), request.params.id, request.body),
    );

    app.post(
      '/api/v1/instances/:id/domain/check',
      {
        config: { permission: 'instances:change' },
        schema: {
          operationId: 'checkInstanceDomain',
          summary: 'Check now whether DNS points the custom domain at the instance',
          tags: ['domains'],
          params: idParamsSchema,
          response: { 200: customDomainSchema, ...problemResponses(401, 403, 404) },
        },
      },
      async (request) =>
        domains.checkDns(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.delete(
      '/api/v1/instances/:id/domain',
      {
        config: { permission: 'instances:change' },
        schema: {
          operationId: 'removeInstanceDomain',
          summary: 'Remove the custom domain; the instance is reached at its own host name again',
          tags: ['domains'],
          params: idParamsSchema,
          response: { 204: z.null().describe('Removed'), ...problemResponses(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await domains.remove(signedInActorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
