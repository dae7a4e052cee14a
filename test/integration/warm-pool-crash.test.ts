import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/edge-probes.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import {
  keyhouseProcess,
  removeProcessRun,
  signUpOverHttp,
  type KeyhouseProcess,
  prepareProcessDataDir,
} from '../support/keyhouse-process.js';
import { isJvm, kcHomeOf, processesUnder } from '../support/process-tree.js';
import { exampleBillingProfile } from '../support/orders.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * The warm pool's claim under SIGKILL, with Keyhouse as a real process (test/support/keyhouse-process.ts) and a pool
 * of one real Keycloak:
 * 1. killed in the middle of the claim: the order's transaction has claimed the member and is held (the test locks
 *    the pool's claim counter, the claim's last write) when the process dies. Nothing of the order remains and
 *    the member is back in the pool, ready, claimed by nobody.
 * 2. killed after the claim, while the worker hands the member over: after the restart the order ends DONE with
 *    the member as its instance, no other member or instance has its name, and the pool builds a new member.
 * Runs in the embedded-database project only (a Keycloak start costs one to two minutes here).
 */

type Member = { id: string; name: string; state: string; claimed_by_order: string | null };
const VERSION = '26.5.6';

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')('warm pool: SIGKILL during a claim', () => {
  let dir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: pg.Client;
  let keyhouse: KeyhouseProcess;
  let token: string;
  let customerNumber: string;

  const members = async () =>
    (
      await db.query<Member>(
        'SELECT id, name, state, claimed_by_order FROM warm_pool_members ORDER BY created_at, id',
      )
    ).rows;
  const order = (idempotencyKey: string) =>
    fetch(`${keyhouse.apiUrl}/api/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: JSON.stringify({
        serviceType: 'keycloak',
        version: VERSION,
        nodeSize: 'b2-4',
        storageGb: 50,
        trustedSources: ['127.0.0.1'],
        region: 'local',
        billingProfile: exampleBillingProfile,
        acceptTerms: { version: '2026-11' },
      }),
    });

  beforeAll(async () => {
    const { dir: dataDir, configFile } = prepareProcessDataDir('keyhouse-warm-crash-', [
      'catalog:',
      `  serviceTypes: [{ id: keycloak, name: Keycloak, versions: ['${VERSION}'] }]`,
      '  regions:',
      '    - id: local',
      '      name: Local',
      '      driver: local',
      '      public: false',
      '      zones: [{ id: local-1, name: This host }]',
      '      capacity: { maxInstances: 8, concurrentOrders: 2 }',
      `      warmPool: [{ version: '${VERSION}', nodeSize: b2-4, count: 1 }]`,
    ]);
    dir = dataDir;
    database = await createTestDatabase();
    const apiPort = await freePort();
    keyhouse = keyhouseProcess({
      apiPort,
      logFile: path.join(dir, 'keyhouse.log'),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LANG: 'C.UTF-8',
        ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}),
        DATA_DIR: dir,
        DATABASE_URL: database.url,
        PORT: String(apiPort),
        KEYHOUSE_CONFIG: configFile,
      },
    });
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
    await keyhouse.start();
    ({ token, customerNumber } = await signUpOverHttp(keyhouse, 'Warm Absturz GmbH'));
  }, 180_000);

  afterAll(async () => {
    let instanceNames: string[] = [];
    if (db) {
      const { rows } = await db
        .query<{ name: string }>('SELECT name FROM instances UNION SELECT name FROM warm_pool_members')
        .catch(() => ({ rows: [] as { name: string }[] }));
      instanceNames = rows.map((row) => row.name);
      await db.end();
    }
    await removeProcessRun({ keyhouse, dir, database, instanceNames });
  }, 120_000);

  it(
    'loses no member and shares none when killed during the claim and during the hand-over',
    { timeout: 15 * 60_000 },
    async () => {
      await waitFor(
        async () => (await members()).some((m) => m.state === 'ready'),
        8 * 60_000,
        `a ready pool member\n${keyhouse.logTail()}`,
      );
      const [member] = await members();

      // 1. The order's transaction claims the member, then waits for the claim counter the test holds: SIGKILL now.
      await db.query(
        `INSERT INTO warm_pool_claims (region, version, node_size) VALUES ('local', $1, 'b2-4') ON CONFLICT DO NOTHING`,
        [VERSION],
      );
      const blocker = new pg.Client({ connectionString: database.url });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM warm_pool_claims WHERE region = 'local' FOR UPDATE`);
      const held = order(randomUUID()).then(
        (response) => `answered ${response.status}`,
        (error: Error) => `no answer (${error.message})`,
      );
      const waitingClaim = async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%warm_pool_claims%'`,
          )
        ).rowCount === 1;
      await waitFor(waitingClaim, 60_000, 'the claim to wait for the counter');
      await keyhouse.stop('SIGKILL');
      expect(await held).toMatch(/^no answer/);
      await blocker.query('ROLLBACK');
      await blocker.end();
      // PostgreSQL rolls the dead client's transaction back once it finds the connection gone.
      await waitFor(
        async () =>
          (
            await db.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%warm_pool_claims%'
                 AND pid <> pg_backend_pid() AND state <> 'idle'`,
            )
          ).rowCount === 0,
        60_000,
        'the killed claim to be rolled back',
      );
      expect(await members()).toEqual([{ ...member, state: 'ready', claimed_by_order: null }]);
      const counts = await db.query<{ orders: number; instances: number }>(
        `SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM instances) AS instances`,
      );
      expect(counts.rows[0]).toEqual({ orders: 0, instances: 0 });

      // 2. After a restart an order claims the same member; SIGKILL once the worker is handing it over.
      await keyhouse.start();
      const placed = await order(randomUUID());
      expect(placed.status).toBe(201);
      const { id: orderId, instanceId } = (await placed.json()) as { id: string; instanceId: string };
      expect(instanceId).toBe(member!.id);
      const status = async () =>
        (await db.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]!
          .status;
      await waitFor(async () => (await status()) !== 'new', 60_000, 'the worker to take the order');
      await keyhouse.stop('SIGKILL');
      expect((await members()).find((m) => m.id === member!.id)).toMatchObject({
        state: 'claimed',
        claimed_by_order: orderId,
      });
      await keyhouse.start();
      await waitFor(
        async () => ['done', 'failed'].includes(await status()),
        6 * 60_000,
        `the order to finish after the restart\n${keyhouse.logTail()}`,
      );
      expect(await status()).toBe('done');

      // The member is the order's instance, under its name, with one Keycloak; nothing else has that name.
      const instances = await db.query<{ id: string; name: string }>('SELECT id, name FROM instances');
      expect(instances.rows).toEqual([{ id: member!.id, name: member!.name }]);
      const jvms = processesUnder(dir)
        .filter(isJvm)
        .map(kcHomeOf)
        .filter((home) => home?.includes(`/instances/${member!.name}/`));
      expect(jvms).toHaveLength(1);
      const instance = await keyhouse.json<{ url: string }>(
        `/api/v1/instances/${instanceId}`,
        { headers: { authorization: `Bearer ${token}` } },
        200,
      );
      const credentials = await keyhouse.json<{ username: string; password: string }>(
        `/api/v1/instances/${instanceId}/credentials/reveal`,
        { method: 'POST', headers: { authorization: `Bearer ${token}` } },
        200,
      );
      const ca = await (await fetch(`${keyhouse.apiUrl}/api/v1/ca.pem`)).text();
      const client = await adminClientThroughEdge({ url: instance.url, ca, ...credentials });
      expect((await client.realms.find()).map((r) => r.realm)).toContain(customerNumber);

      // The pool builds a new member, under a new name; one claimed member, one hit in all.
      await waitFor(
        async () => (await members()).some((m) => m.id !== member!.id),
        2 * 60_000,
        'the pool to start a new member',
      );
      const after = await members();
      expect(after).toHaveLength(2);
      expect(after.filter((m) => m.state === 'claimed')).toHaveLength(1);
      expect(new Set(after.map((m) => m.name)).size).toBe(2);
      const claims = await db.query<{ hits: number; misses: number }>(
        'SELECT hits::int, misses::int FROM warm_pool_claims',
      );
      expect(claims.rows).toEqual([{ hits: 1, misses: 0 }]);
    },
  );
});
