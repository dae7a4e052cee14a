import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  type FastifyPluginAsyncZod,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ValidationError } from '../platform/errors.js';
import { fieldErrorsOf } from '../platform/field-errors.js';
import {
  authenticateRequest,
  authorizeRequest,
  hideOperatorRoutes,
  isBrokerPath,
  sendNoRoute,
  type Authenticator,
} from './auth-guard.js';
import { answerClientError } from './client-errors.js';
import { completeOpenApiDocument } from './openapi-examples.js';
import { frameworkProblemOf, handleError } from './problem.js';

/** How field errors name the part of the request they are in; the body's fields carry no prefix. */
const PART_PREFIX: Record<string, string | undefined> = {
  body: undefined,
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

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
    // An id longer than this is no id of ours; up to it, the route's schema names the parameter at fault.
    maxParamLength: 1000,
    // `__proto__` can be no field of ours: it is dropped. A `constructor` key stays and strict schemas refuse it.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'ignore',
    // Errors before routing (a broken percent-encoding, an over-long path part) are problem documents too.
    // Under /osb in the broker's own format (the OSB specification's `description`).
    frameworkErrors: (error, request, reply) => {
      const problem = frameworkProblemOf(error);
      if (problem && isBrokerPath(request.url)) {
        return (reply as FastifyReply).status(problem.status).send({ description: problem.detail });
      }
      return handleError(error, request, reply);
    },
    // Errors before Fastify has a request (headers over 16 KB, a broken request line) are written to the socket.
    clientErrorHandler: answerClientError,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
  }).withTypeProvider<ZodTypeProvider>();

  // The API speaks JSON only; any other body is answered 415 instead of reaching a schema as a string.
  app.removeContentTypeParser(['text/plain']);
  // Validation failures become domain validation errors, mapped to problem+json in one place (problem.ts).
  app.setValidatorCompiler(({ schema, httpPart }) => (data) => {
    const result = (schema as z.ZodType).safeParse(data);
    if (result.success) return { value: result.data };
    return {
      error: new ValidationError(fieldErrorsOf(result.error.issues, PART_PREFIX[httpPart ?? 'body'])),
    };
  });
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

  // Who asks and whether they may, before anything of the request is read: a body, a query or a path id is only
  // parsed and validated for a caller who is allowed to send it.
  app.addHook('onRequest', authenticateRequest(options.authenticator));
  app.addHook('onRequest', hideOperatorRoutes);
  app.addHook('onRequest', authorizeRequest);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await options.isReady().catch(() => false);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const routes of options.routes) await app.register(routes);
  return app;
}
