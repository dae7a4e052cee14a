import fastifyApiReference from '@scalar/fastify-api-reference';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

/**
 * GET /docs: the API reference, rendered by Scalar from the generated document at /api/v1/openapi.json (one
 * source; nothing is written by hand). Scalar's page and script are served from this process, so the reference
 * works offline. /docs redirects to /docs/ so that the page's relative script URL resolves.
 */
export function docsRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    await app.register(fastifyApiReference, {
      routePrefix: '/docs',
      configuration: {
        url: '/api/v1/openapi.json',
        title: 'Keyhouse API reference',
        hideClientButton: false,
      },
    });
  };
}
