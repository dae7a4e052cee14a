import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerHeaders, signUp, type SignedInUser } from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { probeTls, waitFor } from '../support/edge-probes.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';

/**
 * The heart of the product, end to end: an order placed through the API becomes a real Keycloak behind the edge.
 * Runs in the embedded-database project only (a Keycloak start costs about a minute on this machine).
 */
describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')('order to a running Keycloak', () => {
  let keyhouse: TestKeyhouse;
  let customer: SignedInUser;
  let token: string;
  let orderId: string;
  let instanceId: string;

  beforeAll(async () => {
    keyhouse = await startTestKeyhouse((config) => {
      config.roles = ['api', 'worker', 'edge'];
      // One version: the worker prepares every catalog version at start, and one Keycloak build is enough here.
      config.catalog.serviceTypes[0]!.versions = config.catalog.serviceTypes[0]!.versions.slice(0, 1);
      config.edge.listenHost = '127.0.0.1';
      const base = 20000 + Math.floor(Math.random() * 20000);
      config.edge.portRange = { from: base, to: base + 20 };
      config.keycloak.portRange = { from: base + 100, to: base + 140 };
    });
    customer = await signUp(keyhouse);
    token = await customer.createApiToken();
  }, 15 * 60_000);
  afterAll(async () => {
    // Until delete orders exist, the test removes its instance through the driver: no process, database or files.
    if (instanceId) {
      const { rows } = await keyhouse.db.pool.query<{ name: string }>(
        'SELECT name FROM instances WHERE id = $1',
        [instanceId],
      );
      if (rows[0])
        await keyhouse.localBackend!.driver.destroy(
          { instanceId, name: rows[0].name },
          async () => undefined,
        );
    }
    await keyhouse?.stop();
  }, 120_000);

  it(
    'goes new → processing → done, recording each step, and streams the change as events',
    { timeout: 11 * 60_000 },
    async () => {
      const placed = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers: bearerHeaders(token),
        payload: exampleOrder(keyhouse.config),
      });
      expect(placed.statusCode).toBe(201);
      orderId = placed.json().id;
      instanceId = placed.json().instanceId;

      const seen = new Set<string>();
      let order: { status: string; failureReason: string | null; steps: { name: string }[] } = placed.json();
      await waitFor(
        async () => {
          order = (
            await keyhouse.request({
              method: 'GET',
              url: `/api/v1/orders/${orderId}`,
              headers: bearerHeaders(token),
            })
          ).json();
          seen.add(order.status);
          return order.status === 'done' || order.status === 'failed';
        },
        10 * 60_000,
        'the order to finish',
      );
      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      expect(seen.has('processing')).toBe(true);
      const stepNames = order.steps.map((s: { name: string }) => s.name);
      expect(stepNames).toEqual(
        expect.arrayContaining(['database', 'keycloak-start', 'admin-account', 'first-realm', 'verify']),
      );
      for (const step of order.steps)
        expect(step).toMatchObject({ status: 'done', finishedAt: expect.any(String) });

      const events = await keyhouse.request({
        method: 'GET',
        url: `/api/v1/orders/${orderId}/events`,
        headers: bearerHeaders(token),
      });
      expect(events.headers['content-type']).toContain('text/event-stream');
      expect(events.body).toContain('event: order');
      expect(events.body).toContain('"status":"done"');
    },
  );

  it('shows the instance with its URL; the revealed admin logs in through the edge and finds the first realm', async () => {
    const instance = (
      await keyhouse.request({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}`,
        headers: bearerHeaders(token),
      })
    ).json();
    expect(instance).toMatchObject({
      status: 'running',
      adminUsername: 'admin',
      trustedSources: ['127.0.0.1/32'],
    });
    expect(instance.url).toMatch(new RegExp(`^https://${instance.name}\\.localhost:\\d+$`));

    const reveal = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${instanceId}/credentials/reveal`,
      headers: bearerHeaders(token),
    });
    expect(reveal.statusCode).toBe(200);
    const { username, password } = reveal.json();
    expect(password.length).toBeGreaterThanOrEqual(24);
    const audit = await keyhouse.db.pool.query(
      `SELECT details::text AS details FROM audit_events WHERE action = 'instance.credentials.reveal' AND target_id = $1`,
      [instanceId],
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].details).not.toContain(password);

    const admin = await adminClientThroughEdge({
      url: instance.url,
      ca: keyhouse.ca.certificatePem,
      username,
      password,
    });
    const realms = (await admin.realms.find()).map((realm) => realm.realm);
    expect(realms).toEqual(expect.arrayContaining(['master', customer.organization.customerNumber]));
    // The temporary bootstrap admin is gone: the customer's admin is the only user of the master realm.
    const users = (await admin.users.find({ realm: 'master' })).map((user) => user.username);
    expect(users).toEqual(['admin']);
  });

  async function changeSources(trustedSources: string[]) {
    const placed = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${instanceId}/orders`,
      headers: bearerHeaders(token),
      payload: { type: 'trusted-sources', trustedSources },
    });
    expect(placed.statusCode).toBe(201);
    expect(placed.json()).toMatchObject({
      type: 'trusted-sources',
      status: 'new',
      priceDelta: { perMonth: '0.00' },
    });
    let status = 'new';
    await waitFor(
      async () => {
        status = (
          await keyhouse.request({
            method: 'GET',
            url: `/api/v1/orders/${placed.json().id}`,
            headers: bearerHeaders(token),
          })
        ).json().status;
        return status === 'done' || status === 'failed';
      },
      60_000,
      'the trusted-sources order to finish',
    );
    expect(status).toBe('done');
  }

  it('changes the trusted sources with a change order: this host is locked out, then let in again', async () => {
    const instance = (
      await keyhouse.request({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}`,
        headers: bearerHeaders(token),
      })
    ).json();
    const url = new URL(instance.url);
    const probe = () =>
      probeTls({
        host: '127.0.0.1',
        port: Number(url.port),
        servername: url.hostname,
        ca: keyhouse.ca.certificatePem,
      });

    await changeSources(['10.9.8.0/24']);
    const refused = await probe();
    expect(refused).toMatchObject({ bytesReceived: 0, secured: false });
    const updated = (
      await keyhouse.request({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}`,
        headers: bearerHeaders(token),
      })
    ).json();
    expect(updated.trustedSources).toEqual(['10.9.8.0/24']);

    await changeSources(['127.0.0.1', '10.9.8.0/24']);
    expect((await probe()).secured).toBe(true);
  }, 180_000);
});
