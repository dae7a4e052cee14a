import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  opsOrderFilterSchema,
  regionFilterSchema,
  retryOrderRequestSchema,
} from '../../src/operators/operator-schemas.js';
import { provisionParametersSchema, updateParametersSchema } from '../../src/osb/osb-schemas.js';
import { pageQuerySchema } from '../../src/platform/pagination.js';
import {
  operatorTicketReplyInputSchema,
  ticketStatusPatchSchema,
  ticketStatusSchema,
} from '../../src/support/ticket-schemas.js';
import { bearerHeaders, createUserWithRole, signInOperator, signUp } from '../support/accounts.js';
import {
  badValueOf,
  fieldsOf,
  hostileText,
  typesOf,
  withField,
  type FieldPath,
  type JsonSchema,
} from '../support/fuzz/schema-mutations.js';
import { enableBroker, osbHeaders, provisionBody } from '../support/osb.js';
import { exampleOrder } from '../support/orders.js';
import { changedTables, snapshotTables, type TableSnapshot } from '../support/table-snapshot.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * Our own fuzz suite (issue 11): requests generated from the OpenAPI document (every operation, every parameter and
 * body field) and from the shared zod schemas behind fields the document leaves open (the broker's `parameters`),
 * plus the operator console's routes, which the public document leaves out (described here from their own schemas),
 * then broken one thing at a time — wrong types, boundaries, unicode and control characters, huge values, broken
 * encodings, duplicate and prototype keys, wrong content types, other methods, missing or foreign credentials.
 * Every answer must be: no 5xx; every 4xx a problem document (the broker: `{ description }`); a validation error
 * names the field that was broken; and a refused request changes no row of any table.
 *
 * Seeded: the seed is printed; `KEYHOUSE_FUZZ_SEED=<seed> npx vitest run --project integration-embedded
 * test/integration/api-fuzz.test.ts` replays a run (`KEYHOUSE_FUZZ_RUNS` sets the number of requests).
 */
const SEED = Number(process.env.KEYHOUSE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(
  process.env.KEYHOUSE_FUZZ_RUNS ?? (process.env.KEYHOUSE_TEST_DATABASE === 'external' ? 1500 : 5000),
);

type Parameter = { in: 'path' | 'query' | 'header'; name: string; required: boolean; schema: JsonSchema };
type Operation = {
  id: string;
  method: string;
  path: string;
  broker: boolean;
  /** An operator console route: for anybody but an operator it does not exist (404). */
  operator: boolean;
  public: boolean;
  /** Documents a 503: it depends on a store that may not run (the metrics route without Prometheus). */
  mayBeUnavailable: boolean;
  parameters: Parameter[];
  body: JsonSchema | undefined;
  example: unknown;
};

type Target = { in: 'body' | 'query' | 'params' | 'headers'; path: FieldPath };
type FuzzRequest = {
  operation: Operation;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
  mutation: { kind: string; certain: boolean; target?: Target; anonymous?: boolean };
};

let keyhouse: TestKeyhouse;
let operations: Operation[];
const fixtures = {
  token: '',
  readOnlyToken: '',
  throwawayTokenId: '',
  billingProfileId: '',
  orderId: '',
  provisioningInstanceId: '',
  runningInstanceId: '',
  osbRunning: '',
  osbProvisioning: '',
  memberId: '',
  ticketId: '',
  mailId: '',
  operatorHeaders: {} as Record<string, string>,
};

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(enableBroker);
  const admin = await signUp(keyhouse);
  fixtures.token = await admin.createApiToken('fuzz');
  fixtures.readOnlyToken = (await createUserWithRole(keyhouse, admin, 'read-only')).token;
  await admin.createApiToken('throwaway');
  const throwaway = await keyhouse.request({
    method: 'GET',
    url: '/api/v1/tokens?limit=100',
    headers: bearerHeaders(fixtures.token),
  });
  fixtures.throwawayTokenId = throwaway
    .json<{ items: { id: string; name: string }[] }>()
    .items.find((t) => t.name !== 'fuzz')!.id;
  const placed = async () => {
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: bearerHeaders(fixtures.token),
      payload: exampleOrder(keyhouse.config),
    });
    return response.json<{ id: string; instanceId: string; billingProfileId: string }>();
  };
  const first = await placed();
  fixtures.orderId = first.id;
  fixtures.provisioningInstanceId = first.instanceId;
  fixtures.billingProfileId = first.billingProfileId;
  const second = await placed();
  fixtures.runningInstanceId = second.instanceId;
  // Stands in for the worker (only the API role runs): the second instance is provisioned and running.
  await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [second.id]);
  await keyhouse.db.pool.query(
    `UPDATE instances SET status = 'running', url = 'https://kc-fuzz.localhost:18001' WHERE id = $1`,
    [second.instanceId],
  );
  for (const key of ['osbRunning', 'osbProvisioning'] as const) {
    fixtures[key] = randomUUID();
    const provisioned = await keyhouse.request({
      method: 'PUT',
      url: `/osb/v2/service_instances/${fixtures[key]}?accepts_incomplete=true`,
      headers: osbHeaders(),
      payload: provisionBody('fuzz-platform-org'),
    });
    expect(provisioned.statusCode).toBe(202);
  }
  await keyhouse.db.pool.query(
    `UPDATE orders SET status = 'done' WHERE instance_id = (SELECT instance_id FROM osb_service_instances WHERE id = $1)`,
    [fixtures.osbRunning],
  );
  await keyhouse.db.pool.query(
    `UPDATE instances SET status = 'running', url = 'https://kc-osb.localhost:18002'
      WHERE id = (SELECT instance_id FROM osb_service_instances WHERE id = $1)`,
    [fixtures.osbRunning],
  );
  fixtures.memberId = (
    await keyhouse.db.pool.query<{ id: string }>('SELECT id FROM users WHERE email = $1', [
      (await createUserWithRole(keyhouse, admin, 'technician')).session.email,
    ])
  ).rows[0]!.id;
  const ticket = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/tickets',
    headers: bearerHeaders(fixtures.token),
    payload: { subject: 'Fuzz', message: 'A ticket for the operator routes.' },
  });
  fixtures.ticketId = ticket.json<{ id: string }>().id;
  fixtures.operatorHeaders = (await signInOperator(keyhouse, 'operator')).sessionHeaders;
  // The operator's answer mails the customer: a mail of the outbox for the resend route.
  const answered = await keyhouse.request({
    method: 'POST',
    url: `/api/v1/ops/tickets/${fixtures.ticketId}/replies`,
    headers: fixtures.operatorHeaders,
    payload: { message: 'We are looking into it.' },
  });
  expect(answered.statusCode).toBe(201);
  fixtures.mailId = (
    await keyhouse.db.pool.query<{ id: string }>('SELECT id FROM mail_outbox LIMIT 1')
  ).rows[0]!.id;
  operations = [
    ...operationsOf((await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json()),
    ...operatorOperations(),
  ];
});
afterAll(() => keyhouse?.stop());

type OpenApiDocument = {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId: string;
        security?: unknown[];
        responses?: Record<string, unknown>;
        parameters?: Parameter[];
        requestBody?: { content: Record<string, { schema: JsonSchema; example?: unknown }> };
      }
    >
  >;
};

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const media = operation.requestBody?.content['application/json'];
      return {
        id: operation.operationId,
        method: method.toUpperCase(),
        path,
        broker: path.startsWith('/osb/'),
        operator: false,
        public: Array.isArray(operation.security) && operation.security.length === 0,
        mayBeUnavailable: operation.responses?.['503'] !== undefined,
        parameters: operation.parameters ?? [],
        body: media?.schema,
        example: media?.example,
      };
    }),
  );
}

/**
 * The operator console's routes (src/http/routes/operator-routes.ts): not in the public document, so described here
 * from the same zod schemas the routes validate with. The read routes without parameters are left out: there is
 * nothing to break but the credentials, which every route's other cases cover.
 */
function operatorOperations(): Operation[] {
  const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
  const queryOf = (schema: z.ZodObject): Parameter[] =>
    Object.entries(schema.shape).map(([name, field]) => ({
      in: 'query',
      name,
      required: false,
      schema: json(field as z.ZodType),
    }));
  const id: Parameter = {
    in: 'path',
    name: 'id',
    required: true,
    schema: { type: 'string', format: 'uuid' },
  };
  const operation = (
    operationId: string,
    method: string,
    path: string,
    parts: { parameters?: Parameter[]; body?: z.ZodType; example?: unknown } = {},
  ): Operation => ({
    id: operationId,
    method,
    path,
    broker: false,
    operator: true,
    public: false,
    mayBeUnavailable: false,
    parameters: parts.parameters ?? [],
    body: parts.body && json(parts.body),
    example: parts.example,
  });
  return [
    operation('opsListOrders', 'GET', '/api/v1/ops/orders', { parameters: queryOf(opsOrderFilterSchema) }),
    operation('opsGetOrder', 'GET', '/api/v1/ops/orders/{id}', { parameters: [id] }),
    operation('opsRetryOrder', 'POST', '/api/v1/ops/orders/{id}/retry', {
      parameters: [id],
      body: retryOrderRequestSchema,
      example: { attempt: 1 },
    }),
    operation('opsCancelOrder', 'POST', '/api/v1/ops/orders/{id}/cancel', { parameters: [id] }),
    operation('opsListInstances', 'GET', '/api/v1/ops/instances', {
      parameters: queryOf(
        pageQuerySchema.extend({
          region: regionFilterSchema.optional(),
          organizationId: z.uuid().optional(),
          includeDeleted: z.stringbool().optional(),
        }),
      ),
    }),
    operation('opsListTickets', 'GET', '/api/v1/ops/tickets', {
      parameters: queryOf(pageQuerySchema.extend({ status: ticketStatusSchema.optional() })),
    }),
    operation('opsGetTicket', 'GET', '/api/v1/ops/tickets/{id}', { parameters: [id] }),
    operation('opsReplyToTicket', 'POST', '/api/v1/ops/tickets/{id}/replies', {
      parameters: [id],
      body: operatorTicketReplyInputSchema,
      example: { message: 'Wir sehen uns das an.', status: 'waiting' },
    }),
    operation('opsSetTicketStatus', 'PATCH', '/api/v1/ops/tickets/{id}', {
      parameters: [id],
      body: ticketStatusPatchSchema,
      example: { status: 'open' },
    }),
    operation('opsResendMail', 'POST', '/api/v1/ops/mail/{id}/resend', { parameters: [id] }),
  ];
}

/** The shared zod schemas behind fields the document leaves open: the broker's parameters. */
function sharedSchemaAt(operation: Operation, path: FieldPath): JsonSchema | undefined {
  if (path.length !== 1 || path[0] !== 'parameters') return undefined;
  const catalog = keyhouse.config.catalog;
  const schema =
    operation.id === 'osbProvision'
      ? provisionParametersSchema(catalog)
      : operation.id === 'osbUpdate'
        ? updateParametersSchema(catalog)
        : operation.id === 'osbBind'
          ? z.strictObject({})
          : undefined;
  return schema && (z.toJSONSchema(schema, { io: 'input' }) as JsonSchema);
}

/** A request the API accepts (or refuses only for the state it finds), before anything is broken. */
function validRequest(operation: Operation, ids: Record<string, string>) {
  const catalog = keyhouse.config.catalog;
  const bodies: Record<string, unknown> = {
    createOrder: {
      ...(operation.example as object),
      version: catalog.serviceTypes[0]!.versions[0],
      zone: catalog.regions[0]!.zones[0]!.id,
      billingProfileId: fixtures.billingProfileId,
    },
    createTicket: { ...(operation.example as object), orderId: fixtures.orderId },
    osbProvision: {
      ...provisionBody('fuzz-platform-org', { trustedSources: ['127.0.0.1'], storageGb: 100 }),
    },
    osbUpdate: { service_id: 'keyhouse-keycloak', parameters: { storageGb: 100 } },
    // Turned on, it would leave the fuzzing admin (without a second factor) nothing but setting one up.
    updateOrganization: { requireTwoFactor: false },
  };
  const query: Record<string, string> = {};
  for (const parameter of operation.parameters.filter((p) => p.in === 'query')) {
    const defaults: Record<string, string> = {
      limit: '20',
      month: '2026-11',
      accepts_incomplete: 'true',
      service_id: 'keyhouse-keycloak',
      plan_id: 'keyhouse-keycloak-b2-4',
    };
    if (parameter.required || defaults[parameter.name] !== undefined) {
      if (defaults[parameter.name] !== undefined) query[parameter.name] = defaults[parameter.name]!;
    }
  }
  const headers: Record<string, string> = operation.broker
    ? osbHeaders()
    : operation.operator
      ? { ...fixtures.operatorHeaders }
      : operation.public
        ? {}
        : bearerHeaders(fixtures.token);
  if (operation.parameters.some((p) => p.name === 'idempotency-key')) headers['idempotency-key'] = ids.key!;
  const body = operation.body ? (bodies[operation.id] ?? operation.example ?? {}) : undefined;
  return { pathParams: ids, query, headers, body };
}

/** Path parameters: the fixtures mostly, sometimes ids nobody has. */
function pathIdsFor(operation: Operation): fc.Arbitrary<Record<string, string>> {
  const instanceIds = fc.oneof(
    { weight: 3, arbitrary: fc.constant(fixtures.runningInstanceId) },
    { weight: 1, arbitrary: fc.constant(fixtures.provisioningInstanceId) },
    { weight: 1, arbitrary: fc.uuid() },
  );
  const osbInstanceIds =
    operation.id === 'osbProvision'
      ? fc.uuid()
      : fc.oneof(
          // The faked running instance has no Keycloak behind it: a bind there would fail on our side (unreachable).
          {
            weight: 3,
            arbitrary: fc.constant(
              operation.id === 'osbBind' ? fixtures.osbProvisioning : fixtures.osbRunning,
            ),
          },
          { weight: 1, arbitrary: fc.constant(fixtures.osbProvisioning) },
          { weight: 1, arbitrary: fc.uuid() },
        );
  // The `id` of a path: the fixture of its resource mostly (the instance's by default), sometimes an unknown one.
  const fixtureIds: [RegExp, string | undefined][] = [
    [/^\/api\/v1\/(ops\/)?orders\//, fixtures.orderId],
    [/^\/api\/v1\/tokens\//, fixtures.throwawayTokenId],
    [/^\/api\/v1\/billing-profiles\//, fixtures.billingProfileId],
    [/^\/api\/v1\/(ops\/)?tickets\//, fixtures.ticketId],
    [/^\/api\/v1\/members\//, fixtures.memberId],
    [/^\/api\/v1\/ops\/mail\//, fixtures.mailId],
    // Not one of the fuzzing admin's own sessions: revoking it would be a success, and change rows.
    [/^\/api\/v1\/auth\/sessions\//, undefined],
  ];
  const fixtureId = fixtureIds.find(([pattern]) => pattern.test(operation.path));
  const byName: Record<string, fc.Arbitrary<string>> = {
    id: !fixtureId
      ? instanceIds
      : fixtureId[1] === undefined
        ? fc.uuid()
        : fc.oneof({ weight: 3, arbitrary: fc.constant(fixtureId[1]) }, fc.uuid()),
    token: fc.base64String({ minLength: 40, maxLength: 44 }).map((s) => s.replace(/[^A-Za-z0-9]/g, 'a')),
    instance_id: osbInstanceIds,
    binding_id: fc.uuid(),
  };
  return fc.record({
    ...Object.fromEntries(
      operation.parameters.filter((p) => p.in === 'path').map((p) => [p.name, byName[p.name] ?? fc.uuid()]),
    ),
    key: fc.uuid(),
  });
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=iso-8859-1',
  'application/problem+json',
  'application/jsonx',
  'application/json, text/plain',
];
const BAD_PATH_SEGMENTS = [
  'not-an-id',
  '00000000-0000-0000-0000-00000000000g',
  'x'.repeat(101),
  'x'.repeat(1001),
  'x'.repeat(3000),
  '%00',
  '%2F%2E%2E',
  '..',
  '%',
  '%zz',
  '%E0%A4%A',
  '%C3%A4%C3%B6',
  '%F0%9F%92%A9',
  '%ED%A0%80',
  'a%20b',
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Whether a path segment reaches its route (no `/`, no dot segment) and the parameter's schema refuses it. */
function refusedBySchema(schema: JsonSchema, segment: string): boolean {
  let value: string;
  try {
    value = decodeURIComponent(segment);
  } catch (error) {
    if (error instanceof URIError) return false;
    throw error;
  }
  if (value.includes('/') || /^\.+$/.test(value)) return false;
  if (schema.format === 'uuid') return !UUID.test(value);
  if (schema.pattern && !new RegExp(schema.pattern).test(value)) return true;
  return value.length > (schema.maxLength ?? Infinity) || value.length < (schema.minLength ?? 0);
}

/** One request: the valid one for the operation, with exactly one thing broken (or none). */
function fuzzRequest(): fc.Arbitrary<FuzzRequest> {
  return fc
    .constantFrom(...operations)
    .chain((operation) => fc.tuple(fc.constant(operation), pathIdsFor(operation)))
    .chain(([operation, ids]) => {
      const valid = validRequest(operation, ids);
      const build = (
        parts: Partial<{
          method: string;
          path: Record<string, string>;
          query: string;
          headers: Record<string, string>;
          payload: string | Buffer;
          body: unknown;
        }>,
        mutation: FuzzRequest['mutation'],
      ): FuzzRequest => {
        const pathParams =
          parts.path ??
          Object.fromEntries(Object.entries(valid.pathParams).map(([k, v]) => [k, encodeURIComponent(v)]));
        const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => pathParams[name] ?? '');
        const query = parts.query ?? new URLSearchParams(valid.query).toString();
        const body = 'body' in parts ? parts.body : valid.body;
        const payload = parts.payload ?? (body === undefined ? undefined : JSON.stringify(body));
        const headers = { ...(parts.headers ?? valid.headers) };
        if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
          headers['content-type'] = 'application/json';
        }
        return {
          operation,
          method: parts.method ?? operation.method,
          url: query ? `${path}?${query}` : path,
          headers,
          payload,
          mutation,
        };
      };
      const streaming = operation.id === 'streamOrderEvents';
      // (For it, only broken path ids and credentials: anything else would open a stream that never ends.)
      const choices: fc.WeightedArbitrary<FuzzRequest>[] = [];

      if (!streaming)
        choices.push({ weight: 1, arbitrary: fc.constant(build({}, { kind: 'valid', certain: false })) });

      if (operation.body) {
        const fields = fieldsOf(operation.body, valid.body, [], (path) => sharedSchemaAt(operation, path));
        choices.push({
          weight: 8,
          arbitrary: fc
            .constantFrom(...fields)
            .chain((field) => badValueOf(field.schema, field.valid).map((bad) => ({ field, bad })))
            .map(({ field, bad }) =>
              build(
                { body: withField(valid.body, field.path, bad.value) },
                { kind: `body ${bad.kind}`, certain: bad.certain, target: { in: 'body', path: field.path } },
              ),
            ),
        });
        const text = JSON.stringify(valid.body);
        choices.push({
          weight: 2,
          arbitrary: fc.oneof(
            fc
              .constantFrom<unknown>(42, 'text', [], null, true, [valid.body])
              .map((body) =>
                build(
                  { body },
                  { kind: 'body of another type', certain: true, target: { in: 'body', path: [] } },
                ),
              ),
            fc
              .nat({ max: Math.max(0, text.length - 1) })
              .map((at) => build({ payload: text.slice(0, at) }, { kind: 'truncated JSON', certain: false })),
            fc
              .constantFrom(
                Buffer.concat([
                  Buffer.from(text.slice(0, -1)),
                  Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
                  Buffer.from('}'),
                ]),
                Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]),
                Buffer.from(text.replace(/"([^"]*)"/, '"$1\\ud800"')),
                Buffer.from(text.replace(/^\{/, '{"__proto__":{"polluted":true},')),
                Buffer.from(text.replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},')),
                Buffer.from(text.replace(/^\{"(\w+)":/, '{"$1":{"duplicate":1},"$1":')),
                Buffer.from(text.replace(/^\{"(\w+)":([^,}]+)/, '{"$1":$2,"$1":["duplicate"]')),
                Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
              )
              .map((payload) => build({ payload }, { kind: 'broken encoding or keys', certain: false })),
            fc
              .constantFrom(...CONTENT_TYPES)
              .map((type) =>
                build(
                  { headers: { ...valid.headers, 'content-type': type } },
                  { kind: `content type ${type}`, certain: false },
                ),
              ),
          ),
        });
      }

      const queryParameters = operation.parameters.filter((p) => p.in === 'query');
      // The event stream stays open for a valid order: only requests it refuses before streaming are sent.
      if (!streaming)
        choices.push({
          weight: 2,
          arbitrary: fc.oneof(
            ...(queryParameters.length
              ? [
                  fc
                    .constantFrom(...queryParameters)
                    .chain((parameter) =>
                      fc
                        .oneof(
                          badValueOf(parameter.schema, valid.query[parameter.name])
                            .filter((bad) => typeof bad.value === 'string' || typeof bad.value === 'number')
                            // A query carries text only: a number of the wrong type arrives as text, which a text
                            // parameter may well accept ("0" is a valid audit action).
                            .map((bad) =>
                              typeof bad.value === 'number' && typesOf(parameter.schema).has('string')
                                ? { ...bad, certain: false }
                                : bad,
                            ),
                          hostileText.map((value) => ({ value, certain: false, kind: 'hostile text' })),
                        )
                        .map((bad) => ({ parameter, bad })),
                    )
                    .map(({ parameter, bad }) =>
                      build(
                        {
                          query: new URLSearchParams({
                            ...valid.query,
                            [parameter.name]: String(bad.value),
                          }).toString(),
                        },
                        {
                          kind: `query ${bad.kind}`,
                          certain: bad.certain,
                          target: { in: 'query', path: [parameter.name] },
                        },
                      ),
                    ),
                  fc.constantFrom(...queryParameters).map((parameter) =>
                    build(
                      {
                        query: `${new URLSearchParams(valid.query).toString()}&${parameter.name}=1&${parameter.name}=2`,
                      },
                      { kind: 'repeated query parameter', certain: false },
                    ),
                  ),
                ]
              : []),
            fc
              .constantFrom(
                '%',
                '%zz',
                '%E0%A4%A',
                'a=%00',
                'limit=%F0%9F%92%A9',
                `x=${'y'.repeat(5000)}`,
                '__proto__=1',
              )
              .map((raw) =>
                build(
                  { query: [new URLSearchParams(valid.query).toString(), raw].filter(Boolean).join('&') },
                  { kind: 'broken query', certain: false },
                ),
              ),
          ),
        });

      const pathParameters = operation.parameters.filter((p) => p.in === 'path');
      if (pathParameters.length) {
        choices.push({
          weight: 2,
          arbitrary: fc
            .tuple(fc.constantFrom(...pathParameters), fc.constantFrom(...BAD_PATH_SEGMENTS))
            .map(([parameter, segment]) =>
              build(
                {
                  path: {
                    ...Object.fromEntries(
                      Object.entries(valid.pathParams).map(([k, v]) => [k, encodeURIComponent(v)]),
                    ),
                    [parameter.name]: segment,
                  },
                },
                {
                  kind: 'path parameter',
                  certain: refusedBySchema(parameter.schema, segment),
                  target: { in: 'params', path: [parameter.name] },
                },
              ),
            ),
        });
      }

      const headerParameters = operation.parameters.filter((p) => p.in === 'header');
      if (headerParameters.length) {
        choices.push({
          weight: 1,
          arbitrary: fc
            .tuple(
              fc.constantFrom(...headerParameters),
              fc.constantFrom(
                '',
                ' ',
                'x'.repeat(4001),
                '2.1',
                '3.0',
                'a b',
                'cloudfoundry',
                'cloudfoundry e30=',
                '\u00e4',
              ),
            )
            .map(([parameter, value]) =>
              build(
                { headers: { ...valid.headers, [parameter.name]: value } },
                { kind: `header ${parameter.name}`, certain: false },
              ),
            ),
        });
      }

      choices.push({
        weight: 2,
        arbitrary: fc
          .constantFrom<[string, Record<string, string>]>(
            ['anonymous', {}],
            ['garbage bearer', { authorization: 'Bearer !!!' }],
            ['unknown token', { authorization: `Bearer kh_${'a'.repeat(43)}` }],
            ['basic instead of bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
            ['garbage cookie', { cookie: 'keyhouse_session=%00%ff' }],
            ['read-only user', bearerHeaders(fixtures.readOnlyToken)],
            ['old broker version', { ...osbHeaders(), 'x-broker-api-version': '2.12' }],
            ['wrong broker password', { ...osbHeaders(), authorization: 'Basic cGxhdGZvcm06d3Jvbmc=' }],
          )
          .filter(([name]) => !streaming || name !== 'read-only user')
          .map(([name, headers]) =>
            build(
              {
                headers: {
                  ...headers,
                  ...(valid.body === undefined ? {} : { 'content-type': 'application/json' }),
                },
              },
              { kind: `credentials: ${name}`, certain: false, anonymous: Object.keys(headers).length === 0 },
            ),
          ),
      });

      if (!streaming) {
        const others = METHODS.filter(
          (method) => !operations.some((o) => o.path === operation.path && o.method === method),
        );
        if (others.length) {
          choices.push({
            weight: 1,
            arbitrary: fc
              .constantFrom(...others)
              .map((method) => build({ method }, { kind: `method ${method}`, certain: false })),
          });
        }
      }
      return fc.oneof(...choices);
    });
}

/** The field a validation error must name, as the API writes paths. */
function apiPathOf(target: Target): string {
  const inner = target.path.map(String).join('.');
  if (target.in === 'body') return inner;
  return inner ? `${target.in === 'query' ? 'query' : target.in}.${inner}` : target.in;
}

const relates = (errorPath: string, target: string) =>
  target === '' ||
  errorPath === target ||
  errorPath.startsWith(`${target}.`) ||
  target.startsWith(`${errorPath}.`);

const statuses = new Map<number, number>();

function describeRequest(request: FuzzRequest, response: LightMyRequestResponse) {
  const payload = request.payload === undefined ? '' : String(request.payload).slice(0, 300);
  return `${request.mutation.kind}: ${request.method} ${request.url.slice(0, 300)} ${payload} → ${response.statusCode} ${response.body.slice(0, 400)}`;
}

function checkAnswer(request: FuzzRequest, response: LightMyRequestResponse) {
  const what = describeRequest(request, response);
  const status = response.statusCode;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  // A documented 503 of a route whose store is not running here (this Keyhouse has no Prometheus) is an answer,
  // not a crash; every other 5xx is a failure.
  const unavailable =
    status === 503 &&
    request.operation.mayBeUnavailable &&
    response.json<{ type?: string }>().type?.endsWith('/unavailable') === true;
  if (!unavailable) expect(status, what).toBeLessThan(500);
  const { operation, mutation } = request;
  if (mutation.certain) expect(status, what).toBeGreaterThanOrEqual(400);
  if (mutation.anonymous && !operation.public && !operation.broker) {
    // Authentication first: whatever else is wrong with the request. An operator route does not exist for others.
    expect(status, what).toBe(operation.operator ? 404 : 401);
  }
  if (status < 400) return;
  const contentType = String(response.headers['content-type'] ?? '');
  const broker = request.url.startsWith('/osb/');
  if (broker) {
    expect(contentType, what).toMatch(/^application\/(problem\+)?json/);
    // 410 Gone is the specification's answer for a binding or instance that is gone, with an empty object.
    if (status === 410) return expect(response.json(), what).toEqual({});
    const body = response.json<{ description?: unknown; error?: unknown }>();
    expect(typeof body.description === 'string' && body.description.length > 0, what).toBe(true);
    if (body.error !== undefined) expect(body.error, what).toMatch(/^[A-Z][A-Za-z]+$/);
    if (status === 400 && mutation.certain && mutation.target && mutation.target.path.length) {
      expect(body.description, what).toContain(String(mutation.target.path.at(-1)));
    }
    return;
  }
  expect(contentType, what).toContain('application/problem+json');
  const problem = response.json<{
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: { path: string; message: string }[];
  }>();
  expect(problem, what).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  if (problem.type.endsWith('/validation')) {
    expect(problem.errors?.length, what).toBeGreaterThan(0);
    for (const error of problem.errors!) {
      expect(error.path.length, what).toBeGreaterThan(0);
      expect(error.message.length, what).toBeGreaterThan(0);
    }
    if (mutation.certain && mutation.target) {
      const target = apiPathOf(mutation.target);
      expect(
        problem.errors!.some((error) => relates(error.path, target)),
        `${what}\nno error names ${target || '(body)'}`,
      ).toBe(true);
    }
  }
}

/**
 * Tables a refused request may change on purpose: a failed sign-in counts against the limit and is audited, and so
 * does a wrong password when turning two-factor sign-in off.
 */
function allowedChanges(request: FuzzRequest, status: number): string[] {
  if (request.operation.id === 'logIn' && (status === 401 || status === 429)) {
    return ['public.login_failures', 'public.audit_events'];
  }
  if (request.operation.id === 'disableTwoFactor' && (status === 400 || status === 429)) {
    return ['public.login_failures'];
  }
  return [];
}

describe('fuzz', () => {
  it(
    `answers ${RUNS} generated requests without a 5xx, in the error format, and writes nothing when it refuses (seed ${SEED})`,
    async () => {
      console.log(
        `API fuzz: seed ${SEED}, ${RUNS} requests (replay: KEYHOUSE_FUZZ_SEED=${SEED} KEYHOUSE_FUZZ_RUNS=${RUNS})`,
      );
      let before: TableSnapshot = await snapshotTables(keyhouse.db.pool);
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(fuzzRequest(), async (request) => {
          const response = await keyhouse.request({
            method: request.method as 'GET',
            url: request.url,
            headers: request.headers,
            ...(request.payload === undefined ? {} : { payload: request.payload }),
          });
          sent++;
          const after = await snapshotTables(keyhouse.db.pool);
          try {
            checkAnswer(request, response);
            if (response.statusCode >= 400) {
              const allowed = allowedChanges(request, response.statusCode);
              const changed = changedTables(before, after).filter(
                (table) => !allowed.some((name) => table.startsWith(`${name} `)),
              );
              expect(changed, `${describeRequest(request, response)}\nchanged rows`).toEqual([]);
            }
          } finally {
            before = after;
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      console.log(
        `API fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
      );
      expect(sent).toBe(RUNS);
    },
    15 * 60_000,
  );

  it('answers malformed HTTP on the socket with problem documents', async () => {
    const address = await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const send = (raw: string | Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(raw));
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
    const expectProblemOnSocket = async (raw: string | Buffer) => {
      const answer = await send(raw);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      expect(status, answer.slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(status, answer.slice(0, 300)).toBeLessThan(500);
      expect(head.toLowerCase(), answer.slice(0, 300)).toMatch(/content-type: application\/(problem\+)?json/);
      const document = JSON.parse(body) as { detail?: string; description?: string };
      expect(document.detail ?? document.description, answer.slice(0, 300)).toEqual(expect.any(String));
    };
    const malformed: (string | Buffer)[] = [
      `GET /api/v1/catalog HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
      `GET /api/v1/catalog HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: 1`).join('\r\n')}\r\n\r\n`,
      'NONSENSE\r\n\r\n',
      'GET /api/v1/catalog HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /api/v1/catalog HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      Buffer.from('GET /api/v1/catalog HTTP/1.1\r\nHost: x\r\nX-A: \u0000\r\n\r\n', 'latin1'),
      'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      Buffer.from(
        'GET /api/v1/orders/\u00ff\u00fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        'latin1',
      ),
      'GET /osb/v2/catalog%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ];
    for (const raw of malformed) await expectProblemOnSocket(raw);
    // And request lines of random bytes.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const line = Buffer.from(bytes.filter((byte) => byte !== 0x0a && byte !== 0x0d));
        await expectProblemOnSocket(Buffer.concat([line, Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]));
      }),
      { seed: SEED, numRuns: 30 },
    );
  });
});
