import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { answerForDomainError, type OsbAnswer } from '../../osb/osb-answers.js';
import type { OsbCaller } from '../../osb/osb-context.js';
import {
  asyncQuerySchema,
  asyncResponseSchema,
  bindBodySchema,
  bindingSchema,
  deleteQuerySchema,
  fetchedInstanceSchema,
  lastOperationQuerySchema,
  lastOperationSchema,
  originatingIdentitySchema,
  osbCatalog,
  osbCatalogSchema,
  osbErrorSchema,
  osbIdSchema,
  provisionBodySchema,
  updateBodySchema,
} from '../../osb/osb-schemas.js';
import type { OsbService } from '../../osb/osb-service.js';
import { DomainError } from '../../platform/errors.js';
import { frameworkProblemOf, pathOf } from '../problem.js';

/**
 * The Open Service Broker API v2.17 under /osb: HTTP basic auth with the configured credentials, the
 * X-Broker-API-Version header (2.13 or later), OSB error bodies `{ error, description }` instead of problem+json.
 * A thin adapter: each route hands its request to the OSB service and sends the answer it gets.
 */
const MIN_MINOR_VERSION = 13;

const sha256 = (value: string) => createHash('sha256').update(value).digest();
const sameSecret = (presented: string, expected: string) =>
  timingSafeEqual(sha256(presented), sha256(expected));

const versionHeaders = z.looseObject({
  'x-broker-api-version': z.string().max(20).describe('2.13 or later, e.g. 2.17'),
  'x-broker-api-originating-identity': originatingIdentitySchema
    .optional()
    .describe('`<platform> <base64 JSON object>` of the platform user; recorded in the audit log'),
});
const instanceParams = z.object({ instance_id: osbIdSchema });
const bindingParams = instanceParams.extend({ binding_id: osbIdSchema });
const empty = z.object({}).describe('Empty object');
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, osbErrorSchema]));

/** The caller of a validated request: the identity header was decoded by its schema (versionHeaders). */
const callerOf = (request: FastifyRequest): OsbCaller => ({
  requestId: request.id,
  sourceAddress: request.ip,
  originatingIdentity: (request.headers as z.output<typeof versionHeaders>)[
    'x-broker-api-originating-identity'
  ],
});

/** An error in the broker's format: `description`, and `error` where the specification names a code. */
const sendError = (reply: FastifyReply, status: number, description: string) =>
  reply.status(status).type('application/json').send({ description });

const send = (reply: FastifyReply, result: OsbAnswer) => reply.status(result.status).send(result.body);

export function osbRoutes(options: {
  credentials: { username: string; password: string };
  osb: OsbService;
  catalog: ReturnType<typeof osbCatalog>;
}): FastifyPluginAsyncZod {
  const { osb, credentials } = options;
  const security = [{ osbBasic: [] }];
  const tags = ['osb'];

  /** Everything under /osb: its own authentication, version check, error format and not-found answer. */
  const broker: FastifyPluginAsyncZod = async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      const requestIdentity = request.headers['x-broker-api-request-identity'];
      if (typeof requestIdentity === 'string')
        reply.header('x-broker-api-request-identity', requestIdentity.slice(0, 200));
      const match = /^Basic ([A-Za-z0-9+/=]{1,400})$/.exec(request.headers.authorization ?? '');
      const [username, ...rest] = match ? Buffer.from(match[1]!, 'base64').toString('utf8').split(':') : [];
      const password = rest.join(':');
      const authenticated =
        username !== undefined &&
        sameSecret(username, credentials.username) &&
        sameSecret(password, credentials.password);
      if (!authenticated) {
        reply.header('www-authenticate', 'Basic realm="keyhouse-osb"');
        return sendError(reply, 401, 'Authenticate with the broker credentials (HTTP basic auth).');
      }
      const version = request.headers['x-broker-api-version'];
      const parsed = typeof version === 'string' ? /^(\d{1,3})\.(\d{1,3})$/.exec(version.trim()) : null;
      if (!parsed || Number(parsed[1]) !== 2 || Number(parsed[2]) < MIN_MINOR_VERSION) {
        return reply.status(412).send({
          error: 'PreconditionFailed',
          description: `Send X-Broker-API-Version 2.${MIN_MINOR_VERSION} or later (this broker implements 2.17); got ${
            typeof version === 'string' ? `"${version.slice(0, 20)}"` : 'none'
          }.`,
        });
      }
    });

    // Every other path under /osb, also those the portal's catch-all would otherwise answer.
    app.all('/*', { schema: { hide: true } }, async (request, reply) =>
      sendError(reply, 404, `No route ${request.method} ${pathOf(request.url)} in this broker.`),
    );

    // Validation errors are domain validation errors (src/http/server.ts) and map like the order service's.
    app.setErrorHandler((error, request, reply) => {
      if (error instanceof DomainError) {
        const mapped = answerForDomainError(error);
        if (mapped) return send(reply, mapped);
      }
      // A body that is not JSON or of another type: the specification asks for 400.
      const problem = frameworkProblemOf(error as Error);
      if (problem) return sendError(reply, problem.status === 413 ? 413 : 400, problem.detail);
      const status = (error as { statusCode?: number }).statusCode;
      if (status && status >= 400 && status < 500) return sendError(reply, 400, (error as Error).message);
      request.log.error({ err: error }, 'broker request failed');
      return sendError(
        reply,
        500,
        `The broker failed on its side; quote request id ${request.id} to the operator.`,
      );
    });

    app.get(
      '/v2/catalog',
      {
        schema: {
          operationId: 'osbCatalog',
          summary: 'OSB: the service offering (keycloak) with one plan per node size',
          tags,
          security,
          headers: versionHeaders,
          response: { 200: osbCatalogSchema, ...errors(401, 412) },
        },
      },
      async () => options.catalog,
    );

    app.put(
      '/v2/service_instances/:instance_id',
      {
        schema: {
          operationId: 'osbProvision',
          summary: 'OSB: provision a Keycloak instance (asynchronous: accepts_incomplete=true)',
          description:
            'Places a create order in the Keyhouse organisation of the platform organisation (created on first ' +
            'use). 202 with the `operation` to poll; the same request again: 202 while provisioning, 200 once ' +
            'done; the same id with other attributes: 409.',
          tags,
          security,
          headers: versionHeaders,
          params: instanceParams,
          querystring: asyncQuerySchema,
          body: provisionBodySchema,
          response: {
            200: z.object({ dashboard_url: z.string().optional() }),
            202: asyncResponseSchema,
            ...errors(400, 401, 409, 412, 422),
          },
        },
      },
      async (request, reply) =>
        send(
          reply,
          await osb.provision(
            callerOf(request),
            request.params.instance_id,
            request.body,
            request.query.accepts_incomplete === 'true',
          ),
        ),
    );

    app.get(
      '/v2/service_instances/:instance_id',
      {
        schema: {
          operationId: 'osbFetchInstance',
          summary: 'OSB: a provisioned service instance with its plan and parameters',
          tags,
          security,
          headers: versionHeaders,
          params: instanceParams,
          response: { 200: fetchedInstanceSchema, ...errors(401, 404, 412, 422) },
        },
      },
      async (request, reply) => send(reply, await osb.fetchInstance(request.params.instance_id)),
    );

    app.patch(
      '/v2/service_instances/:instance_id',
      {
        schema: {
          operationId: 'osbUpdate',
          summary:
            'OSB: change the plan (scale order) or parameters (storage, trusted-sources, upgrade order)',
          description: 'One change per request; 422 ConcurrencyError while another operation runs.',
          tags,
          security,
          headers: versionHeaders,
          params: instanceParams,
          querystring: asyncQuerySchema,
          body: updateBodySchema,
          response: { 200: empty, 202: asyncResponseSchema, ...errors(400, 401, 404, 412, 422) },
        },
      },
      async (request, reply) =>
        send(
          reply,
          await osb.update(
            callerOf(request),
            request.params.instance_id,
            request.body,
            request.query.accepts_incomplete === 'true',
          ),
        ),
    );

    app.delete(
      '/v2/service_instances/:instance_id',
      {
        schema: {
          operationId: 'osbDeprovision',
          summary: 'OSB: deprovision (a delete order; during provisioning it is queued behind the create)',
          tags,
          security,
          headers: versionHeaders,
          params: instanceParams,
          querystring: deleteQuerySchema,
          response: { 202: asyncResponseSchema, 410: empty, ...errors(400, 401, 412, 422) },
        },
      },
      async (request, reply) =>
        send(reply, await osb.deprovision(callerOf(request), request.params.instance_id, request.query)),
    );

    app.get(
      '/v2/service_instances/:instance_id/last_operation',
      {
        schema: {
          operationId: 'osbLastOperation',
          summary: 'OSB: state of the last operation (in progress, succeeded, failed)',
          tags,
          security,
          headers: versionHeaders,
          params: instanceParams,
          querystring: lastOperationQuerySchema,
          response: { 200: lastOperationSchema, 410: empty, ...errors(400, 401, 412) },
        },
      },
      async (request, reply) =>
        send(reply, await osb.lastOperation(request.params.instance_id, request.query)),
    );

    app.put(
      '/v2/service_instances/:instance_id/service_bindings/:binding_id',
      {
        schema: {
          operationId: 'osbBind',
          summary: 'OSB: bind — a confidential OIDC client (client credentials) in the first realm',
          description:
            'Answers `credentials: { issuer, token_endpoint, client_id, client_secret }`; the same request again ' +
            'answers 200 with the same binding, the same id with other attributes 409.',
          tags,
          security,
          headers: versionHeaders,
          params: bindingParams,
          querystring: asyncQuerySchema,
          body: bindBodySchema,
          response: { 200: bindingSchema, 201: bindingSchema, ...errors(400, 401, 404, 409, 412, 422) },
        },
      },
      async (request, reply) =>
        send(
          reply,
          await osb.bind(
            callerOf(request),
            request.params.instance_id,
            request.params.binding_id,
            request.body,
          ),
        ),
    );

    app.get(
      '/v2/service_instances/:instance_id/service_bindings/:binding_id',
      {
        schema: {
          operationId: 'osbFetchBinding',
          summary: 'OSB: a binding with its credentials',
          tags,
          security,
          headers: versionHeaders,
          params: bindingParams,
          response: {
            200: bindingSchema.extend({ parameters: z.record(z.string(), z.unknown()) }),
            ...errors(401, 404, 412),
          },
        },
      },
      async (request, reply) =>
        send(reply, await osb.fetchBinding(request.params.instance_id, request.params.binding_id)),
    );

    app.delete(
      '/v2/service_instances/:instance_id/service_bindings/:binding_id',
      {
        schema: {
          operationId: 'osbUnbind',
          summary: 'OSB: unbind — removes the OIDC client',
          tags,
          security,
          headers: versionHeaders,
          params: bindingParams,
          querystring: deleteQuerySchema,
          response: { 200: empty, 410: empty, ...errors(400, 401, 412) },
        },
      },
      async (request, reply) =>
        send(
          reply,
          await osb.unbind(
            callerOf(request),
            request.params.instance_id,
            request.params.binding_id,
            request.query,
          ),
        ),
    );
  };

  return async (app) => {
    await app.register(broker, { prefix: '/osb' });
  };
}
