import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { freePort, waitFor } from '../support/edge-probes.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * A region whose cluster does not answer: Keyhouse starts anyway, and an order there says so on its status page
 * (the step's message) and keeps trying, instead of hanging. The cluster is a loopback port nobody listens on (a
 * refused connection; a silent listener is kubernetes-client.test.ts's case).
 */

const example = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });

describe('a Kubernetes region whose cluster does not answer', () => {
  let dir: string;
  let keyhouse: TestKeyhouse;
  let headers: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-unreachable-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'gone', cluster: { server: `https://127.0.0.1:${await freePort()}` } }],
        users: [{ name: 'nobody', user: { token: 'unused' } }],
        contexts: [{ name: 'gone', context: { cluster: 'gone', user: 'nobody' } }],
        'current-context': 'gone',
      }),
    );
    keyhouse = await startTestKeyhouse((config) => {
      config.roles = ['api', 'worker'];
      config.catalog.regions = example.catalog.regions;
      config.kubernetes = Object.fromEntries(
        Object.entries(example.kubernetes).map(([id, settings]) => [
          id,
          { ...settings, cluster: { kubeconfig, context: null } },
        ]),
      );
    });
    headers = bearerHeaders(await (await signUp(keyhouse)).createApiToken());
  }, 60_000);

  afterAll(async () => {
    await keyhouse?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says so on the order and the instance, and keeps the order processing', async () => {
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config, {
        region: 'de-west',
        zone: 'de-west-2',
        trustedSources: ['85.214.132.0/24'],
      }),
    });
    expect(placed.statusCode, placed.body).toBe(201);
    let order: { status: string; steps: { name: string; status: string; message?: string }[] };
    await waitFor(
      async () => {
        order = (
          await keyhouse.request({ method: 'GET', url: `/api/v1/orders/${placed.json().id}`, headers })
        ).json();
        return order.steps.some((step) => step.status === 'failed');
      },
      30_000,
      'the step to report the cluster',
    );
    expect(order!.status).toBe('processing');
    expect(order!.steps).toEqual([
      expect.objectContaining({
        name: 'kubernetes-objects',
        status: 'failed',
        message: 'The Kubernetes cluster of region DE-WEST does not answer; Keyhouse tries again.',
      }),
    ]);
  });

  it('refuses a custom domain for a Kubernetes instance before DNS or certificates are asked for', async () => {
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config, {
        region: 'de-north',
        zone: 'de-north-1',
        trustedSources: ['85.214.133.0/24'],
      }),
    });
    expect(placed.statusCode, placed.body).toBe(201);
    const refused = await keyhouse.request({
      method: 'PUT',
      url: `/api/v1/instances/${placed.json<{ instanceId: string }>().instanceId}/domain`,
      headers,
      payload: { hostname: 'sso.example.com', certificate: { source: 'acme' } },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ errors: unknown[] }>().errors).toEqual([
      expect.objectContaining({ path: 'hostname', code: 'domain.notOnKubernetes' }),
    ]);
  });
});
