import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableBroker } from '../support/osb.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/** The generated OpenAPI document is complete, and /docs renders it. The broker is on, so its routes count too. */
let keyhouse: TestKeyhouse;

type Operation = {
  operationId?: string;
  summary?: string;
  parameters?: unknown[];
  security?: unknown[];
  requestBody?: { content: Record<string, { example?: unknown; schema?: unknown }> };
  responses: Record<string, unknown>;
};

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(enableBroker);
});
afterAll(async () => {
  await keyhouse?.stop();
});

describe('OpenAPI document', () => {
  it('gives every operation a unique operationId, a summary, error responses and examples for bodies', async () => {
    const response = await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    const document = response.json<{ openapi: string; paths: Record<string, Record<string, Operation>> }>();
    expect(document.openapi).toBe('3.1.0');

    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        where: `${method.toUpperCase()} ${path}`,
        operation,
      })),
    );
    expect(operations.length).toBeGreaterThan(30);
    const ids = new Set<string>();
    const problems: string[] = [];
    for (const { where, operation } of operations) {
      if (!operation.operationId) problems.push(`${where}: no operationId`);
      else if (ids.has(operation.operationId)) problems.push(`${where}: duplicate operationId`);
      else ids.add(operation.operationId);
      if (!operation.summary || operation.summary.length < 10) problems.push(`${where}: no summary`);
      const statuses = Object.keys(operation.responses);
      if (!statuses.some((s) => /^2\d\d$/.test(s))) problems.push(`${where}: no success response`);
      if (!statuses.includes('500')) problems.push(`${where}: no 500 response`);
      const takesInput = Boolean(operation.requestBody) || (operation.parameters ?? []).length > 0;
      if (takesInput && !statuses.some((s) => s === '400' || s === '404' || s === '412')) {
        problems.push(`${where}: takes input but documents no 400/404`);
      }
      if (operation.requestBody) {
        const media = Object.values(operation.requestBody.content);
        if (!media.some((m) => m.example !== undefined)) problems.push(`${where}: body without example`);
      }
    }
    expect(problems).toEqual([]);
    expect(ids).toContain('osbProvision');
    expect(ids).toContain('createOrder');
  });

  it('has examples that the API itself accepts (the order example validates against its schema)', async () => {
    const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    const createOrder = document.paths['/api/v1/orders'].post;
    const example = createOrder.requestBody.content['application/json'].example;
    const { createOrderRequestSchema } = await import('../../src/orders/order-schemas.js');
    const parsed = createOrderRequestSchema(keyhouse.config.catalog).safeParse(example);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  });
});

describe('an order in the OpenAPI document', () => {
  it('documents the failure reason in English and its coded parts', async () => {
    const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    type Schema = { $ref?: string; properties?: Record<string, Schema>; description?: string };
    const resolve = (schema: Schema): Schema =>
      schema.$ref ? resolve(document.components.schemas[schema.$ref.split('/').at(-1)!]) : schema;
    const order = resolve(
      document.paths['/api/v1/orders/{id}'].get.responses['200'].content['application/json'].schema,
    );
    expect(order.properties!.failureReason!.description).toContain('in English');
    expect(order.properties!.failureReasonParts!.description).toContain('coded parts');
    expect(JSON.stringify(order.properties!.failureReasonParts)).toContain('"code"');
  });
});

describe('GET /docs', () => {
  it('renders the reference from the generated document, with its script served locally', async () => {
    const redirect = await keyhouse.request({ method: 'GET', url: '/docs' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/docs/');
    const page = await keyhouse.request({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/api/v1/openapi.json');
    expect(page.body).toContain('js/scalar.js');
    const script = await keyhouse.request({ method: 'GET', url: '/docs/js/scalar.js' });
    expect(script.statusCode).toBe(200);
    expect(script.body.length).toBeGreaterThan(100_000);
  });
});
