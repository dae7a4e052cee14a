import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { instanceThemesSchema, themeUploadSchema, themeVersionSchema } from '../../themes/theme-schemas.js';
import type { ThemeService } from '../../themes/theme-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

/** A 5 MB archive as base64 in JSON, and room for the rest of the body. */
const UPLOAD_BODY_LIMIT = 7 * 1024 * 1024 + 64 * 1024;

export function themeRoutes(themes: ThemeService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances/:id/themes',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listInstanceThemes',
          summary: "The instance's login themes: every uploaded version and the one deployed",
          tags: ['themes'],
          params: idParamsSchema,
          response: { 200: instanceThemesSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => themes.list(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.post(
      '/api/v1/instances/:id/themes',
      {
        config: { permission: 'instances:change' },
        bodyLimit: UPLOAD_BODY_LIMIT,
        schema: {
          operationId: 'uploadInstanceTheme',
          summary:
            'Upload a login theme (zip or JAR, base64) as its next version; deploy it with a theme-deploy order',
          description:
            'The archive is checked before anything is stored: at most 5 MB (20 MB unpacked, 1000 files), no path ' +
            "leaving the theme's folder, no classes or libraries (themes only: code extensions are not allowed on " +
            "a shared host), a name that is not Keycloak's own. A refusal names the field `archive`.",
          tags: ['themes'],
          params: idParamsSchema,
          body: themeUploadSchema,
          response: { 201: themeVersionSchema, ...problemResponses(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request, reply) => {
        const version = await themes.upload(signedInActorOf(request), request.params.id, request.body);
        return reply.status(201).send(version);
      },
    );
  };
}
