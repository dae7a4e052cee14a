import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState, writeState } from '../../src/drivers/local/instance-files.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { waitFor } from '../support/edge-probes.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';
import {
  edgeRequest,
  failureReport,
  startSessionLoad,
  startTokenLoad,
  type EdgeTarget,
  type LoadResult,
} from '../support/edge-load.js';
import {
  earlierPatchRelease,
  provisioningOnLoopback,
  startTestKeyhouse,
  type TestKeyhouse,
} from '../support/test-keyhouse.js';

/**
 * Scale and restart without downtime (issue 13): a real Keycloak behind the real HAProxy, and through the edge a
 * client's token requests (10 a second) and a signed-in user's userinfo calls (5 a second, each answered only
 * while the user's session exists), every request on a new connection. During a scale order (b2-4 → b4-8) and a
 * restart order not one request may fail, and afterwards the session signed in before still works (its refresh
 * token gets new tokens, userinfo answers): the new Keycloak found it in the database. The same for a patch upgrade
 * (26.5.5 → 26.5.6) that Keycloak's own rolling-update check allows, and for one whose new version does not become
 * ready (a test fault): then the old one serves on and the order fails saying so. Without room in the region
 * for a second Keycloak the restart stops and starts, and the order says so. A switch cut short after its state
 * was written is finished by the next pass, with exactly one Keycloak left.
 *
 * Embedded-database project only (each Keycloak start costs a minute or two here).
 */
type OrderView = {
  id: string;
  status: string;
  failureReason: string | null;
  steps: {
    name: string;
    message?: string;
    messageParts?: { code: string }[];
    startedAt: string;
    finishedAt: string | null;
  }[];
};
/**
 * Rates this shared 2-CPU machine carries while a second Keycloak starts beside the first: at 10 tokens a second
 * with a load average of 20 to 40 from other runs, the serving Keycloak's database pool timed out (HTTP 500)
 * while the new JVM started, with and without the switch's edge work.
 */
const TOKENS_PER_SECOND = 5;
const USERINFO_PER_SECOND = 2;
type InstanceView = { id: string; name: string; url: string | null; nodeSize: string; version: string };
const FROM_VERSION = earlierPatchRelease;
const TO_VERSION = '26.5.6';

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'scale and restart without downtime',
  () => {
    let keyhouse: TestKeyhouse;
    let headers: Record<string, string>;
    let instanceId: string;
    let name: string;
    let target: EdgeTarget;
    let realm: string;
    const client = { clientId: 'zero-load', clientSecret: randomBytes(24).toString('base64url') };
    const user = { username: 'alice', password: `Al1ce-${randomBytes(9).toString('base64url')}` };
    let session: { accessToken: string; refreshToken: string; subject: string };
    let credentials: { username: string; password: string };
    let failNewVersion = false;

    const get = async <T>(url: string): Promise<T> =>
      (await keyhouse.request({ method: 'GET', url, headers })).json<T>();
    const instance = () => get<InstanceView>(`/api/v1/instances/${instanceId}`);
    const driver = () => keyhouse.localBackend!.driver;
    const pids = () => driver().processes({ name });

    async function finished(orderId: string, timeoutMs: number): Promise<OrderView> {
      let order: OrderView | undefined;
      await waitFor(
        async () => {
          order = await get<OrderView>(`/api/v1/orders/${orderId}`);
          if (order.status === 'done' || order.status === 'failed') return true;
          await new Promise((resolve) => setTimeout(resolve, 250));
          return false;
        },
        timeoutMs,
        `order ${orderId} finished`,
      );
      return order!;
    }

    async function changeOrder(payload: Record<string, unknown>): Promise<string> {
      const placed = await keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/orders`,
        headers,
        payload,
      });
      expect(placed.statusCode, placed.body).toBe(201);
      return placed.json<{ id: string }>().id;
    }

    const tokenEndpoint = () => `/realms/${realm}/protocol/openid-connect/token`;
    async function grant(form: Record<string, string>) {
      const answer = await edgeRequest(target, {
        path: tokenEndpoint(),
        method: 'POST',
        body: new URLSearchParams({
          ...form,
          ...{ client_id: client.clientId, client_secret: client.clientSecret },
        }).toString(),
      });
      expect(answer.status, answer.text).toBe(200);
      return JSON.parse(answer.text) as { access_token: string; refresh_token: string };
    }

    async function userinfo(accessToken: string) {
      const answer = await edgeRequest(target, {
        path: `/realms/${realm}/protocol/openid-connect/userinfo`,
        method: 'GET',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return {
        status: answer.status,
        body: answer.status === 200 ? (JSON.parse(answer.text) as { sub: string }) : null,
      };
    }

    /** Token and userinfo load during `work`; answers both results. */
    async function underLoad(
      work: () => Promise<void>,
    ): Promise<{ tokens: LoadResult; userinfo: LoadResult }> {
      const tokens = startTokenLoad({ target, realm, ...client, perSecond: TOKENS_PER_SECOND });
      const calls = startSessionLoad({
        target,
        realm,
        accessToken: session.accessToken,
        subject: session.subject,
        perSecond: USERINFO_PER_SECOND,
      });
      await waitFor(() => tokens.ok() >= 10 && calls.ok() >= 5, 60_000, 'load flowing');
      await work();
      // Traffic demonstrably goes on after the switch.
      const [t, c] = [tokens.ok() + 10, calls.ok() + 5];
      await waitFor(() => tokens.ok() >= t && calls.ok() >= c, 60_000, 'load flowing after the change');
      return { tokens: await tokens.stop(), userinfo: await calls.stop() };
    }

    /** Each failure with its cause and its place among the order's steps, in the log and the assertion. */
    function expectNoFailures(
      phase: string,
      result: { tokens: LoadResult; userinfo: LoadResult },
      order: OrderView,
    ) {
      for (const [kind, load] of Object.entries(result)) {
        const report = failureReport(load.failures, order.steps);
        console.info(
          `[zero-downtime] ${phase}, ${kind}: ${load.ok}/${load.sent} ok in ${load.seconds.toFixed(1)} s, ` +
            `${load.failures.length} failed${load.failures.length ? `:\n${report}` : ''}`,
        );
        expect(load.failures, `${phase}, ${kind}:\n${report}`).toEqual([]);
      }
    }

    /** The old Keycloak was stopped with nothing connected to it any more (no request in flight there was cut). */
    function expectDrained(order: OrderView) {
      const drain = order.steps.find((s) => s.name === 'keycloak-drain');
      console.info(`[zero-downtime] keycloak-drain: ${drain?.message}`);
      expect(drain?.messageParts?.[0]?.code, drain?.message).toMatch(/^step\.drain(Idle|Closed)$/);
    }

    /** The session signed in before every change is still valid: its refresh token works, userinfo answers. */
    async function expectSessionAlive() {
      expect((await userinfo(session.accessToken)).status).toBe(200);
      const refreshed = await grant({ grant_type: 'refresh_token', refresh_token: session.refreshToken });
      const after = await userinfo(refreshed.access_token);
      expect(after.body?.sub).toBe(session.subject);
      session = { ...session, accessToken: refreshed.access_token, refreshToken: refreshed.refresh_token };
    }

    beforeAll(async () => {
      keyhouse = await startTestKeyhouse(
        (config) => {
          provisioningOnLoopback(config);
          // The instance starts on the earlier patch release, so that the patch upgrade beside it can be tested.
          config.catalog.serviceTypes[0]!.versions = [FROM_VERSION, TO_VERSION];
          config.catalog.regions[0]!.capacity = { maxInstances: 4, concurrentOrders: 2 };
        },
        { localDriverTestFaults: { failReadiness: (version) => failNewVersion && version === TO_VERSION } },
      );
      const customer = await signUp(keyhouse);
      headers = bearerHeaders(await customer.createApiToken());
      const placed = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers,
        payload: exampleOrder(keyhouse.config),
      });
      expect(placed.statusCode, placed.body).toBe(201);
      instanceId = placed.json().instanceId;
      const created = await finished(placed.json().id, 10 * 60_000);
      expect(created.failureReason).toBeNull();
      const view = await instance();
      name = view.name;
      target = { url: view.url!, ca: keyhouse.ca.certificatePem };
      credentials = (
        await keyhouse.request({
          method: 'POST',
          url: `/api/v1/instances/${instanceId}/credentials/reveal`,
          headers,
        })
      ).json<{ username: string; password: string }>();
      const admin = await adminClientThroughEdge({ ...target, ...credentials });
      realm = (await admin.realms.find()).map((r) => r.realm!).find((r) => r !== 'master')!;
      // Tokens that outlive the test, so that a failed userinfo call can only mean a lost session.
      await admin.realms.update({ realm }, { accessTokenLifespan: 3600, ssoSessionIdleTimeout: 7200 });
      await admin.clients.create({
        realm,
        clientId: client.clientId,
        secret: client.clientSecret,
        publicClient: false,
        serviceAccountsEnabled: true,
        directAccessGrantsEnabled: true,
        standardFlowEnabled: false,
      });
      await admin.users.create({
        realm,
        username: user.username,
        email: 'alice@example.com',
        firstName: 'Alice',
        lastName: 'Example',
        emailVerified: true,
        enabled: true,
        credentials: [{ type: 'password', value: user.password, temporary: false }],
      });
      const signedIn = await grant({
        grant_type: 'password',
        username: user.username,
        password: user.password,
        scope: 'openid',
      });
      const info = await userinfo(signedIn.access_token);
      expect(info.status).toBe(200);
      session = {
        accessToken: signedIn.access_token,
        refreshToken: signedIn.refresh_token,
        subject: info.body!.sub,
      };
      // A Keycloak that has only just started answers its first grants slowly (cold JIT): warm it up untimed.
      const warmUp = startTokenLoad({ target, realm, ...client, perSecond: 10 });
      await waitFor(() => warmUp.ok() >= 50, 120_000, 'warm-up tokens');
      await warmUp.stop();
    }, 15 * 60_000);

    afterAll(async () => {
      if (name && keyhouse?.localBackend && existsSync(driver().instanceDir({ name })))
        await driver().destroy({ instanceId, name }, async () => undefined);
      await keyhouse?.stop();
    }, 120_000);

    it(
      'scales b2-4 → b4-8 with the new Keycloak beside the old one: 0 failed requests, the session stays',
      { timeout: 15 * 60_000 },
      async () => {
        const before = pids();
        expect(before).toHaveLength(1);
        let order: OrderView | undefined;
        const result = await underLoad(async () => {
          order = await finished(await changeOrder({ type: 'scale', nodeSize: 'b4-8' }), 12 * 60_000);
        });
        expect(order!.failureReason).toBeNull();
        expect(order!.status).toBe('done');
        const steps = order!.steps.map((s) => s.name);
        expect(steps).toEqual(
          expect.arrayContaining(['keycloak-standby', 'edge-switch', 'keycloak-drain', 'verify']),
        );
        expect(steps).not.toContain('restart-in-place');
        expect(order!.steps.find((s) => s.name === 'edge-switch')?.message).toMatch(
          /every request to port \d+/,
        );
        expectNoFailures('scale', result, order!);
        expectDrained(order!);
        const after = pids();
        expect(after).toHaveLength(1);
        expect(after).not.toEqual(before);
        expect((await instance()).nodeSize).toBe('b4-8');
        await expectSessionAlive();
      },
    );

    it('restarts beside itself: 0 failed requests, the session stays', { timeout: 15 * 60_000 }, async () => {
      const before = pids();
      let order: OrderView | undefined;
      const result = await underLoad(async () => {
        order = await finished(await changeOrder({ type: 'restart' }), 12 * 60_000);
      });
      expect(order!.failureReason).toBeNull();
      expect(order!.steps.map((s) => s.name)).toEqual(
        expect.arrayContaining(['keycloak-standby', 'edge-switch', 'keycloak-drain']),
      );
      expectNoFailures('restart', result, order!);
      expectDrained(order!);
      expect(pids()).toHaveLength(1);
      expect(pids()).not.toEqual(before);
      await expectSessionAlive();
    });

    it(
      'finishes a switch that a crash cut short after its state was written, with one Keycloak left',
      { timeout: 15 * 60_000 },
      async () => {
        // As a crash leaves it right after the standby's ports were recorded: nothing started yet, the route unmoved.
        const dir = driver().instanceDir({ name });
        const stateFile = `${dir}/state.json`;
        const state = readState(stateFile)!;
        const base = keyhouse.config.keycloak.portRange.from;
        const taken = new Set([state.ports.httpPort, state.ports.managementPort]);
        const free = [...Array(40).keys()].map((i) => base + i).filter((p) => !taken.has(p));
        state.standby = {
          slot: state.slot === 'b' ? 'a' : 'b',
          ports: { httpPort: free[0]!, managementPort: free[1]! },
          startedHash: null,
          routed: false,
        };
        writeState(stateFile, state);
        const before = pids();
        let order: OrderView | undefined;
        // A trusted-sources change runs apply, which finds the switch and finishes it before anything else.
        const result = await underLoad(async () => {
          order = await finished(
            await changeOrder({ type: 'trusted-sources', trustedSources: ['127.0.0.1', '10.1.2.0/24'] }),
            12 * 60_000,
          );
        });
        expect(order!.failureReason).toBeNull();
        const standby = order!.steps.find((s) => s.name === 'keycloak-standby');
        expect(standby?.message).toContain('resumed: slot');
        expect(standby?.messageParts?.[0]?.code).toBe('step.standbyResumed');
        expectNoFailures('resumed switch', result, order!);
        expectDrained(order!);
        expect(pids()).toHaveLength(1);
        expect(pids()).not.toEqual(before);
        const finalState = readState(stateFile)!;
        expect(finalState.standby).toBeUndefined();
        expect(finalState.ports.httpPort).toBe(free[0]);
        await expectSessionAlive();
      },
    );

    /** The version the edge's Keycloak says it runs (its admin API's server info). */
    async function servedVersion(): Promise<string | undefined> {
      const admin = await adminClientThroughEdge({ ...target, ...credentials });
      return (await admin.serverInfo.find()).systemInfo?.version;
    }

    it(
      'a patch release that does not become ready beside the running one: the old one serves on, 0 failed requests',
      { timeout: 15 * 60_000 },
      async () => {
        const before = pids();
        failNewVersion = true;
        let order: OrderView | undefined;
        try {
          const result = await underLoad(async () => {
            order = await finished(await changeOrder({ type: 'upgrade', version: TO_VERSION }), 12 * 60_000);
          });
          expectNoFailures('patch upgrade not ready', result, order!);
        } finally {
          failNewVersion = false;
        }
        expect(order!.status).toBe('failed');
        expect(order!.failureReason).toBe(
          `Keycloak ${TO_VERSION} did not become ready beside the running one; your instance runs Keycloak ` +
            `${FROM_VERSION} as before, without interruption.`,
        );
        const steps = order!.steps.map((s) => s.name);
        expect(steps).toEqual(
          expect.arrayContaining(['upgrade-compatibility', 'backup', 'keycloak-standby']),
        );
        expect(steps).not.toContain('edge-switch');
        expect(steps).not.toContain('rollback');
        expect(pids()).toEqual(before);
        expect((await instance()).version).toBe(FROM_VERSION);
        expect(await servedVersion()).toBe(FROM_VERSION);
        await expectSessionAlive();
      },
    );

    it(
      'upgrades a patch release beside the running Keycloak once Keycloak allows it: 0 failed requests, the session stays',
      { timeout: 15 * 60_000 },
      async () => {
        const before = pids();
        let order: OrderView | undefined;
        const result = await underLoad(async () => {
          order = await finished(await changeOrder({ type: 'upgrade', version: TO_VERSION }), 12 * 60_000);
        });
        expect(order!.failureReason).toBeNull();
        expect(order!.status).toBe('done');
        const compatibility = order!.steps.find((s) => s.name === 'upgrade-compatibility');
        // Keycloak's own `update-compatibility check` said yes (rolling-updates:v2 for a patch release).
        expect(compatibility?.messageParts?.[0]?.code, compatibility?.message).toBe('step.upgradeRolling');
        const steps = order!.steps.map((s) => s.name);
        expect(steps).toEqual(
          expect.arrayContaining([
            'backup',
            'keycloak-standby',
            'edge-switch',
            'keycloak-drain',
            'upgrade-cleanup',
          ]),
        );
        expect(steps).not.toContain('restart-in-place');
        expectNoFailures('patch upgrade', result, order!);
        const [first, last] = [order!.steps[0]!.startedAt, order!.steps.at(-1)!.finishedAt!];
        const check =
          compatibility!.finishedAt &&
          Date.parse(compatibility!.finishedAt) - Date.parse(compatibility!.startedAt);
        console.info(
          `[zero-downtime] patch upgrade ${FROM_VERSION} → ${TO_VERSION}: steps ${(Date.parse(last) - Date.parse(first)) / 1000} s, ` +
            `of which the rolling-update check ${Number(check) / 1000} s`,
        );
        expectDrained(order!);
        expect(pids()).toHaveLength(1);
        expect(pids()).not.toEqual(before);
        expect((await instance()).version).toBe(TO_VERSION);
        expect(await servedVersion()).toBe(TO_VERSION);
        await expectSessionAlive();
      },
    );

    it(
      'without room for a second Keycloak, restarts in place and says so on the order',
      { timeout: 15 * 60_000 },
      async () => {
        keyhouse.config.catalog.regions[0]!.capacity = { maxInstances: 1, concurrentOrders: 2 };
        try {
          const order = await finished(await changeOrder({ type: 'restart' }), 12 * 60_000);
          expect(order.failureReason).toBeNull();
          const inPlace = order.steps.find((s) => s.name === 'restart-in-place');
          expect(inPlace?.message).toMatch(/at 1 of 1 Keycloaks/);
          // Coded, so the portal says it in German too.
          expect(inPlace?.messageParts?.map((part) => part.code)).toEqual(['step.roomRegionFull']);
          expect(order.steps.map((s) => s.name)).not.toContain('keycloak-standby');
          expect(pids()).toHaveLength(1);
        } finally {
          keyhouse.config.catalog.regions[0]!.capacity = { maxInstances: 4, concurrentOrders: 2 };
        }
      },
    );
  },
);
