import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import { bearerHeaders, signInOperator, signUp } from '../support/accounts.js';
import { probeTls, waitFor } from '../support/edge-probes.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The warm pool with a real Keycloak, a real PostgreSQL and the HAProxy edge: a pool of one member in the local
 * region; two create orders placed at the same moment: one claims the member, the other provisions cold; both end
 * DONE through the same steps; the pool builds a new member afterwards; the operator sees the hit and the miss.
 * Runs in the embedded-database project only (each Keycloak start costs about a minute on this machine).
 */

type Step = { name: string; status: string };
type OrderView = {
  id: string;
  instanceId: string;
  status: string;
  failureReason: string | null;
  steps: Step[];
};
type Member = { id: string; name: string; state: string; claimed_by_order: string | null };

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'warm pool: two orders, a pool of one',
  () => {
    let keyhouse: TestKeyhouse;

    const members = async () =>
      (
        await keyhouse.db.pool.query<Member>(
          'SELECT id, name, state, claimed_by_order FROM warm_pool_members ORDER BY created_at',
        )
      ).rows;

    beforeAll(async () => {
      keyhouse = await startTestKeyhouse((config) => {
        config.roles = ['api', 'worker', 'edge'];
        config.catalog.serviceTypes[0]!.versions = config.catalog.serviceTypes[0]!.versions.slice(0, 1);
        const region = config.catalog.regions[0]!;
        region.warmPool = [
          { version: config.catalog.serviceTypes[0]!.versions[0]!, nodeSize: 'b2-4', count: 1 },
        ];
        region.capacity = { maxInstances: 8, concurrentOrders: 2 };
        config.edge.listenHost = '127.0.0.1';
        const base = 20000 + Math.floor(Math.random() * 20000);
        config.edge.portRange = { from: base, to: base + 20 };
        config.keycloak.portRange = { from: base + 100, to: base + 140 };
      });
    }, 5 * 60_000);

    afterAll(async () => {
      if (!keyhouse) return;
      await keyhouse.warmPool?.stop();
      // Every Keycloak of this test (instances and pool members) goes through the driver: process, database, files.
      const { rows } = await keyhouse.db.pool.query<{ id: string; name: string }>(
        'SELECT id, name FROM instances UNION SELECT id, name FROM warm_pool_members',
      );
      for (const row of rows)
        await keyhouse.localBackend!.driver.destroy(
          { instanceId: row.id, name: row.name },
          async () => undefined,
        );
      await keyhouse.stop();
    }, 5 * 60_000);

    it(
      'claims the member for one order, provisions the other cold, both DONE, and refills',
      { timeout: 15 * 60_000 },
      async () => {
        // The pool fills by itself: one member, Keycloak running, its edge route refusing everyone.
        await waitFor(
          async () => (await members()).some((m) => m.state === 'ready'),
          8 * 60_000,
          'a ready pool member',
        );
        const [member] = await members();
        const route = (
          await keyhouse.db.pool.query<{ hostname: string; listen_port: number; trusted_sources: string[] }>(
            'SELECT hostname, listen_port, trusted_sources FROM edge_routes WHERE instance_id = $1',
            [member!.id],
          )
        ).rows[0]!;
        expect(route.trusted_sources).toEqual([]);
        expect(route.hostname.startsWith(`${member!.name}.`)).toBe(true);
        const probe = () =>
          probeTls({
            host: '127.0.0.1',
            port: route.listen_port,
            servername: route.hostname,
            ca: keyhouse.ca.certificatePem,
          });
        expect(await probe()).toMatchObject({ bytesReceived: 0, secured: false });
        // No organisation, no bill: a member is not an instance, and no usage record names it.
        const unbilled = await keyhouse.db.pool.query(
          'SELECT 1 FROM instances WHERE id = $1 UNION ALL SELECT 1 FROM usage_records WHERE instance_id = $1',
          [member!.id],
        );
        expect(unbilled.rowCount).toBe(0);

        // Two customers order the same version and size at the same moment.
        const customers = await Promise.all([
          signUp(keyhouse, { organizationName: 'Warm GmbH' }),
          signUp(keyhouse, { organizationName: 'Kalt AG' }),
        ]);
        const tokens = await Promise.all(customers.map((c) => c.createApiToken()));
        const placedAt = Date.now();
        const placed = await Promise.all(
          tokens.map((token) =>
            keyhouse.request({
              method: 'POST',
              url: '/api/v1/orders',
              headers: bearerHeaders(token),
              payload: exampleOrder(keyhouse.config),
            }),
          ),
        );
        for (const response of placed) expect(response.statusCode).toBe(201);
        const orders = placed.map((response) => response.json<OrderView>());
        const claimed = orders.filter((order) => order.instanceId === member!.id);
        expect(claimed).toHaveLength(1);
        const warmIndex = orders.indexOf(claimed[0]!);
        const cold = orders[1 - warmIndex]!;
        expect(cold.instanceId).not.toBe(member!.id);
        expect((await members()).find((m) => m.id === member!.id)).toMatchObject({
          state: 'claimed',
          claimed_by_order: claimed[0]!.id,
        });

        const finished = new Map<string, { order: OrderView; seconds: number }>();
        await waitFor(
          async () => {
            for (const [index, order] of orders.entries()) {
              if (finished.has(order.id)) continue;
              const current = (
                await keyhouse.request({
                  url: `/api/v1/orders/${order.id}`,
                  headers: bearerHeaders(tokens[index]!),
                })
              ).json<OrderView>();
              if (current.status === 'done' || current.status === 'failed')
                finished.set(order.id, { order: current, seconds: (Date.now() - placedAt) / 1000 });
            }
            return finished.size === 2;
          },
          10 * 60_000,
          'both orders to finish',
        );
        const warm = finished.get(claimed[0]!.id)!;
        const coldDone = finished.get(cold.id)!;
        console.info(
          `warm pool test: claimed order DONE after ${warm.seconds.toFixed(1)} s, cold order after ${coldDone.seconds.toFixed(1)} s`,
        );
        for (const { order } of [warm, coldDone]) {
          expect(order.failureReason).toBeNull();
          expect(order.status).toBe('done');
        }
        // The status page shows the same steps for both; the claimed order just runs through them fast.
        expect(warm.order.steps.map((s) => s.name)).toEqual(coldDone.order.steps.map((s) => s.name));
        expect(warm.seconds).toBeLessThan(coldDone.seconds);

        // The claimed instance is the member under the customer's name: its admin logs in through the edge, which
        // lets the customer's trusted sources in now, the first realm exists, the temporary admin is gone.
        const instance = (
          await keyhouse.request({
            url: `/api/v1/instances/${member!.id}`,
            headers: bearerHeaders(tokens[warmIndex]!),
          })
        ).json<{ name: string; url: string; status: string }>();
        expect(instance).toMatchObject({ name: member!.name, status: 'running' });
        const credentials = (
          await keyhouse.request({
            method: 'POST',
            url: `/api/v1/instances/${member!.id}/credentials/reveal`,
            headers: bearerHeaders(tokens[warmIndex]!),
          })
        ).json<{ username: string; password: string }>();
        const client = await adminClientThroughEdge({
          url: instance.url,
          ca: keyhouse.ca.certificatePem,
          ...credentials,
        });
        const customerNumber = (
          await keyhouse.db.pool.query<{ customer_number: string }>(
            'SELECT o.customer_number FROM organizations o JOIN instances i ON i.organization_id = o.id WHERE i.id = $1',
            [member!.id],
          )
        ).rows[0]!.customer_number;
        expect((await client.realms.find()).map((r) => r.realm)).toContain(customerNumber);
        const keycloakDb = new pg.Client({
          connectionString: `${inject('serverUrl')}/${instanceDatabaseName(member!.name)}`,
        });
        await keycloakDb.connect();
        try {
          const users = await keycloakDb.query<{ username: string }>(
            `SELECT username FROM user_entity WHERE realm_id = (SELECT id FROM realm WHERE name = 'master')`,
          );
          expect(users.rows.map((u) => u.username)).toEqual([credentials.username]);
        } finally {
          await keycloakDb.end();
        }
        // Billed from the claim on: the usage record of the claimed instance opens with its order.
        const usage = await keyhouse.db.pool.query('SELECT 1 FROM usage_records WHERE instance_id = $1', [
          member!.id,
        ]);
        expect(usage.rowCount).toBe(1);

        // The pool refills in the background: a new member, ready, under a new name.
        await waitFor(
          async () => (await members()).some((m) => m.id !== member!.id && m.state === 'ready'),
          8 * 60_000,
          'the pool to refill',
        );
        const after = await members();
        expect(after.filter((m) => m.state === 'ready')).toHaveLength(1);
        expect(after.filter((m) => m.state === 'claimed')).toHaveLength(1);

        // The operator sees the pool: one ready of one, one hit, one miss.
        const operator = await signInOperator(keyhouse, 'operator-read-only');
        const pool = await keyhouse.request({
          url: '/api/v1/ops/warm-pool',
          headers: { cookie: operator.cookie },
        });
        expect(pool.statusCode).toBe(200);
        expect(pool.json()).toEqual({
          pools: [
            {
              region: 'local',
              version: keyhouse.config.catalog.serviceTypes[0]!.versions[0],
              nodeSize: 'b2-4',
              configured: 1,
              provisioning: 0,
              ready: 1,
              retiring: 0,
              hits: 1,
              misses: 1,
            },
          ],
        });
        const capacity = await keyhouse.request({
          url: '/api/v1/ops/capacity',
          headers: { cookie: operator.cookie },
        });
        expect(
          capacity.json<{ regions: { region: string; warmPool: number | null }[] }>().regions,
        ).toContainEqual(expect.objectContaining({ region: 'local', warmPool: 1 }));
        const metrics = await keyhouse.request({ url: '/metrics', headers: { cookie: operator.cookie } });
        expect(metrics.body).toMatch(/keyhouse_warm_pool_claims\{[^}]*result="hit"\} 1/);
      },
    );
  },
);
