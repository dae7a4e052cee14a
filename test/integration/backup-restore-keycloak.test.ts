import { existsSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceBackups } from '../../src/backups/backup-schemas.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { eventually } from '../support/backups.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * Backups and restores with a real Keycloak (embedded-database project only: two Keycloak instances, several
 * starts): a realm with a user and a client; the nightly backup (the scheduler's clock moved into the window);
 * data changed and deleted; a restore into a new instance, where the user logs in with the old password; a restore
 * in place, which brings the deleted user back after a backup of the current state.
 */
const REALM = 'shop';
const CLIENT = 'shop-app';
const OLD_PASSWORD = 'Old-Password-1';
const NEW_PASSWORD = 'New-Password-2';

type OrderView = {
  id: string;
  status: string;
  failureReason: string | null;
  steps: { name: string; status: string }[];
};

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'backups and restores of a real Keycloak',
  () => {
    let keyhouse: TestKeyhouse;
    let headers: Record<string, string>;
    let clock = Date.now();
    const instances: { id: string; name: string; url: string; password: string }[] = [];

    const get = async <T>(url: string): Promise<T> =>
      (await keyhouse.request({ method: 'GET', url, headers })).json<T>();

    async function finished(orderId: string, timeoutMs: number): Promise<OrderView> {
      let last: OrderView | undefined;
      return eventually(async () => {
        last = await get<OrderView>(`/api/v1/orders/${orderId}`);
        return (last.status === 'done' || last.status === 'failed') && last;
      }, timeoutMs).catch((error: unknown) => {
        // Where it stood: the order's status and steps, so that a timeout names the step it hung in.
        throw new Error(`${(error as Error).message}; the order: ${JSON.stringify(last)}`);
      });
    }

    /** A finished order's instance: its URL and the admin's password (revealed, audited). */
    async function instanceOf(order: { instanceId: string }) {
      const instance = await get<{ id: string; name: string; url: string }>(
        `/api/v1/instances/${order.instanceId}`,
      );
      const revealed = await keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${instance.id}/credentials/reveal`,
        headers,
      });
      const entry = {
        id: instance.id,
        name: instance.name,
        url: instance.url,
        password: revealed.json().password,
      };
      instances.push(entry);
      return entry;
    }

    async function order(payload: Record<string, unknown>, url = '/api/v1/orders') {
      const placed = await keyhouse.request({ method: 'POST', url, headers, payload });
      expect(placed.statusCode, placed.body).toBe(201);
      const done = await finished(placed.json().id, 12 * 60_000);
      expect(done.failureReason).toBeNull();
      expect(done.status).toBe('done');
      return { ...done, instanceId: placed.json().instanceId as string };
    }

    const admin = (instance: { url: string; password: string }) =>
      adminClientThroughEdge({
        url: instance.url,
        ca: keyhouse.ca.certificatePem,
        username: 'admin',
        password: instance.password,
      });

    /** A user's login through the edge with the password grant of the realm's client: true when a token came back. */
    async function logsIn(instance: { url: string }, username: string, password: string): Promise<boolean> {
      const dispatcher = new Agent({
        connect: {
          ca: keyhouse.ca.certificatePem,
          lookup: (_hostname, lookupOptions, callback) => {
            if ((lookupOptions as { all?: boolean }).all)
              callback(null, [{ address: '127.0.0.1', family: 4 }]);
            else (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4);
          },
        },
      });
      const response = await fetch(`${instance.url}/realms/${REALM}/protocol/openid-connect/token`, {
        method: 'POST',
        dispatcher,
        body: new URLSearchParams({ grant_type: 'password', client_id: CLIENT, username, password }),
      });
      const body = (await response.json()) as { access_token?: string };
      await dispatcher.close();
      return response.status === 200 && typeof body.access_token === 'string';
    }

    const users = async (instance: { url: string; password: string }, realm = REALM) =>
      (await (await admin(instance)).users.find({ realm })).map((user) => user.username).sort();

    beforeAll(async () => {
      keyhouse = await startTestKeyhouse(
        (config) => {
          config.roles = ['api', 'worker', 'edge'];
          config.edge.listenHost = '127.0.0.1';
          const base = 20000 + Math.floor(Math.random() * 20000);
          config.edge.portRange = { from: base, to: base + 20 };
          config.keycloak.portRange = { from: base + 100, to: base + 140 };
        },
        { now: () => new Date(clock), backupSchedule: false },
      );
      headers = bearerHeaders(await (await signUp(keyhouse)).createApiToken());
    }, 60_000);

    afterAll(async () => {
      // Whatever a failed test left: no Keycloak of this test keeps running.
      for (const instance of instances)
        if (keyhouse?.localBackend && existsSync(keyhouse.localBackend.driver.instanceDir(instance)))
          await keyhouse.localBackend.driver.destroy(
            { instanceId: instance.id, name: instance.name },
            async () => undefined,
          );
      await keyhouse?.stop();
    }, 180_000);

    it(
      'nightly backup, then restore into a new instance (old password) and in place (deleted user back)',
      async () => {
        const source = await instanceOf(await order(exampleOrder(keyhouse.config)));
        const sourceAdmin = await admin(source);
        await sourceAdmin.realms.create({ realm: REALM, enabled: true });
        await sourceAdmin.clients.create({
          realm: REALM,
          clientId: CLIENT,
          publicClient: true,
          directAccessGrantsEnabled: true,
          standardFlowEnabled: false,
        });
        for (const username of ['alice', 'carol'])
          await sourceAdmin.users.create({
            realm: REALM,
            username,
            enabled: true,
            email: `${username}@beispiel.de`,
            emailVerified: true,
            firstName: username,
            lastName: 'Beispiel',
            credentials: [{ type: 'password', value: OLD_PASSWORD, temporary: false }],
          });
        expect(await logsIn(source, 'alice', OLD_PASSWORD)).toBe(true);

        // The night comes: the clock moves into the instance's next backup window, one hour in.
        const window = (await get<InstanceBackups>(`/api/v1/instances/${source.id}/backups`))
          .nextBackupWindow;
        clock = Date.parse(window.start) + 61 * 60_000;
        expect((await keyhouse.backupScheduler!.tick()).queued).toHaveLength(1);
        const nightly = await eventually(async () => {
          const [backup] = (await get<InstanceBackups>(`/api/v1/instances/${source.id}/backups`)).items;
          return backup?.status === 'done' && backup;
        }, 120_000);
        expect(nightly).toMatchObject({ kind: 'nightly', postgresMajor: 15 });
        console.log(
          `[backups] nightly backup of a fresh Keycloak: ${nightly.sizeBytes} bytes in ${nightly.durationMs} ms`,
        );
        // Keycloak kept serving while the dump ran.
        expect(await logsIn(source, 'alice', OLD_PASSWORD)).toBe(true);

        // After the backup: alice's password changes, carol is deleted, bob arrives.
        const [alice] = await sourceAdmin.users.find({ realm: REALM, username: 'alice', exact: true });
        await sourceAdmin.users.resetPassword({
          realm: REALM,
          id: alice!.id!,
          credential: { type: 'password', value: NEW_PASSWORD, temporary: false },
        });
        const [carol] = await sourceAdmin.users.find({ realm: REALM, username: 'carol', exact: true });
        await sourceAdmin.users.del({ realm: REALM, id: carol!.id! });
        await sourceAdmin.users.create({ realm: REALM, username: 'bob', enabled: true });
        expect(await logsIn(source, 'alice', OLD_PASSWORD)).toBe(false);
        expect(await users(source)).toEqual(['alice', 'bob']);

        // Restore into a new instance: a create order like the first one, from the nightly backup.
        const refused = await keyhouse.request({
          method: 'POST',
          url: '/api/v1/orders',
          headers,
          payload: exampleOrder(keyhouse.config, {
            storageGb: 50,
            nodeSize: 'b2-4',
            restoreFrom: { instanceId: source.id, backupId: '00000000-0000-4000-8000-000000000000' },
          }),
        });
        expect(refused.statusCode).toBe(400);
        expect(refused.json().errors).toEqual([expect.objectContaining({ path: 'restoreFrom.backupId' })]);
        const started = performance.now();
        const copy = await instanceOf(
          await order(
            exampleOrder(keyhouse.config, { restoreFrom: { instanceId: source.id, backupId: nightly.id } }),
          ),
        );
        console.log(
          `[backups] restore into a new instance: DONE after ${Math.round((performance.now() - started) / 1000)} s`,
        );
        expect(copy.id).not.toBe(source.id);
        expect(copy.password).not.toBe(source.password); // its own admin, handed over like on any new instance
        expect(await logsIn(copy, 'alice', OLD_PASSWORD)).toBe(true);
        expect(await users(copy)).toEqual(['alice', 'carol']);
        // The source is untouched.
        expect(await logsIn(source, 'alice', NEW_PASSWORD)).toBe(true);

        // Restore in place: the typed name, a backup of the current state first, then the nightly one.
        const inPlaceStarted = performance.now();
        const restored = await order(
          { type: 'restore', backupId: nightly.id, confirmName: source.name },
          `/api/v1/instances/${source.id}/orders`,
        );
        console.log(
          `[backups] restore in place: DONE after ${Math.round((performance.now() - inPlaceStarted) / 1000)} s`,
        );
        expect(restored.steps.map((step) => step.name)).toEqual(
          expect.arrayContaining([
            'pre-restore-backup',
            'restore-database',
            'restore-switch',
            'keycloak-ready',
            'verify',
          ]),
        );
        expect(await users(source)).toEqual(['alice', 'carol']);
        expect(await logsIn(source, 'carol', OLD_PASSWORD)).toBe(true);
        expect(await logsIn(source, 'alice', OLD_PASSWORD)).toBe(true);
        const backups = (await get<InstanceBackups>(`/api/v1/instances/${source.id}/backups`)).items;
        expect(backups).toContainEqual(
          expect.objectContaining({ kind: 'pre-restore', status: 'done', orderId: restored.id }),
        );

        // Realm export with users from the source, import on the copy under a new name.
        const exported = await order(
          { type: 'realm-export', realm: REALM, includeUsers: true },
          `/api/v1/instances/${source.id}/orders`,
        );
        const json = await keyhouse.request({
          method: 'GET',
          url: `/api/v1/orders/${exported.id}/realm-export`,
          headers,
        });
        expect(json.statusCode).toBe(200);
        const realm = json.json<{
          realm: string;
          clients: { clientId: string }[];
          users: { username: string }[];
        }>();
        expect(realm.realm).toBe(REALM);
        expect(realm.clients.map((c) => c.clientId)).toContain(CLIENT);
        expect(realm.users.map((u) => u.username).sort()).toEqual(['alice', 'carol']);

        const clash = await keyhouse.request({
          method: 'POST',
          url: `/api/v1/instances/${copy.id}/orders`,
          headers,
          payload: { type: 'realm-import', exportOrderId: exported.id },
        });
        expect(clash.statusCode).toBe(201);
        expect(await finished(clash.json().id, 5 * 60_000)).toMatchObject({
          status: 'failed',
          failureReason: `A realm named "${REALM}" exists on this instance already.`,
        });

        await order(
          { type: 'realm-import', exportOrderId: exported.id, realmName: 'shop-imported' },
          `/api/v1/instances/${copy.id}/orders`,
        );
        expect(await users(copy, 'shop-imported')).toEqual(['alice', 'carol']);
        const [imported] = await (
          await admin(copy)
        ).clients.find({ realm: 'shop-imported', clientId: CLIENT });
        expect(imported?.directAccessGrantsEnabled).toBe(true);
      },
      40 * 60_000,
    );
  },
);
