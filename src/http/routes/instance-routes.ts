import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { credentialsSchema, instancePatchSchema, instanceSchema } from '../../instances/instance-schemas.js';
import type { InstanceService } from '../../instances/instance-service.js';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

export function instanceRoutes(instances: InstanceService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listInstances',
          summary: "The organisation's instances, newest first",
          tags: ['instances'],
          querystring: pageQuerySchema,
          response: { 200: pageSchema(instanceSchema), ...problemResponses(400, 401) },
        },
      },
      async (request) => instances.list(signedInActorOf(request).principal.organizationId, request.query),
    );

    app.get(
      '/api/v1/instances/:id',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'getInstance',
          summary: 'One instance: URL, admin user, spec, conditions and storage usage',
          tags: ['instances'],
          params: idParamsSchema,
          response: { 200: instanceSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => instances.get(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.patch(
      '/api/v1/instances/:id',
      {
        config: { permission: 'instances:delete' },
        schema: {
          operationId: 'updateInstance',
          summary: 'Turn deletion protection on or off (audited)',
          tags: ['instances'],
          params: idParamsSchema,
          body: instancePatchSchema,
          response: { 200: instanceSchema, ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request) =>
        instances.setDeletionProtection(
          signedInActorOf(request),
          request.params.id,
          request.body.deletionProtection,
        ),
    );

    app.post(
      '/api/v1/instances/:id/credentials/reveal',
      {
        config: { permission: 'instances:reveal-credentials' },
        schema: {
          operationId: 'revealInstanceCredentials',
          summary: "Show the instance admin's credentials (audited)",
          tags: ['instances'],
          params: idParamsSchema,
          response: { 200: credentialsSchema, ...problemResponses(401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return instances.revealCredentials(signedInActorOf(request), request.params.id);
      },
    );
  };
}
