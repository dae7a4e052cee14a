import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

let keyhouse: TestKeyhouse;
beforeAll(async () => {
  keyhouse = await startTestKeyhouse();
});
afterAll(() => keyhouse.stop());

describe('HTTP basics', () => {
  it('serves the public catalog with server-computed monthly prices and a cache header', async () => {
    const response = await keyhouse.request({ method: 'GET', url: '/api/v1/catalog' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toContain('public');
    const catalog = response.json();
    expect(catalog.currency).toBe('EUR');
    expect(catalog.serviceTypes[0]).toMatchObject({ id: 'keycloak', name: 'Keycloak' });
    expect(catalog.nodeSizes.find((n: { id: string }) => n.id === 'b2-4')).toMatchObject({
      vcpu: 2,
      memoryGb: 4,
      pricePerHour: '0.11',
      pricePerMonth: '80.30',
    });
    expect(catalog.storage).toEqual({ minGb: 50, maxGb: 200, stepGb: 50, pricePerStepPerMonth: '14.30' });
    expect(catalog.regions[0]).not.toHaveProperty('driver');
  });

  it('answers unknown routes with a problem document', async () => {
    const response = await keyhouse.request({ method: 'GET', url: '/api/v1/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 404, title: 'Not found' });
  });

  it('reports liveness and readiness', async () => {
    expect((await keyhouse.request({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await keyhouse.request({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('publishes an OpenAPI 3.1 document with an operationId on every operation', async () => {
    const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.values(
      document.paths as Record<string, Record<string, { operationId?: string }>>,
    ).flatMap((path) => Object.values(path));
    expect(operations.length).toBeGreaterThan(0);
    for (const operation of operations) expect(operation.operationId).toBeTruthy();
  });
});
