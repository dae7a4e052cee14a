import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import { freePort } from '../support/edge-probes.js';
import { adminClientThroughEdge } from '../support/keycloak-through-edge.js';
import {
  keyhouseProcess,
  removeProcessRun,
  signUpOverHttp,
  type KeyhouseProcess,
  prepareProcessDataDir,
} from '../support/keyhouse-process.js';
import { isHaproxy, isJvm, kcHomeOf, processesUnder, type ProcessInfo } from '../support/process-tree.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * Crash recovery, the hard way: Keyhouse runs as a real process (`node --import tsx src/main.ts` on a scratch
 * database, test/support/keyhouse-process.ts) and is killed with SIGKILL at each provisioning step in turn, then started again with the same
 * environment. The order must still end DONE with exactly one Keycloak process, one database and role, one edge
 * route and no leftovers (no twin JVM, no staging directory, no abandoned job). Then the Keycloak JVM itself is
 * killed and the supervisor must bring it back.
 *
 * The kills are triggered from the order's own progress: the test LISTENs on the channel every step change is
 * announced on and kills within milliseconds of the step being reported `running` by the current incarnation.
 * Runs in the embedded-database project only (a first Keycloak start costs one to two minutes here).
 */

type Step = { name: string; status: 'running' | 'done' | 'failed'; finishedAt: string | null };
type OrderRow = { status: string; steps: Step[]; failure_reason: string | null; updated_ms: number };
/** Kill points, in the order an attempt reaches them: the status change, then every step of the local driver. */
const STEPS = [
  'database',
  'keycloak-home',
  'edge-route',
  'keycloak-start',
  'keycloak-ready',
  'admin-account',
  'first-realm',
  'verify',
] as const;
const KILL_POINTS = ['processing', ...STEPS] as const;

const sleepless = (ms: number, wake: (resolve: () => void) => void) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake(() => {
      clearTimeout(timer);
      resolve();
    });
  });

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'crash recovery: Keyhouse killed at every provisioning step',
  () => {
    let dir: string;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let listener: pg.Client;
    let keyhouse: KeyhouseProcess;
    let token: string;
    let customerNumber: string;
    let orderId: string;
    let instanceId: string;
    let notifications = 0;
    let wake: (() => void) | undefined;

    const api = (pathname: string) => `${keyhouse.apiUrl}${pathname}`;

    /** Polls `probe` after every order notification, and at least every 250 ms, until it answers something. */
    async function until<T>(
      probe: () => Promise<T | undefined>,
      timeoutMs: number,
      what: string,
    ): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = notifications;
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline)
          throw new Error(`Not within ${timeoutMs} ms: ${what}\n${keyhouse.logTail()}`);
        if (notifications === seen) await sleepless(250, (resolve) => (wake = resolve));
      }
    }

    async function readOrder(): Promise<OrderRow> {
      const { rows } = await listener.query<OrderRow>(
        `SELECT status, steps, failure_reason, (extract(epoch FROM updated_at) * 1000)::float8 AS updated_ms
           FROM orders WHERE id = $1`,
        [orderId],
      );
      return rows[0]!;
    }

    async function json<T>(response: Promise<Response>, status: number): Promise<T> {
      const answer = await response;
      const text = await answer.text();
      if (answer.status !== status) throw new Error(`${answer.url} answered ${answer.status}: ${text}`);
      return JSON.parse(text) as T;
    }

    const bearer = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

    beforeAll(async () => {
      let configFile: string;
      ({ dir, configFile } = prepareProcessDataDir('keyhouse-crash-'));
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
      listener = new pg.Client({ connectionString: database.url });
      await listener.connect();
      listener.on('notification', () => {
        notifications++;
        wake?.();
      });
      await keyhouse.start();
      await listener.query('LISTEN order_events');
      ({ token, customerNumber } = await signUpOverHttp(keyhouse, 'Absturz GmbH'));
    }, 180_000);

    afterAll(async () => {
      let instanceNames: string[] = [];
      if (listener) {
        const { rows } = await listener
          .query<{ name: string }>('SELECT name FROM instances')
          .catch(() => ({ rows: [] as { name: string }[] }));
        instanceNames = rows.map((row) => row.name);
        await listener.end();
      }
      await removeProcessRun({ keyhouse, dir, database, instanceNames });
    }, 120_000);

    it(
      'ends DONE after a SIGKILL at every step, with one Keycloak, one database, one route and no leftovers',
      { timeout: 10 * 60_000 },
      async () => {
        const started = Date.now();
        const placed = await json<{ id: string; instanceId: string; status: string }>(
          fetch(api('/api/v1/orders'), {
            method: 'POST',
            headers: { ...bearer(), 'idempotency-key': randomUUID() },
            body: JSON.stringify({
              serviceType: 'keycloak',
              version: '26.5.6',
              nodeSize: 'b2-4',
              storageGb: 50,
              trustedSources: ['127.0.0.1'],
              region: 'local',
              billingProfile: {
                company: 'Absturz GmbH',
                street: 'Hafenstraße 1',
                postalCode: '20457',
                city: 'Hamburg',
                country: 'DE',
                invoiceEmail: 'rechnung@absturz.de',
              },
              acceptTerms: { version: '2026-11' },
            }),
          }),
          201,
        );
        orderId = placed.id;
        instanceId = placed.instanceId;

        // One kill per kill point, each in a fresh incarnation: a step counts as reached when this incarnation
        // reported it (its predecessor finished after the restart, or for the first step: the order changed after
        // the restart), so a `running` left behind by the previous, killed incarnation never triggers a kill.
        const kills: { at: string; running: string; seconds: number }[] = [];
        let incarnation = 0; // ms since epoch when the current Keyhouse was started
        const fresh = (step: Step | undefined) =>
          step?.status === 'done' && step.finishedAt !== null && Date.parse(step.finishedAt) >= incarnation;
        for (const point of KILL_POINTS) {
          const order = await until(
            async () => {
              const current = await readOrder();
              if (current.status === 'done' || current.status === 'failed') return current;
              if (point === 'processing') return current.status === 'processing' ? current : undefined;
              const index = STEPS.indexOf(point);
              const step = current.steps.find((s) => s.name === point);
              const previous = index > 0 ? current.steps.find((s) => s.name === STEPS[index - 1]) : undefined;
              const reportedNow = index === 0 ? current.updated_ms >= incarnation : fresh(previous);
              if (fresh(step) || (step?.status === 'running' && reportedNow)) return current;
              return undefined;
            },
            6 * 60_000,
            `the order to reach ${point}`,
          );
          if (order.status === 'done' || order.status === 'failed') break;
          await keyhouse.stop('SIGKILL');
          const after = await readOrder();
          const running = after.steps.filter((s) => s.status === 'running').map((s) => s.name);
          kills.push({
            at: point,
            running: running.join(', ') || after.status,
            seconds: Math.round((Date.now() - started) / 1000),
          });
          incarnation = Date.now();
          await keyhouse.start();
        }
        console.info(
          `crash test: ${kills.length} SIGKILLs\n` +
            kills.map((k) => `  at ${k.at} (running then: ${k.running}) after ${k.seconds} s`).join('\n'),
        );
        expect(kills.map((k) => k.at)).toEqual([...KILL_POINTS]);

        // Now let it finish, through the API as a customer sees it.
        let order = await json<{ status: string; failureReason: string | null; steps: Step[] }>(
          fetch(api(`/api/v1/orders/${orderId}`), { headers: bearer() }),
          200,
        );
        order = await until(
          async () => {
            const current = await json<typeof order>(
              fetch(api(`/api/v1/orders/${orderId}`), { headers: bearer() }),
              200,
            );
            return current.status === 'done' || current.status === 'failed' ? current : undefined;
          },
          6 * 60_000,
          'the order to finish after the last restart',
        );
        console.info(
          `crash test: order ${order.status} after ${Math.round((Date.now() - started) / 1000)} s`,
        );
        expect(order.failureReason).toBeNull();
        expect(order.status).toBe('done');
        expect(order.steps.map((s) => s.name)).toEqual([...STEPS]);
        for (const step of order.steps) expect(step).toMatchObject({ status: 'done' });

        // One instance, one order, one edge route: the kills left no second row anywhere.
        const counts = await listener.query<{ instances: number; orders: number; routes: number }>(
          `SELECT (SELECT count(*)::int FROM instances) AS instances, (SELECT count(*)::int FROM orders) AS orders,
                  (SELECT count(*)::int FROM edge_routes WHERE instance_id = $1) AS routes`,
          [instanceId],
        );
        expect(counts.rows[0]).toEqual({ instances: 1, orders: 1, routes: 1 });
        const { rows: instanceRows } = await listener.query<{ name: string }>(
          'SELECT name FROM instances WHERE id = $1',
          [instanceId],
        );
        const name = instanceRows[0]!.name;
        const instanceHome = path.join(dir, 'instances', name, 'keycloak');

        // Exactly one Keycloak JVM for the instance, exactly one Prometheus, one HAProxy (a master and its workers
        // share a process group), and no other process of this data dir but the JVM's kc.sh wrapper.
        const processes = processesUnder(dir);
        const jvms = processes.filter(isJvm);
        expect(jvms.map(kcHomeOf)).toEqual([`${instanceHome}/bin/..`]);
        const isPrometheus = (p: ProcessInfo) =>
          p.argv.includes(`--config.file=${path.join(dir, 'prometheus', 'prometheus.yml')}`);
        expect(processes.filter(isPrometheus)).toHaveLength(1);
        const haproxies = processes.filter(isHaproxy);
        expect(new Set(haproxies.map((p) => p.pgid)).size).toBe(1);
        for (const other of processes.filter((p) => !isJvm(p) && !isHaproxy(p) && !isPrometheus(p))) {
          expect(other.argv.join(' ')).toContain(`${instanceHome}/bin/kc.sh`);
          expect(other.pgid).toBe(jvms[0]!.pgid);
        }

        // On disk: this instance only, no staging copy or half-written state.
        expect(readdirSync(path.join(dir, 'instances'))).toEqual([name]);
        expect(readdirSync(path.join(dir, 'instances', name)).sort()).toEqual(
          ['keycloak', 'keycloak.pid', 'logs', 'state.json'].sort(),
        );

        // Its database and role exist once on the server, and hold one Keycloak: the master realm with the
        // customer's admin only (the temporary admin is gone) and the first realm, created once.
        const databaseName = instanceDatabaseName(name);
        const admin = new pg.Client({ connectionString: `${inject('serverUrl')}/postgres` });
        await admin.connect();
        try {
          const server = await admin.query<{ databases: number; roles: number }>(
            `SELECT (SELECT count(*)::int FROM pg_database WHERE datname = $1) AS databases,
                    (SELECT count(*)::int FROM pg_roles WHERE rolname = $1) AS roles`,
            [databaseName],
          );
          expect(server.rows[0]).toEqual({ databases: 1, roles: 1 });
        } finally {
          await admin.end();
        }
        const keycloakDb = new pg.Client({ connectionString: `${inject('serverUrl')}/${databaseName}` });
        await keycloakDb.connect();
        try {
          const realms = await keycloakDb.query<{ name: string }>('SELECT name FROM realm ORDER BY name');
          expect(realms.rows.map((r) => r.name).sort()).toEqual(['master', customerNumber].sort());
          const users = await keycloakDb.query<{ username: string }>(
            `SELECT username FROM user_entity WHERE realm_id = (SELECT id FROM realm WHERE name = 'master')`,
          );
          expect(users.rows.map((u) => u.username)).toEqual(['admin']);
        } finally {
          await keycloakDb.end();
        }

        // No job is left behind in the queue: the killed incarnations' jobs do not linger as `active` until their
        // expiry, and no duplicate waits to retry.
        let leftover: string[] = [];
        await until(
          async () => {
            const { rows } = await listener.query<{ state: string }>(
              `SELECT state FROM pgboss.job WHERE singleton_key = $1 AND state IN ('created', 'retry', 'active')`,
              [orderId],
            );
            leftover = rows.map((row) => row.state);
            return rows.length === 0 ? true : undefined;
          },
          60_000,
          'no unfinished job of the order in the queue',
        ).catch((error: Error) => {
          throw new Error(`${error.message}\njobs left: ${leftover.join(', ')}`);
        });

        // And the customer's admin logs in through the edge.
        const instance = await json<{ url: string }>(
          fetch(api(`/api/v1/instances/${instanceId}`), { headers: bearer() }),
          200,
        );
        const credentials = await json<{ username: string; password: string }>(
          fetch(api(`/api/v1/instances/${instanceId}/credentials/reveal`), {
            method: 'POST',
            headers: { authorization: `Bearer ${token}` },
          }),
          200,
        );
        const ca = await (await fetch(api('/api/v1/ca.pem'))).text();
        const client = await adminClientThroughEdge({ url: instance.url, ca, ...credentials });
        expect((await client.realms.find()).map((r) => r.realm)).toContain(customerNumber);
      },
    );

    it(
      'brings a killed Keycloak back (the supervisor), as one process again',
      { timeout: 5 * 60_000 },
      async () => {
        const { rows } = await listener.query<{ name: string }>('SELECT name FROM instances WHERE id = $1', [
          instanceId,
        ]);
        const name = rows[0]!.name;
        const state = JSON.parse(readFileSync(path.join(dir, 'instances', name, 'state.json'), 'utf8')) as {
          ports: { managementPort: number };
        };
        const [before] = processesUnder(dir).filter(isJvm);
        expect(before).toBeDefined();
        process.kill(before!.pid, 'SIGKILL');
        const killedAt = Date.now();

        const ready = async () => {
          const answer = await fetch(`http://127.0.0.1:${state.ports.managementPort}/health/ready`, {
            signal: AbortSignal.timeout(2000),
          }).catch(() => undefined);
          await answer?.body?.cancel();
          return answer?.status === 200;
        };
        const after = await until(
          async () => {
            const jvms = processesUnder(dir).filter(isJvm);
            const fresh = jvms.filter((p) => p.pid !== before!.pid);
            return fresh.length > 0 && (await ready()) ? jvms : undefined;
          },
          4 * 60_000,
          'the supervisor to start Keycloak again and Keycloak to answer /health/ready',
        );
        console.info(
          `crash test: Keycloak back and ready ${Math.round((Date.now() - killedAt) / 1000)} s after kill -9`,
        );
        expect(after).toHaveLength(1);
        expect(kcHomeOf(after[0]!)).toBe(`${path.join(dir, 'instances', name, 'keycloak')}/bin/..`);

        // The instance page agrees once the observer has looked again.
        await until(
          async () => {
            const instance = await json<{ conditions: { type: string; status: string }[] }>(
              fetch(api(`/api/v1/instances/${instanceId}`), { headers: bearer() }),
              200,
            );
            return instance.conditions.some((c) => c.type === 'Ready' && c.status === 'True')
              ? true
              : undefined;
          },
          60_000,
          'the Ready condition to be True again',
        );
      },
    );
  },
);
