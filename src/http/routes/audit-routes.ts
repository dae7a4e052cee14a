import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { auditPageSchema, auditQuerySchema } from '../../audit/audit-schemas.js';
import type { AuditService } from '../../audit/audit-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';

export function auditRoutes(audit: AuditService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/audit-events',
      {
        config: { permission: 'audit:read' },
        schema: {
          operationId: 'listAuditEvents',
          summary: 'Who did what, when, from where (admins and managers), newest first',
          tags: ['audit'],
          querystring: auditQuerySchema,
          response: { 200: auditPageSchema, ...problemResponses(400, 401, 403) },
        },
      },
      async (request) => audit.list(signedInActorOf(request).principal.organizationId, request.query),
    );
  };
}
