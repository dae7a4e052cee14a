import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import type { Order } from '../../src/orders/order-schemas.js';
import { bearerHeaders, signUp, type SignedInUser } from '../support/accounts.js';
import { edgeRequest, failureReport, startEdgeLoad, type LoadFailure } from '../support/edge-load.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import { provisioningOnLoopback, startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { exampleOrder } from '../support/orders.js';

/**
 * Day-2 orders end to end on ONE real Keycloak instance (embedded-database project only; every Keycloak start costs
 * one to two minutes here): scale beside the running Keycloak (no failed probe; the load test of it with a signed-in
 * session is zero-downtime.test.ts), storage growth under load with zero failed requests,
 * one change at a time (409), restart, an upgrade that fails and rolls back (fault injected), the real upgrade
 * 26.5.6 → 26.7.3, deletion protection, and a delete that leaves nothing behind. The change orders run in sequence
 * on the same instance, as a customer's would.
 */
const FROM_VERSION = '26.5.6';
const TO_VERSION = '26.7.3';

type OrderView = {
  id: string;
  type: string;
  status: string;
  failureReason: string | null;
  failureReasonParts?: Order['failureReasonParts'];
  steps: { name: string; status: string; message?: string; startedAt: string; finishedAt: string | null }[];
  priceDelta: { perMonth: string } | null;
};
type InstanceView = {
  id: string;
  name: string;
  status: string;
  version: string;
  nodeSize: string;
  storageGb: number;
  url: string | null;
};

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')('day-2 orders on a real Keycloak', () => {
  let keyhouse: TestKeyhouse;
  let customer: SignedInUser;
  let headers: Record<string, string>;
  let instanceId: string;
  let name: string;
  let password: string;
  /** The rollback test's fault: readiness of the new version is reported as failed while this is on. */
  let failNewVersion = false;

  const get = async <T>(url: string): Promise<T> =>
    (await keyhouse.request({ method: 'GET', url, headers })).json<T>();
  const instance = () => get<InstanceView>(`/api/v1/instances/${instanceId}`);
  const changeOrder = (payload: Record<string, unknown>) =>
    keyhouse.request({ method: 'POST', url: `/api/v1/instances/${instanceId}/orders`, headers, payload });

  /** Polls the order (every 250 ms) until it is done or failed, within `timeoutMs`. */
  async function finished(orderId: string, timeoutMs: number): Promise<OrderView & { seconds: number }> {
    const started = performance.now();
    for (;;) {
      const order = await get<OrderView>(`/api/v1/orders/${orderId}`);
      if (order.status === 'done' || order.status === 'failed')
        return { ...order, seconds: Math.round((performance.now() - started) / 100) / 10 };
      if (performance.now() - started > timeoutMs)
        throw new Error(`order ${orderId} not finished within ${timeoutMs} ms: ${JSON.stringify(order)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  const driver = () => keyhouse.localBackend!.driver;
  const pids = () => driver().processes({ name });
  const instanceDir = () => driver().instanceDir({ name });

  /** The OpenID configuration through the edge, over TLS with Keyhouse's CA. */
  const discovery = (url: URL) => ({
    target: { url: url.href, ca: keyhouse.ca.certificatePem },
    request: {
      path: '/realms/master/.well-known/openid-configuration',
      method: 'GET',
      timeoutMs: 5_000,
    } as const,
  });
  /** One discovery request; true when it answered 200. */
  const probe = async (url: URL) => {
    const { target, request } = discovery(url);
    return (await edgeRequest(target, request)).status === 200;
  };
  /** Discovery requests back to back until `stop()`, each failure kept with its cause and time. */
  const keepCalling = (url: URL) =>
    startEdgeLoad({ ...discovery(url), accepted: (answer) => answer.status === 200, pace: 'back-to-back' });

  async function adminDb<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const client = new pg.Client({ connectionString: `${inject('serverUrl')}/${database}` });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  const latestKeycloakMigration = () =>
    adminDb(
      async (client) =>
        (
          await client.query<{ version: string }>(
            'SELECT version FROM migration_model ORDER BY update_time DESC, version DESC LIMIT 1',
          )
        ).rows[0]?.version,
      instanceDatabaseName(name),
    );

  /** The upgrades' backups: pg_dump files through the one backup mechanism, listed with the instance's backups. */
  const preUpgradeBackups = async () =>
    (
      await get<{ items: { kind: string; status: string; sizeBytes: number }[] }>(
        `/api/v1/instances/${instanceId}/backups`,
      )
    ).items.filter((backup) => backup.kind === 'pre-upgrade' && backup.status === 'done');

  async function adminLogsInThroughEdge(url: string) {
    const admin = await adminClientThroughEdge({
      url,
      ca: keyhouse.ca.certificatePem,
      username: 'admin',
      password,
    });
    return (await admin.realms.find()).map((realm) => realm.realm);
  }

  beforeAll(async () => {
    keyhouse = await startTestKeyhouse(
      (config) => {
        provisioningOnLoopback(config);
        config.catalog.serviceTypes[0]!.versions = [FROM_VERSION, TO_VERSION];
      },
      { localDriverTestFaults: { failReadiness: (version) => failNewVersion && version === TO_VERSION } },
    );
    customer = await signUp(keyhouse);
    headers = bearerHeaders(await customer.createApiToken());
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config, { version: FROM_VERSION }),
    });
    expect(placed.statusCode).toBe(201);
    instanceId = placed.json().instanceId;
    const created = await finished(placed.json().id, 10 * 60_000);
    expect(created.failureReason).toBeNull();
    expect(created.status).toBe('done');
    name = (await instance()).name;
    password = (
      await keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/credentials/reveal`,
        headers,
      })
    ).json().password;
    console.log(`[day-2] create: DONE after ${created.seconds} s`);
  }, 12 * 60_000);

  afterAll(async () => {
    // Whatever a failed test left: no Keycloak of this test keeps running.
    if (name && keyhouse?.localBackend && existsSync(instanceDir()))
      await driver().destroy({ instanceId, name }, async () => undefined);
    await keyhouse?.stop();
  }, 120_000);

  it(
    'scales b2-4 → b4-8 beside the running Keycloak without a failed probe, refusing a second change meanwhile',
    async () => {
      const before = pids();
      const url = new URL((await instance()).url!);
      expect(await probe(url)).toBe(true);
      const caller = keepCalling(url);

      const placed = await changeOrder({ type: 'scale', nodeSize: 'b4-8' });
      expect(placed.statusCode).toBe(201);
      expect(placed.json()).toMatchObject({
        type: 'scale',
        previousSpec: { nodeSize: 'b2-4' },
        spec: { nodeSize: 'b4-8' },
        priceDelta: { perHour: '0.1100', perMonth: '80.30' },
      });
      // One change at a time: the next one is refused with a link to the running order.
      const second = await changeOrder({ type: 'storage', storageGb: 100 });
      expect(second.statusCode).toBe(409);
      expect(second.json()).toMatchObject({ runningOrder: `/api/v1/orders/${placed.json().id}` });

      const order = await finished(placed.json().id, 5 * 60_000);
      const results = await caller.stop();
      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      expect(order.steps.map((s) => s.name)).toEqual(
        expect.arrayContaining(['keycloak-standby', 'edge-switch', 'keycloak-drain']),
      );

      const after = pids();
      expect(after).toHaveLength(1);
      expect(after).not.toEqual(before);
      // The new Keycloak runs in the instance's other slot.
      const conf = readFileSync(path.join(instanceDir(), 'keycloak-b', 'conf', 'keycloak.conf'), 'utf8');
      // b4-8: 4 vCPU → a database pool of 16 (b2-4: 8); the heap follows the node's memory up to this host's cap.
      expect(conf).toContain('db-pool-max-size=16');
      expect(await probe(url)).toBe(true);

      const report = failureReport(results.failures, order.steps);
      console.log(
        `[day-2] scale: order DONE after ${order.seconds} s; ` +
          `${results.failures.length} of ${results.sent} requests through the edge failed` +
          (results.failures.length ? `:\n${report}` : ''),
      );
      expect(results.failures, report).toEqual([]);
      expect((await instance()).nodeSize).toBe('b4-8');
    },
    6 * 60_000,
  );

  it(
    'grows storage 50 → 100 GB without a restart and without one failed request',
    async () => {
      const before = pids();
      const current = await instance();
      const url = new URL(current.url!);
      const admin = await adminClientThroughEdge({
        url: current.url!,
        ca: keyhouse.ca.certificatePem,
        username: 'admin',
        password,
      });
      // Two clients: unauthenticated discovery over fresh TLS connections, and the admin API with a token.
      const caller = keepCalling(url);
      let adminCalls = 0;
      const adminFailures: LoadFailure[] = [];
      let calling = true;
      const adminLoop = (async () => {
        while (calling) {
          const sentAt = new Date().toISOString();
          try {
            await admin.realms.find();
            adminCalls++;
          } catch (error) {
            adminFailures.push({ at: new Date().toISOString(), sentAt, what: (error as Error).message });
          }
        }
      })();

      /** Polls (every 100 ms) until `condition` holds; the load keeps flowing meanwhile. */
      const until = async (condition: () => boolean, timeoutMs: number, what: string) => {
        const deadline = performance.now() + timeoutMs;
        while (!condition()) {
          if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      // Load flows before the change …
      await until(() => adminCalls >= 3 && caller.ok() >= 3, 60_000, 'both clients calling');
      const placed = await changeOrder({ type: 'storage', storageGb: 100 });
      expect(placed.statusCode).toBe(201);
      const order = await finished(placed.json().id, 2 * 60_000);
      // … and a while beyond DONE (the edge applies route changes asynchronously): 5 s and 3 more admin calls.
      const doneAt = performance.now();
      const adminAtDone = adminCalls;
      await until(
        () => performance.now() - doneAt > 5_000 && adminCalls >= adminAtDone + 3,
        60_000,
        'load after DONE',
      );
      const results = await caller.stop();
      calling = false;
      await adminLoop;

      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      const reports = {
        discovery: failureReport(results.failures, order.steps),
        admin: failureReport(adminFailures, order.steps),
      };
      console.log(
        `[day-2] storage: DONE after ${order.seconds} s; ${results.sent} discovery requests ` +
          `(${results.failures.length} failed), ${adminCalls} admin API calls (${adminFailures.length} failed)` +
          (results.failures.length + adminFailures.length ? `:\n${reports.discovery}\n${reports.admin}` : ''),
      );
      expect(results.failures, reports.discovery).toEqual([]);
      expect(adminFailures, reports.admin).toEqual([]);
      expect(results.sent).toBeGreaterThan(5);
      expect(adminCalls).toBeGreaterThan(5);
      expect(pids()).toEqual(before);
      expect((await instance()).storageGb).toBe(100);
    },
    3 * 60_000,
  );

  it(
    'restarts on a restart order',
    async () => {
      const before = pids();
      const placed = await changeOrder({ type: 'restart' });
      expect(placed.statusCode).toBe(201);
      expect(placed.json().priceDelta).toMatchObject({ perMonth: '0.00' });
      const order = await finished(placed.json().id, 5 * 60_000);
      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      expect(order.steps.map((s) => s.name)).toEqual(
        expect.arrayContaining([
          'keycloak-standby',
          'edge-switch',
          'keycloak-drain',
          'keycloak-ready',
          'verify',
        ]),
      );
      expect(pids()).toHaveLength(1);
      expect(pids()).not.toEqual(before);
      console.log(`[day-2] restart: DONE after ${order.seconds} s`);
    },
    6 * 60_000,
  );

  it(
    'rolls an upgrade back when the new version does not become ready: old version, old data, order failed',
    async () => {
      failNewVersion = true;
      try {
        const placed = await changeOrder({ type: 'upgrade', version: TO_VERSION });
        expect(placed.statusCode).toBe(201);
        const order = await finished(placed.json().id, 10 * 60_000);
        console.log(
          `[day-2] upgrade with forced failure: rolled back, order FAILED after ${order.seconds} s`,
        );
        expect(order.status).toBe('failed');
        expect(order.failureReason).toContain(`Keycloak ${TO_VERSION} did not become ready`);
        expect(order.failureReason).toContain(`runs Keycloak ${FROM_VERSION} again`);
        expect(order.failureReasonParts).toEqual([
          { code: 'failure.upgradeRolledBack', params: { version: TO_VERSION, previous: FROM_VERSION } },
        ]);
        const steps = Object.fromEntries(order.steps.map((s) => [s.name, s]));
        expect(steps['backup']).toMatchObject({ status: 'done' });
        expect(steps['keycloak-ready']).toMatchObject({ status: 'failed' });
        expect(steps['rollback']).toMatchObject({ status: 'done' });
        expect(steps['rollback-keycloak-ready']).toMatchObject({ status: 'done' });
      } finally {
        failNewVersion = false;
      }
      const current = await instance();
      expect(current).toMatchObject({ status: 'running', version: FROM_VERSION });
      // The new version had migrated the database before the "failure"; the restore took that back.
      expect(await latestKeycloakMigration()).toBe(FROM_VERSION);
      expect(await adminLogsInThroughEdge(current.url!)).toContain(customer.organization.customerNumber);
      // The backup is kept after the rollback (a pg_dump file, listed with the instance's backups).
      expect(await preUpgradeBackups()).toHaveLength(1);
      const audit = await get<{ items: { action: string; outcome: string }[] }>(
        '/api/v1/audit-events?action=instance.upgrade.rolled-back',
      );
      expect(audit.items).toEqual([expect.objectContaining({ outcome: 'failure' })]);
    },
    11 * 60_000,
  );

  it(
    `upgrades ${FROM_VERSION} → ${TO_VERSION} after a backup, on Java 25`,
    async () => {
      const placed = await changeOrder({ type: 'upgrade', version: TO_VERSION });
      expect(placed.statusCode).toBe(201);
      const order = await finished(placed.json().id, 8 * 60_000);
      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      console.log(`[day-2] upgrade ${FROM_VERSION} → ${TO_VERSION}: DONE after ${order.seconds} s`);
      const current = await instance();
      expect(current).toMatchObject({ status: 'running', version: TO_VERSION });
      expect(await latestKeycloakMigration()).toBe(TO_VERSION);
      expect(await preUpgradeBackups()).toHaveLength(2);
      const [pid] = pids();
      expect(readlinkSync(`/proc/${pid}/exe`)).toMatch(/25/);
      expect(existsSync(path.join(instanceDir(), 'keycloak.previous'))).toBe(false);
      expect(await adminLogsInThroughEdge(current.url!)).toContain(customer.organization.customerNumber);
    },
    9 * 60_000,
  );

  it(
    'deletes only with protection off and the typed name, leaving no process, port, database, role, file or route',
    async () => {
      const current = await instance();
      const edgePort = Number(new URL(current.url!).port);
      const state = JSON.parse(readFileSync(path.join(instanceDir(), 'state.json'), 'utf8')) as {
        ports: { httpPort: number; managementPort: number };
      };

      const protectedDelete = await changeOrder({ type: 'delete', confirmName: name });
      expect(protectedDelete.statusCode).toBe(409);
      expect(protectedDelete.json().detail).toContain('Deletion protection');
      const off = await keyhouse.request({
        method: 'PATCH',
        url: `/api/v1/instances/${instanceId}`,
        headers,
        payload: { deletionProtection: false },
      });
      expect(off.statusCode).toBe(200);
      const wrongName = await changeOrder({ type: 'delete', confirmName: 'kc-wrong' });
      expect(wrongName.statusCode).toBe(400);
      expect(wrongName.json().errors).toEqual([expect.objectContaining({ path: 'confirmName' })]);

      const placed = await changeOrder({ type: 'delete', confirmName: name });
      expect(placed.statusCode).toBe(201);
      const order = await finished(placed.json().id, 3 * 60_000);
      expect(order.failureReason).toBeNull();
      expect(order.status).toBe('done');
      console.log(`[day-2] delete: DONE after ${order.seconds} s`);

      // No process.
      expect(pids()).toEqual([]);
      // No port: Keycloak's and the edge's are free again (the edge closes its listener on the route's removal).
      const portFree = (port: number) =>
        new Promise<boolean>((resolve) => {
          const server = net.createServer();
          server.once('error', () => resolve(false));
          server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
        });
      expect(await portFree(state.ports.httpPort)).toBe(true);
      expect(await portFree(state.ports.managementPort)).toBe(true);
      const edgeDeadline = performance.now() + 10_000;
      while (!(await portFree(edgePort)) && performance.now() < edgeDeadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await portFree(edgePort)).toBe(true);
      // No database, backup or role.
      const database = instanceDatabaseName(name);
      const leftovers = await adminDb(async (client) => ({
        databases: (
          await client.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [database])
        ).rows,
        roles: (await client.query('SELECT rolname FROM pg_roles WHERE rolname = $1', [database])).rows,
      }));
      expect(leftovers).toEqual({ databases: [], roles: [] });
      // No file, no backup file.
      expect(existsSync(instanceDir())).toBe(false);
      expect(existsSync(path.join(keyhouse.config.dataDir, 'backups', name))).toBe(false);
      // No edge route.
      const routes = await keyhouse.db.pool.query('SELECT 1 FROM edge_routes WHERE instance_id = $1', [
        instanceId,
      ]);
      expect(routes.rowCount).toBe(0);

      // Still listed, as deleted, with its history; no further orders.
      expect(await instance()).toMatchObject({ status: 'deleted', url: null });
      const history = await get<{ items: { type: string }[] }>(
        `/api/v1/orders?instanceId=${instanceId}&limit=20`,
      );
      expect(history.items.map((o) => o.type)).toEqual([
        'delete',
        'upgrade',
        'upgrade',
        'restart',
        'storage',
        'scale',
        'create',
      ]);
      expect((await changeOrder({ type: 'restart' })).statusCode).toBe(404);

      // Metering followed the orders: b2-4/50 → b4-8/50 (scale) → b4-8/100 (storage) → closed (delete).
      const usage = await keyhouse.db.pool.query<{ node_size: string; storage_gb: number; open: boolean }>(
        `SELECT node_size, storage_gb, ended_at IS NULL AS open FROM usage_records WHERE instance_id = $1
        ORDER BY started_at, id`,
        [instanceId],
      );
      expect(usage.rows).toEqual([
        { node_size: 'b2-4', storage_gb: 50, open: false },
        { node_size: 'b4-8', storage_gb: 50, open: false },
        { node_size: 'b4-8', storage_gb: 100, open: false },
      ]);
      const deletedEvents = await get<{ items: { actor: string }[] }>(
        '/api/v1/audit-events?action=instance.deleted',
      );
      expect(deletedEvents.items).toEqual([expect.objectContaining({ actor: 'system' })]);
    },
    4 * 60_000,
  );
});
