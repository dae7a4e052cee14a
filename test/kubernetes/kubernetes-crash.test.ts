import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { INSTANCE_ID_LABEL, MANAGED_BY_LABEL } from '../../src/drivers/kubernetes/instance-objects.js';
import { createLogger } from '../../src/platform/logger.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { freePort, waitFor } from '../support/edge-probes.js';
import { startTestKubernetes, type TestKubernetes } from '../support/kube-apiserver.js';
import { exampleBillingProfile } from '../support/orders.js';
import { startStandInOperators, type StandInOperators } from '../support/stand-in-operators.js';
import { createTestDatabase } from '../support/test-database.js';
import { testKeycloakCache } from '../support/test-keyhouse.js';

/**
 * A worker killed with SIGKILL in the middle of an apply (while it server-side applies the instance's objects),
 * then started again: the order ends DONE with exactly one set of objects. Keyhouse runs as a real process
 * (`node --import tsx src/main.ts`) with the regions of config/examples/kubernetes.yaml pointed at a real
 * kube-apiserver; the operators are the STAND-IN of test/support/stand-in-operators.ts (the real ones need a
 * registry this machine does not reach).
 */

const example = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });

describe('a worker killed during a Kubernetes apply', () => {
  let dir: string;
  let kube: TestKubernetes;
  let standIn: StandInOperators;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: NodeJS.ProcessEnv;
  let api: string;
  let logFile: string;
  let keyhouse: { child: ChildProcess; exited: Promise<void> } | undefined;

  async function startKeyhouse() {
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: packageRoot,
      env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    keyhouse = { child, exited };
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`Keyhouse exited:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
        const ready = await fetch(`${api}/readyz`).catch(() => undefined);
        await ready?.body?.cancel();
        return ready?.status === 200;
      },
      90_000,
      'Keyhouse to answer /readyz',
    );
  }

  /** namespace/name of every object of a kind with the label. */
  const labelled = async (apiVersion: string, kind: string, selector: string) =>
    (
      await kube.objects.list(
        apiVersion,
        kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        selector,
      )
    ).items.map((item) => `${item.metadata!.namespace ?? ''}/${item.metadata!.name}`);

  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'keyhouse-kube-crash-')));
    logFile = path.join(dir, 'keyhouse.log');
    kube = await startTestKubernetes();
    standIn = await startStandInOperators({
      kubeConfig: kube.config,
      serverUrl: inject('serverUrl'),
      keycloakCacheDir: testKeycloakCache,
      logger: createLogger({ level: 'silent' }),
    });
    const configFile = path.join(dir, 'keyhouse.json.yaml');
    // YAML is a superset of JSON: the example's regions, their clusters pointed at the test API server.
    writeFileSync(
      configFile,
      JSON.stringify({
        roles: ['api', 'worker'],
        catalog: { regions: example.catalog.regions },
        kubernetes: Object.fromEntries(
          Object.entries(example.kubernetes).map(([id, settings]) => [
            id,
            { ...settings, cluster: { kubeconfig: kube.kubeconfigPath, context: null } },
          ]),
        ),
      }),
    );
    database = await createTestDatabase();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      DATA_DIR: dir,
      DATABASE_URL: database.url,
      PORT: String(port),
      KEYHOUSE_CONFIG: configFile,
    };
    await startKeyhouse();
  }, 5 * 60_000);

  afterAll(async () => {
    if (keyhouse) {
      process.kill(-keyhouse.child.pid!, 'SIGKILL');
      await keyhouse.exited;
    }
    await standIn?.stop();
    await kube?.stop();
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 3 * 60_000);

  it('ends DONE with one set of objects', { timeout: 12 * 60_000 }, async () => {
    const json = async (response: Promise<Response>) => {
      const answer = await response;
      const text = await answer.text();
      if (answer.status >= 300) throw new Error(`${answer.url}: ${answer.status} ${text}`);
      return JSON.parse(text);
    };
    const signup = await fetch(`${api}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `crash-${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        organizationName: 'Absturz GmbH',
      }),
    });
    const session = signup.headers.getSetCookie()[0]!.split(';')[0]!;
    const { csrfToken } = await json(Promise.resolve(signup));
    const { token } = await json(
      fetch(`${api}/api/v1/tokens`, {
        method: 'POST',
        headers: { cookie: session, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'crash' }),
      }),
    );
    const bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const listener = new pg.Client({ connectionString: database.url });
    await listener.connect();
    const stepRunning = async (orderId: string, step: string) =>
      (
        await listener.query<{ steps: { name: string; status: string }[] }>(
          'SELECT steps FROM orders WHERE id = $1',
          [orderId],
        )
      ).rows[0]!.steps.some((s) => s.name === step && s.status === 'running');
    try {
      const order = await json(
        fetch(`${api}/api/v1/orders`, {
          method: 'POST',
          headers: { ...bearer, 'idempotency-key': randomUUID() },
          body: JSON.stringify({
            serviceType: 'keycloak',
            version: example.catalog.serviceTypes[0]!.versions[0],
            nodeSize: 'b2-4',
            storageGb: 50,
            trustedSources: ['85.214.132.0/24'],
            region: 'de-north',
            zone: 'de-north-1',
            billingProfile: exampleBillingProfile,
            acceptTerms: { version: example.catalog.terms.version },
          }),
        }),
      );
      // The kill: once the worker applies the objects and the API server has the first of them (the namespace),
      // before it has them all (the Keycloak CR). Polled with a deadline, no sleep.
      const ofInstance = `${INSTANCE_ID_LABEL}=${order.instanceId}`;
      const kinds = [
        ['v1', 'Namespace'],
        ['v1', 'Secret'],
        ['postgresql.cnpg.io/v1', 'Cluster'],
        ['k8s.keycloak.org/v2beta1', 'Keycloak'],
        ['v1', 'Service'],
        ['networking.k8s.io/v1', 'NetworkPolicy'],
      ] as const;
      await waitFor(() => stepRunning(order.id, 'kubernetes-objects'), 120_000, 'the apply to begin');
      await waitFor(
        async () => (await labelled('v1', 'Namespace', ofInstance)).length > 0,
        60_000,
        'the first object',
      );
      process.kill(-keyhouse!.child.pid!, 'SIGKILL');
      await keyhouse!.exited;
      keyhouse = undefined;
      const atKill = (await Promise.all(kinds.map(([v, kind]) => labelled(v, kind, ofInstance)))).flat();
      console.log(
        `SIGKILL during kubernetes-objects with ${atKill.length} of 9 objects stored: ${atKill.join(', ')}`,
      );

      await startKeyhouse();
      let finished: { status: string; failureReason: string | null };
      await waitFor(
        async () => {
          finished = await json(fetch(`${api}/api/v1/orders/${order.id}`, { headers: bearer }));
          return finished.status === 'done' || finished.status === 'failed';
        },
        10 * 60_000,
        'the order to finish after the restart',
      );
      expect(finished!.failureReason).toBeNull();
      expect(finished!.status).toBe('done');

      // One set: every kind once, all in the instance's one namespace, and one Keycloak running for it.
      const count = (apiVersion: string, kind: string) =>
        labelled(apiVersion, kind, `${MANAGED_BY_LABEL}=keyhouse`);
      const instance = await json(fetch(`${api}/api/v1/instances/${order.instanceId}`, { headers: bearer }));
      const namespace = `kh-${instance.name}`;
      expect(await count('v1', 'Namespace')).toEqual([`/${namespace}`]);
      expect(await count('k8s.keycloak.org/v2beta1', 'Keycloak')).toEqual([`${namespace}/keycloak`]);
      expect(await count('postgresql.cnpg.io/v1', 'Cluster')).toEqual([`${namespace}/database`]);
      expect(await count('v1', 'Service')).toEqual([`${namespace}/keycloak-public`]);
      expect((await count('v1', 'Secret')).sort()).toEqual(
        ['database-app', 'keycloak-bootstrap-admin', 'keycloak-tls'].map((name) => `${namespace}/${name}`),
      );
      // One Keycloak serves it (a start the stand-in gave up on under load may precede it, as a failed pod would).
      expect(standIn.keycloakProcesses(namespace)).toHaveLength(1);
    } finally {
      await listener.end();
    }
  });
});
