import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import {
  authenticateRequest,
  authorizeRequest,
  hideOperatorRoutes,
  sendNoRoute,
  type Authenticator,
} from './auth-guard.js';
import { completeOpenApiDocument } from './openapi-examples.js';
import { handleError } from './problem.js';

export type HttpServerOptions = {
  logger: Logger;
  trustProxy: boolean;
  authenticator: Authenticator;
  /** Route plugins of the domain modules, in the order they appear in the OpenAPI document. */
  routes: FastifyPluginAsyncZod[];
  isReady: () => Promise<boolean>;
};

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    trustProxy: options.trustProxy,
    bodyLimit: 64 * 1024,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
  }).withTypeProvider<ZodTypeProvider>();

  // The API speaks JSON only; any other body is answered 415 instead of reaching a schema as a string.
  app.removeContentTypeParser(['text/plain']);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(sendNoRoute);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keyhouse API',
        version: '1',
        description: 'Order and run managed Keycloak instances. Errors are RFC 9457 problem documents.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'keyhouse_session' },
          osbBasic: {
            type: 'http',
            scheme: 'basic',
            description: 'Open Service Broker credentials (osb.username/password)',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (documentObject) =>
      completeOpenApiDocument(
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject,
      ),
  });

  app.addHook('onRequest', authenticateRequest(options.authenticator));
  app.addHook('onRequest', hideOperatorRoutes);
  app.addHook('preHandler', authorizeRequest);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await options.isReady().catch(() => false);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const routes of options.routes) await app.register(routes);
  return app;
}
