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
          description:
            'Records what DNS answers. Once the CNAME (or the same addresses) is seen and the certificate is ' +
            'there, places the `custom-domain` change order (`orderId`): the edge serves the name beside the ' +
            "instance's own on the same port, and Keycloak restarts with it as its hostname. 409 while another " +
            'order of the instance runs. An ACME domain has no certificate yet: the check queues it (HTTP-01 ' +
            "through the edge's plain-HTTP listener), and the worker places the order itself once it is there " +
            '(a failure: `status` `failed`, `message` with `messageCode` `domain.acmeFailed` and the next attempt). ' +
            'ACME certificates are renewed 30 days before their end, without an order.',
          tags: ['domains'],
          params: idParamsSchema,
          response: { 200: customDomainSchema, ...problemResponses(401, 403, 404, 409) },
        },
      },
      async (request) => domains.checkDns(signedInActorOf(request), request.params.id),
    );

    app.delete(
      '/api/v1/instances/:id/domain',
      {
        config: { permission: 'instances:change' },
        schema: {
          operationId: 'removeInstanceDomain',
          summary: 'Remove the custom domain; the instance is reached at its own host name again',
          description:
            'While Keycloak answers as the domain, places the `custom-domain` change order back to the ' +
            "instance's own host name first (`orderId`; 409 while another order runs, and nothing is removed).",
          tags: ['domains'],
          params: idParamsSchema,
          response: {
            200: z.object({ orderId: z.uuid().nullable() }).describe('Removed'),
            ...problemResponses(401, 403, 404, 409),
          },
        },
      },
      async (request) => domains.remove(signedInActorOf(request), request.params.id),
    );
  };
}
