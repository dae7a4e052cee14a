import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The edge's public face in the API: the CA certificate clients add to their trust store to reach instances. */
export function edgeRoutes(ca: { certificatePem: string }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/ca.pem',
      {
        schema: {
          operationId: 'getCaCertificate',
          summary:
            'The certificate of the local CA that issues the instance endpoints\u2019 TLS certificates (PEM)',
          tags: ['edge'],
          security: [],
          response: { 200: z.string().max(16_384).describe('PEM-encoded X.509 certificate') },
        },
      },
      async (_request, reply) => {
        // A string with a non-JSON content type is sent as is (the response schema documents it).
        reply
          .header('content-type', 'application/x-pem-file')
          .header('content-disposition', 'attachment; filename="keyhouse-ca.pem"')
          .header('cache-control', 'public, max-age=3600');
        return ca.certificatePem;
      },
    );
  };
}
