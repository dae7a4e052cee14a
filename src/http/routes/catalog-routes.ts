import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Catalog } from '../../catalog/catalog-schemas.js';
import { publicCatalog, publicCatalogSchema } from '../../catalog/catalog-service.js';

export function catalogRoutes(catalog: Catalog): FastifyPluginAsyncZod {
  const body = publicCatalog(catalog);
  return async (app) => {
    app.get(
      '/api/v1/catalog',
      {
        schema: {
          operationId: 'getCatalog',
          summary: 'What can be ordered: service types, node sizes, storage rules, regions, terms, prices',
          tags: ['catalog'],
          security: [],
          response: { 200: publicCatalogSchema },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=300');
        return body;
      },
    );
  };
}
