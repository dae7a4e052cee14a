import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { INSTANCE_ID_LABEL, RESTART_ANNOTATION } from '../../src/drivers/kubernetes/instance-objects.js';
import { connectAdmin } from '../../src/drivers/keycloak/admin-api.js';
import { createKubernetesClient } from '../../src/drivers/kubernetes/kubernetes-client.js';
import { createKubernetesDriver } from '../../src/drivers/kubernetes/kubernetes-driver.js';
import { openLocalCa } from '../../src/edge/local-ca.js';
import { createInstanceOidcClients } from '../../src/osb/instance-oidc-clients.js';
import { createLogger } from '../../src/platform/logger.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { waitFor } from '../support/edge-probes.js';
import { startTestKubernetes, type TestKubernetes } from '../support/kube-apiserver.js';
import { exampleOrder } from '../support/orders.js';
import type { Order } from '../../src/orders/order-schemas.js';
import { startStandInOperators, type StandInOperators } from '../support/stand-in-operators.js';
import { startTestKeyhouse, testKeycloakCache, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The Kubernetes driver end to end, on the seam's order life cycle: orders in the regions of
 * config/examples/kubernetes.yaml against a real kube-apiserver. The operators are a STAND-IN
 * (test/support/stand-in-operators.ts; their images need a registry this machine does not reach): it starts a real
 * Keycloak from the Keycloak CR, a real database for the CNPG Cluster, and writes status as the operators document
 * it. One instance for the whole file (one real Keycloak start, plus the restarts its day-2 orders cause); every
 * day-2 order asserts which objects it changed, by their resourceVersions.
 */

const example = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });

type Stored = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

describe('orders in a Kubernetes region (stand-in operators)', () => {
  let kube: TestKubernetes;
  let standIn: StandInOperators;
  let keyhouse: TestKeyhouse;
  let headers: Record<string, string>;
  let instanceId: string;
  let name: string;
  let namespace: string;
  let customerNumber: string;

  beforeAll(async () => {
    kube = await startTestKubernetes();
    standIn = await startStandInOperators({
      kubeConfig: kube.config,
      serverUrl: inject('serverUrl'),
      keycloakCacheDir: testKeycloakCache,
      logger: createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' }),
    });
    keyhouse = await startTestKeyhouse(
      (config) => {
        config.roles = ['api', 'worker'];
        config.catalog.regions = example.catalog.regions.map((region) =>
          region.id === 'de-north'
            ? { ...region, capacity: { maxInstances: 1, concurrentOrders: 2 } }
            : region,
        );
        config.kubernetes = Object.fromEntries(
          Object.entries(example.kubernetes).map(([id, settings]) => [
            id,
            {
              ...settings,
              cluster: { kubeconfig: kube.kubeconfigPath, context: null },
              // DE-WEST's operator made a mistake the API server refuses: an annotation key with spaces.
              ...(id === 'de-west'
                ? { exposure: { ...settings.exposure, serviceAnnotations: { 'not a valid key': 'x' } } }
                : {}),
            },
          ]),
        );
      },
      { kubernetesDriverOptions: { pollSeconds: 1, upgradeReadyTimeoutMs: 5 * 60_000 } },
    );
    const customer = await signUp(keyhouse);
    customerNumber = customer.organization.customerNumber;
    headers = bearerHeaders(await customer.createApiToken());
  }, 5 * 60_000);

  afterAll(async () => {
    await keyhouse?.stop();
    await standIn?.stop();
    await kube?.stop();
  }, 3 * 60_000);

  const get = async (url: string) => (await keyhouse.request({ method: 'GET', url, headers })).json();
  async function untilFinished(orderId: string, timeoutMs: number) {
    let order: Pick<Order, 'status' | 'failureReason' | 'failureReasonParts' | 'steps'>;
    await waitFor(
      async () => {
        order = await get(`/api/v1/orders/${orderId}`);
        return order.status === 'done' || order.status === 'failed';
      },
      timeoutMs,
      `order ${orderId} to finish`,
    );
    return order!;
  }
  /** The Keyhouse backup an order took, and its CNPG Backup's name (`kh-<backup id>`). */
  async function backupOfOrder(orderId: string) {
    const { items } = (await get(`/api/v1/instances/${instanceId}/backups`)) as {
      items: { id: string; orderId: string | null; status: string; location?: string }[];
    };
    const backup = items.find((item) => item.orderId === orderId);
    expect(backup, `a backup of order ${orderId}`).toBeDefined();
    return { ...backup!, objectName: `kh-${backup!.id}` };
  }
  async function change(body: Record<string, unknown>, timeoutMs = 6 * 60_000) {
    const placed = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${instanceId}/orders`,
      headers,
      payload: body,
    });
    expect(placed.statusCode, placed.body).toBe(201);
    const order = await untilFinished(placed.json().id, timeoutMs);
    expect(order.failureReason, JSON.stringify(order.steps)).toBeNull();
    expect(order.status).toBe('done');
    return placed.json().id as string;
  }

  /** Every object labelled with the instance, by kind/name, with its resourceVersion. */
  async function objectVersions(id = instanceId): Promise<Map<string, string>> {
    const versions = new Map<string, string>();
    const kinds: [string, string][] = [
      ['v1', 'Namespace'],
      ['v1', 'Secret'],
      ['v1', 'Service'],
      ['networking.k8s.io/v1', 'NetworkPolicy'],
      ['postgresql.cnpg.io/v1', 'Cluster'],
      ['postgresql.cnpg.io/v1', 'Backup'],
      ['k8s.keycloak.org/v2beta1', 'Keycloak'],
    ];
    for (const [apiVersion, kind] of kinds) {
      const list = await kube.objects.list(
        apiVersion,
        kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        `${INSTANCE_ID_LABEL}=${id}`,
      );
      for (const item of list.items)
        versions.set(`${kind}/${item.metadata!.name}`, item.metadata!.resourceVersion!);
    }
    return versions;
  }
  /** The spec of each object whose resourceVersion moved, as keys. */
  const changed = (before: Map<string, string>, after: Map<string, string>) =>
    [...after]
      .filter(([key, version]) => before.get(key) !== version)
      .map(([key]) => key)
      .sort();
  const read = (apiVersion: string, kind: string, objectName: string) =>
    kube.objects.read({ apiVersion, kind, metadata: { name: objectName, namespace } }) as Promise<Stored>;

  it(
    'provisions an order in DE-NORTH to DONE, and the customer’s admin logs in with the revealed credentials',
    { timeout: 12 * 60_000 },
    async () => {
      const catalog = await get('/api/v1/catalog');
      expect(catalog.regions.map((r: { id: string }) => r.id)).toEqual(['de-north', 'de-west']);
      const placed = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers,
        payload: exampleOrder(keyhouse.config, {
          region: 'de-north',
          zone: 'de-north-2',
          trustedSources: ['85.214.132.0/24'],
        }),
      });
      expect(placed.statusCode, placed.body).toBe(201);
      instanceId = placed.json().instanceId;
      const order = await untilFinished(placed.json().id, 11 * 60_000);
      expect(order.failureReason, JSON.stringify(order.steps)).toBeNull();
      expect(order.steps.filter((s) => s.status === 'done').map((s) => s.name)).toEqual([
        'kubernetes-objects',
        'database',
        'keycloak-ready',
        'exposure',
        'admin-account',
        'first-realm',
        'verify',
      ]);
      const instance = await get(`/api/v1/instances/${instanceId}`);
      name = instance.name;
      namespace = `kh-${name}`;
      expect(instance).toMatchObject({ status: 'running', url: `https://${name}.de-north.keycloak.example` });
      expect([...(await objectVersions()).keys()].sort()).toEqual([
        'Cluster/database',
        'Keycloak/keycloak',
        `Namespace/${namespace}`,
        'NetworkPolicy/database-ingress',
        'NetworkPolicy/keycloak-ingress',
        'Secret/database-app',
        'Secret/keycloak-bootstrap-admin',
        'Secret/keycloak-tls',
        'Service/keycloak-public',
      ]);
      expect(standIn.keycloakProcesses(namespace)).toHaveLength(1);
      expect(await standIn.databases()).toContain(`kh_${name.replace(/-/g, '_')}_database`);

      // As the customer: to the load balancer's address, TLS with the instance's name, Keyhouse's CA.
      const service = await read('v1', 'Service', 'keycloak-public');
      const address = (service.status as { loadBalancer: { ingress: { ip: string }[] } }).loadBalancer
        .ingress[0]!.ip;
      const credentials = (
        await keyhouse.request({
          method: 'POST',
          url: `/api/v1/instances/${instanceId}/credentials/reveal`,
          headers,
        })
      ).json();
      const admin = await connectAdmin(
        { url: instance.url, connectTo: address, ca: keyhouse.ca.certificatePem },
        { username: credentials.username, password: credentials.password },
      );
      expect((await admin.realms.find()).map((realm) => realm.realm).sort()).toEqual(
        ['master', customerNumber].sort(),
      );
      // The temporary admin is gone; only the customer's admin remains in master.
      expect((await admin.users.find({ realm: 'master' })).map((user) => user.username)).toEqual([
        credentials.username,
      ]);
    },
  );

  it('shows the operators’ conditions on the instance page', async () => {
    type Condition = { type: string; status: string };
    let conditions: Condition[] = [];
    // The worker's observer refreshes them every 15 s.
    await waitFor(
      async () => {
        conditions = (await get(`/api/v1/instances/${instanceId}`)).conditions;
        return conditions.some((condition) => condition.type === 'DatabaseReady');
      },
      40_000,
      'the observer to record the conditions',
    );
    expect(conditions.map(({ type, status }) => [type, status])).toEqual([
      ['Ready', 'True'],
      ['HasErrors', 'False'],
      ['RollingUpdate', 'False'],
      ['DatabaseReady', 'True'],
    ]);
  });

  it('lets the broker manage OIDC clients through the admin API address the worker recorded', async () => {
    const { rows } = await keyhouse.db.pool.query<{ admin_api: { url: string; connectTo: string } }>(
      'SELECT admin_api FROM instances WHERE id = $1',
      [instanceId],
    );
    const service = await read('v1', 'Service', 'keycloak-public');
    expect(rows[0]!.admin_api).toEqual({
      url: `https://${name}.de-north.keycloak.example`,
      connectTo: (service.spec as { clusterIP: string }).clusterIP,
    });
    const oidcClients = createInstanceOidcClients({
      db: keyhouse.db,
      secretBox: createSecretBox({ secretKey: keyhouse.config.secretKey, dataDir: keyhouse.config.dataDir }),
      caPem: keyhouse.ca.certificatePem,
    });
    const target = await oidcClients.ensureClient(instanceId, 'binding-1', 'a-client-secret-for-tests');
    expect(target).toMatchObject({ realm: customerNumber });
    const credentials = (
      await keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/credentials/reveal`,
        headers,
      })
    ).json();
    const admin = await connectAdmin(
      {
        url: rows[0]!.admin_api.url,
        connectTo: rows[0]!.admin_api.connectTo,
        ca: keyhouse.ca.certificatePem,
      },
      credentials,
    );
    expect((await admin.clients.find({ realm: customerNumber, clientId: 'binding-1' })).length).toBe(1);
    await oidcClients.deleteClient(instanceId, 'binding-1');
    expect(await admin.clients.find({ realm: customerNumber, clientId: 'binding-1' })).toEqual([]);
  });

  it('keeps a second order in the full region waiting in new, saying why', async () => {
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config, { region: 'de-north', trustedSources: ['85.214.133.0/24'] }),
    });
    expect(placed.statusCode, placed.body).toBe(201);
    let order: { status: string; steps: { name: string; status: string; message?: string }[] };
    await waitFor(
      async () => {
        order = await get(`/api/v1/orders/${placed.json().id}`);
        return order.steps.some((s) => s.name === 'waiting-for-capacity');
      },
      60_000,
      'the order to wait for capacity',
    );
    expect(order!.status).toBe('new');
    expect(order!.steps.find((s) => s.name === 'waiting-for-capacity')!.message).toMatch(
      /DE-NORTH.*is full \(1 of 1/,
    );
    expect(await objectVersions(placed.json().instanceId)).toEqual(new Map());
  });

  it(
    'changes trusted sources live: the Service and the Keycloak NetworkPolicy, no restart',
    { timeout: 7 * 60_000 },
    async () => {
      const before = await objectVersions();
      const starts = standIn.keycloakStarts(namespace);
      await change({ type: 'trusted-sources', trustedSources: ['85.214.132.0/24', '2a01:238::/48'] });
      expect(changed(before, await objectVersions())).toEqual([
        'NetworkPolicy/keycloak-ingress',
        'Service/keycloak-public',
      ]);
      expect((await read('v1', 'Service', 'keycloak-public')).spec!.loadBalancerSourceRanges).toEqual([
        '85.214.132.0/24',
        '2a01:238::/48',
      ]);
      expect(standIn.keycloakStarts(namespace)).toBe(starts);
    },
  );

  it('refuses narrower admin sources (the load balancer cannot tell /admin/ apart): 400 naming the field, nothing placed', async () => {
    const before = await objectVersions();
    const refused = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${instanceId}/orders`,
      headers,
      payload: { type: 'admin-sources', adminSources: ['85.214.132.7'] },
    });
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json().errors).toEqual([
      {
        path: 'adminSources',
        message: expect.stringContaining('cannot tell the admin console from logins'),
        code: 'sources.adminNotOnKubernetes',
        params: {},
      },
    ]);
    expect(await objectVersions()).toEqual(before);
  });

  it('grows storage: only the CNPG Cluster’s storage.size', { timeout: 7 * 60_000 }, async () => {
    const before = await objectVersions();
    await change({ type: 'storage', storageGb: 100 });
    expect(changed(before, await objectVersions())).toEqual(['Cluster/database']);
    expect((await read('postgresql.cnpg.io/v1', 'Cluster', 'database')).spec!.storage).toMatchObject({
      size: '100Gi',
    });
  });

  it(
    'takes an on-demand backup as one CNPG Backup; a restore order fails with its reason, the instance unchanged',
    { timeout: 4 * 60_000 },
    async () => {
      const before = await objectVersions();
      const orderId = await change({ type: 'backup' }, 3 * 60_000);
      const taken = await backupOfOrder(orderId);
      expect(taken).toMatchObject({ kind: 'on-demand', status: 'done', postgresMajor: 17 });
      expect(changed(before, await objectVersions())).toEqual([`Backup/${taken.objectName}`]);
      expect((await read('postgresql.cnpg.io/v1', 'Backup', taken.objectName)).spec).toEqual({
        cluster: { name: 'database' },
        method: 'volumeSnapshot',
        online: true,
      });

      const afterBackup = await objectVersions();
      const placed = await keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/orders`,
        headers,
        payload: { type: 'restore', backupId: taken.id, confirmName: name },
      });
      expect(placed.statusCode, placed.body).toBe(201);
      const restore = await untilFinished(placed.json().id, 2 * 60_000);
      expect(restore.status).toBe('failed');
      expect(restore.failureReason).toBe(
        'Restoring a backup is not available in Kubernetes regions yet; your instance was not changed.',
      );
      // The restore backs up the current state first (as everywhere); then the driver refuses, and nothing else moved.
      const preRestore = await backupOfOrder(placed.json().id);
      expect(preRestore).toMatchObject({ kind: 'pre-restore', status: 'done' });
      expect(changed(afterBackup, await objectVersions())).toEqual([`Backup/${preRestore.objectName}`]);
      expect((await get(`/api/v1/instances/${instanceId}`)).status).toBe('running');
    },
  );

  it(
    'scales: only the Keycloak CR’s resources, and the operator rolls the pod',
    { timeout: 8 * 60_000 },
    async () => {
      const before = await objectVersions();
      const starts = standIn.keycloakStarts(namespace);
      await change({ type: 'scale', nodeSize: 'b4-8' }, 7 * 60_000);
      expect(changed(before, await objectVersions())).toEqual(['Keycloak/keycloak']);
      expect((await read('k8s.keycloak.org/v2beta1', 'Keycloak', 'keycloak')).spec!.resources).toEqual({
        requests: { cpu: '4', memory: '8Gi' },
        limits: { memory: '8Gi' },
      });
      expect(standIn.keycloakStarts(namespace)).toBe(starts + 1);
    },
  );

  it(
    'restarts by a pod-template annotation carrying the order id, once',
    { timeout: 8 * 60_000 },
    async () => {
      const before = await objectVersions();
      const starts = standIn.keycloakStarts(namespace);
      const orderId = await change({ type: 'restart' }, 7 * 60_000);
      expect(changed(before, await objectVersions())).toEqual(['Keycloak/keycloak']);
      const keycloak = await read('k8s.keycloak.org/v2beta1', 'Keycloak', 'keycloak');
      expect(keycloak.spec!.unsupported).toEqual({
        podTemplate: { metadata: { annotations: { [RESTART_ANNOTATION]: orderId } } },
      });
      expect(standIn.keycloakStarts(namespace)).toBe(starts + 1);
    },
  );

  it(
    'rolls an upgrade back when the new image cannot start: the old image again, the backup kept, no restart',
    { timeout: 5 * 60_000 },
    async () => {
      // The region's operator maps 26.7.3 to an image the cluster cannot pull (the stand-in reports HasErrors, as
      // the Keycloak Operator does for a pod stuck in ErrImagePull); put right again for the next test.
      const images = keyhouse.config.kubernetes['de-north']!.keycloakImages;
      const pullable = images['26.7.3']!;
      images['26.7.3'] = 'quay.io/keycloak/keycloak:26.7.3-unpullable';
      try {
        const starts = standIn.keycloakStarts(namespace);
        const placed = await keyhouse.request({
          method: 'POST',
          url: `/api/v1/instances/${instanceId}/orders`,
          headers,
          payload: { type: 'upgrade', version: '26.7.3' },
        });
        expect(placed.statusCode, placed.body).toBe(201);
        const order = await untilFinished(placed.json().id, 4 * 60_000);
        expect(order.status).toBe('failed');
        expect(order.failureReason).toBe(
          'Keycloak 26.7.3 did not become ready; your instance runs Keycloak 26.5.6 again, with its data from ' +
            'the backup taken before the upgrade.',
        );
        expect(order.failureReasonParts).toEqual([
          { code: 'failure.upgradeRolledBack', params: { version: '26.7.3', previous: '26.5.6' } },
        ]);
        const keycloak = await read('k8s.keycloak.org/v2beta1', 'Keycloak', 'keycloak');
        expect(keycloak.spec!.image).toBe('quay.io/keycloak/keycloak:26.5.6');
        expect(keycloak.metadata!.annotations ?? {}).not.toHaveProperty('keyhouse.io/upgrade');
        const taken = await backupOfOrder(placed.json().id);
        expect(taken.status).toBe('done');
        const backup = await read('postgresql.cnpg.io/v1', 'Backup', taken.objectName);
        expect(backup.status).toMatchObject({ phase: 'completed' });
        expect(await get(`/api/v1/instances/${instanceId}`)).toMatchObject({
          version: '26.5.6',
          status: 'running',
        });
        expect(standIn.keycloakStarts(namespace)).toBe(starts);
      } finally {
        images['26.7.3'] = pullable;
      }
    },
  );

  it(
    'upgrades: a Backup named after the pre-upgrade backup first, then the new image',
    { timeout: 9 * 60_000 },
    async () => {
      const before = await objectVersions();
      const orderId = await change({ type: 'upgrade', version: '26.7.3' }, 8 * 60_000);
      const taken = await backupOfOrder(orderId);
      expect(taken).toMatchObject({ kind: 'pre-upgrade', status: 'done' });
      expect(changed(before, await objectVersions())).toEqual([
        `Backup/${taken.objectName}`,
        'Keycloak/keycloak',
      ]);
      const backup = await read('postgresql.cnpg.io/v1', 'Backup', taken.objectName);
      expect(backup.spec).toEqual({ cluster: { name: 'database' }, method: 'volumeSnapshot', online: true });
      expect(backup.status).toMatchObject({ phase: 'completed' });
      const keycloak = await read('k8s.keycloak.org/v2beta1', 'Keycloak', 'keycloak');
      expect(keycloak.spec!.image).toBe('quay.io/keycloak/keycloak:26.7.3');
      // The upgrade's mark is gone again, and the restart token stays (dropping it would roll the pod).
      expect(keycloak.metadata!.annotations ?? {}).not.toHaveProperty('keyhouse.io/upgrade');
      expect(JSON.stringify(keycloak.spec)).toContain(RESTART_ANNOTATION);
      expect((await get(`/api/v1/instances/${instanceId}`)).version).toBe('26.7.3');
    },
  );

  it(
    'fails an order whose object the API server refuses: a clear reason for the operator and the customer',
    { timeout: 3 * 60_000 },
    async () => {
      const placed = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers,
        payload: exampleOrder(keyhouse.config, {
          region: 'de-west',
          zone: 'de-west-1',
          trustedSources: ['85.214.134.0/24'],
        }),
      });
      expect(placed.statusCode, placed.body).toBe(201);
      const order = await untilFinished(placed.json().id, 2 * 60_000);
      expect(order.status).toBe('failed');
      expect(order.failureReason).toBe(
        'The platform refused the configuration of your instance. Our team has been notified.',
      );
      const client = new pg.Client({ connectionString: keyhouse.databaseUrl });
      await client.connect();
      const { rows } = await client.query<{ operator_detail: string }>(
        'SELECT operator_detail FROM orders WHERE id = $1',
        [placed.json().id],
      );
      await client.end();
      expect(rows[0]!.operator_detail).toMatch(/^Service kh-kc-[a-z0-9]+\/keycloak-public refused: /);
      expect(rows[0]!.operator_detail).toContain('metadata.annotations');
    },
  );

  it('renews the certificate when it is due: only the TLS Secret and the Namespace’s renewal date', async () => {
    // The worker's clock and Keyhouse's CA 70 days on: the 90-day certificate is within 30 days of expiring.
    const later = () => new Date(Date.now() + 70 * 24 * 60 * 60 * 1000);
    const driver = createKubernetesDriver({
      regions: {
        'de-north': {
          name: 'DE-NORTH',
          settings: keyhouse.config.kubernetes['de-north']!,
          client: createKubernetesClient(kube.config),
        },
      },
      ca: await openLocalCa(path.join(keyhouse.config.dataDir, 'ca'), { now: later }),
      logger: createLogger({ level: 'silent' }),
      now: later,
    });
    const tlsBefore = (await read('v1', 'Secret', 'keycloak-tls')) as Stored & {
      data: Record<string, string>;
    };
    const before = await objectVersions();
    const ref = { instanceId, name, region: 'de-north' };
    expect(await driver.ensureCertificate(ref)).toEqual({
      code: 'step.kubernetesCertificateWritten',
      params: { renewAfter: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) },
    });
    expect(changed(before, await objectVersions())).toEqual([
      `Namespace/${namespace}`,
      'Secret/keycloak-tls',
    ]);
    const tlsAfter = (await read('v1', 'Secret', 'keycloak-tls')) as Stored & {
      data: Record<string, string>;
    };
    const notAfter = (secret: { data: Record<string, string> }) =>
      Date.parse(new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64')).validTo);
    expect(notAfter(tlsAfter)).toBeGreaterThan(notAfter(tlsBefore) + 60 * 24 * 60 * 60 * 1000);
    // Not due again; and Keyhouse's own worker (today's clock) leaves it alone too.
    expect(await driver.ensureCertificate(ref)).toBeNull();
    const untouched = await objectVersions();
    await change({ type: 'trusted-sources', trustedSources: ['85.214.132.0/24'] });
    expect(changed(untouched, await objectVersions())).toEqual([
      'NetworkPolicy/keycloak-ingress',
      'Service/keycloak-public',
    ]);
  });

  it(
    'deletes the instance: DONE only when the namespace is gone, and nothing is left',
    { timeout: 5 * 60_000 },
    async () => {
      const unprotected = await keyhouse.request({
        method: 'PATCH',
        url: `/api/v1/instances/${instanceId}`,
        headers,
        payload: { deletionProtection: false },
      });
      expect(unprotected.statusCode, unprotected.body).toBe(200);
      await change({ type: 'delete', confirmName: name }, 4 * 60_000);
      expect(
        await kube.objects
          .read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } })
          .catch((e: { code?: number }) => e.code),
      ).toBe(404);
      expect(await objectVersions()).toEqual(new Map());
      expect((await get(`/api/v1/instances/${instanceId}`)).status).toBe('deleted');
      await waitFor(
        async () => standIn.keycloakProcesses(namespace).length === 0,
        60_000,
        'the Keycloak to stop',
      );
      await waitFor(
        async () => !(await standIn.databases()).includes(`kh_${name.replace(/-/g, '_')}_database`),
        60_000,
        'the database to go',
      );
    },
  );
});
