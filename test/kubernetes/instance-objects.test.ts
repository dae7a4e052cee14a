import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesRegion } from '../../src/config/kubernetes-region-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { DesiredInstance } from '../../src/drivers/driver.js';
import {
  INSTANCE_ID_LABEL,
  MANAGED_BY_LABEL,
  RESTART_ANNOTATION,
  instanceObjects,
  namespaceOf,
  instanceBackup,
  type InstanceObjectsInput,
  type TlsCertificate,
} from '../../src/drivers/kubernetes/instance-objects.js';
import {
  createKubernetesClient,
  KubernetesRefusal,
  type KubernetesClient,
} from '../../src/drivers/kubernetes/kubernetes-client.js';
import { openLocalCa } from '../../src/edge/local-ca.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { waitFor } from '../support/edge-probes.js';
import { startTestKubernetes, type TestKubernetes } from '../support/kube-apiserver.js';

// A real kube-apiserver (with etcd and the namespace controller) judges every object the Kubernetes driver writes:
// the CRDs of the Keycloak Operator and CloudNativePG are installed, so their schemas and CEL rules apply. No
// operator runs here: these tests are about what the API server accepts and stores.

const config = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });
const region: KubernetesRegion = config.kubernetes['de-north']!;

let counter = 0;
function desired(overrides: Partial<DesiredInstance> = {}): DesiredInstance {
  counter += 1;
  const suffix = `${counter}`.padStart(8, '0');
  return {
    instanceId: `00000000-0000-4000-8000-${`${counter}`.padStart(12, '0')}`,
    name: `kc-${suffix}`,
    customerNumber: 'kd500001',
    adminUsername: 'admin',
    version: '26.5.6',
    nodeSize: { id: 'b2-4', vcpu: 2, memoryGb: 4 },
    storageGb: 50,
    trustedSources: ['203.0.113.0/24', '2001:db8::/48'],
    adminSources: ['203.0.113.0/24', '2001:db8::/48'],
    region: 'de-north',
    zone: 'de-north-2',
    themes: [],
    customHostname: null,
    secrets: { adminPassword: 'admin-secret-for-tests', databasePassword: 'database-secret-for-tests' },
    ...overrides,
  };
}

type Stored = KubernetesObject & { spec?: Record<string, unknown>; type?: string };
const keyOf = (object: KubernetesObject) => `${object.kind}/${object.metadata!.name}`;

describe('instance objects against a real API server (Keycloak CRD with v2beta1 served)', () => {
  let kube: TestKubernetes;
  let client: KubernetesClient;
  let tls: TlsCertificate;
  let caDir: string;

  beforeAll(async () => {
    kube = await startTestKubernetes();
    client = createKubernetesClient(kube.config);
    caDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-ca-'));
    const certificate = await (
      await openLocalCa(caDir)
    ).issueServerCertificate('kc-1.de-north.keycloak.example');
    tls = { certificatePem: certificate.certPem, privateKeyPem: certificate.keyPem };
  });
  afterAll(async () => {
    await kube?.stop();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  const inputFor = async (instance: DesiredInstance, restartToken: string | null = null) => ({
    instance,
    region,
    keycloakApi: (await client.keycloakApi())!,
    tls,
    restartToken,
  });
  const applyAll = async (input: InstanceObjectsInput) => {
    const stored = new Map<string, Stored>();
    for (const object of instanceObjects(input)) stored.set(keyOf(object), await client.apply(object));
    return stored;
  };
  /** Applies the objects of `input` and names those whose stored version changed. */
  const changedBy = async (input: InstanceObjectsInput) => {
    const before = new Map<string, string>();
    for (const object of instanceObjects(input)) {
      const current = await client.read<Stored>(object as Parameters<KubernetesClient['read']>[0]);
      before.set(keyOf(object), current!.metadata!.resourceVersion!);
    }
    const after = await applyAll(input);
    return [...after]
      .filter(([key, object]) => object.metadata!.resourceVersion !== before.get(key))
      .map(([key]) => key);
  };

  it('accepts every object; each carries the instance labels and is owned by the field manager keyhouse', async () => {
    expect(await client.keycloakApi()).toEqual({
      apiVersion: 'k8s.keycloak.org/v2beta1',
      hasNetworkPolicy: true,
    });
    const instance = desired();
    const stored = await applyAll(await inputFor(instance));
    const namespace = namespaceOf(region, instance.name);
    expect(namespace).toBe(`kh-${instance.name}`);
    expect([...stored.keys()]).toEqual([
      'Namespace/' + namespace,
      'Secret/database-app',
      'Secret/keycloak-bootstrap-admin',
      'Secret/keycloak-tls',
      'Cluster/database',
      'Keycloak/keycloak',
      'Service/keycloak-public',
      'NetworkPolicy/keycloak-ingress',
      'NetworkPolicy/database-ingress',
    ]);
    for (const object of stored.values()) {
      expect(object.metadata!.labels).toMatchObject({
        [MANAGED_BY_LABEL]: 'keyhouse',
        [INSTANCE_ID_LABEL]: instance.instanceId,
      });
      if (object.kind !== 'Namespace') expect(object.metadata!.namespace).toBe(namespace);
      expect(object.metadata!.managedFields!.map((entry) => [entry.manager, entry.operation])).toContainEqual(
        ['keyhouse', 'Apply'],
      );
    }

    // What the server stored, read back in wire form: the order's values arrived where the operators read them.
    const keycloak = stored.get('Keycloak/keycloak')!;
    expect(keycloak.apiVersion).toBe('k8s.keycloak.org/v2beta1');
    expect(keycloak.spec).toMatchObject({
      instances: 1,
      image: 'quay.io/keycloak/keycloak:26.5.6',
      db: { vendor: 'postgres', host: 'database-rw', database: 'keycloak' },
      hostname: { hostname: `https://${instance.name}.de-north.keycloak.example` },
      http: { tlsSecret: 'keycloak-tls' },
      bootstrapAdmin: { user: { secret: 'keycloak-bootstrap-admin' } },
      resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '4Gi' } },
      networkPolicy: { enabled: false },
      ingress: { enabled: false },
    });
    expect(JSON.stringify(keycloak.spec)).toContain('"values":["de-north-1b"]');
    expect(stored.get('Cluster/database')!.spec).toMatchObject({
      instances: 1,
      storage: { size: '50Gi', storageClass: 'ssd-expandable' },
      affinity: { nodeSelector: { 'topology.kubernetes.io/zone': 'de-north-1b' } },
      bootstrap: { initdb: { database: 'keycloak', owner: 'keycloak', secret: { name: 'database-app' } } },
      backup: { volumeSnapshot: { className: 'csi-snapshots' } },
    });
    const service = stored.get('Service/keycloak-public')!;
    expect(service.spec).toMatchObject({
      type: 'LoadBalancer',
      loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8::/48'],
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'https', port: 443, targetPort: 8443 }],
    });
    expect(service.metadata!.annotations).toMatchObject({
      'external-dns.alpha.kubernetes.io/hostname': `${instance.name}.de-north.keycloak.example`,
    });
    const policy = stored.get('NetworkPolicy/keycloak-ingress')!;
    // Read back through the client's typed model, whose `_from` is the wire's `from`.
    expect((policy.spec as { ingress: unknown[] }).ingress[0]).toMatchObject({
      _from: [{ ipBlock: { cidr: '203.0.113.0/24' } }, { ipBlock: { cidr: '2001:db8::/48' } }],
      ports: [{ protocol: 'TCP', port: 8443 }],
    });
    expect(stored.get('Secret/database-app')!.type).toBe('kubernetes.io/basic-auth');
  });

  it('changes nothing when the same objects are applied again', async () => {
    const input = await inputFor(desired());
    await applyAll(input);
    expect(await changedBy(input)).toEqual([]);
  });

  it('changes exactly the objects of each day-2 order', async () => {
    let instance = desired();
    await applyAll(await inputFor(instance));

    instance = { ...instance, trustedSources: ['198.51.100.7/32'] };
    expect(await changedBy(await inputFor(instance))).toEqual([
      'Service/keycloak-public',
      'NetworkPolicy/keycloak-ingress',
    ]);
    instance = { ...instance, nodeSize: { id: 'b4-8', vcpu: 4, memoryGb: 8 } };
    expect(await changedBy(await inputFor(instance))).toEqual(['Keycloak/keycloak']);
    instance = { ...instance, storageGb: 100 };
    expect(await changedBy(await inputFor(instance))).toEqual(['Cluster/database']);
    const restarted = await inputFor(instance, 'order-1234');
    expect(await changedBy(restarted)).toEqual(['Keycloak/keycloak']);
    const keycloak = await client.read<Stored>(instanceObjects(restarted)[5] as never);
    expect(JSON.stringify(keycloak!.spec)).toContain(`"${RESTART_ANNOTATION}":"order-1234"`);
    instance = { ...instance, version: '26.7.3' };
    expect(await changedBy(await inputFor(instance, 'order-1234'))).toEqual(['Keycloak/keycloak']);
  });

  it('deletes the instance with its namespace: the namespace controller removes every object, then the namespace', async () => {
    const instance = desired();
    const input = await inputFor(instance);
    await applyAll(input);
    await client.apply(instanceBackup({ instance, region }, 'pre-upgrade-order-2'));
    const [namespace] = instanceObjects(input);
    expect(await client.delete(namespace as never)).toBe('deleting');
    await waitFor(async () => (await client.read(namespace as never)) === null, 60_000, 'namespace gone');
    for (const object of [
      ...instanceObjects(input),
      instanceBackup({ instance, region }, 'pre-upgrade-order-2'),
    ])
      expect(await client.read(object as never), keyOf(object)).toBeNull();
    expect(await client.delete(namespace as never)).toBe('absent');
  });

  it('stores a backup once and refuses to change it (CEL: BackupSpec is immutable once set)', async () => {
    const instance = desired();
    await applyAll(await inputFor(instance));
    const backup = instanceBackup({ instance, region }, 'pre-upgrade-order-1');
    const stored = await client.apply(backup);
    expect(stored.spec).toEqual({ cluster: { name: 'database' }, method: 'volumeSnapshot', online: true });
    expect((await client.apply(backup)).metadata!.resourceVersion).toBe(stored.metadata!.resourceVersion);

    const otherMethod = instanceBackup(
      {
        instance,
        region: {
          ...region,
          backup: { method: 'plugin', plugin: 'barman-cloud.cloudnative-pg.io', parameters: {} },
        },
      },
      'pre-upgrade-order-1',
    );
    const refusal = await client.apply(otherMethod).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(KubernetesRefusal);
    expect(refusal).toMatchObject({ status: 422, reason: 'Invalid' });
    expect((refusal as KubernetesRefusal).message).toMatch(
      /^Backup kh-kc-\d+\/kh-pre-upgrade-order-1 refused: /,
    );
    expect((refusal as KubernetesRefusal).causes.join('\n')).toContain('BackupSpec is immutable once set');
  });

  it('explains a refused immutable field: a Secret of another type already in the namespace', async () => {
    const instance = desired();
    const input = await inputFor(instance);
    const [namespace] = instanceObjects(input);
    await client.apply(namespace!);
    await kube.objects.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'database-app', namespace: namespaceOf(region, instance.name) },
      type: 'Opaque',
      stringData: { note: 'left by someone else' },
    } as KubernetesObject);
    const refusal = await applyAll(input).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(KubernetesRefusal);
    expect((refusal as KubernetesRefusal).message).toContain('Secret kh-');
    expect((refusal as KubernetesRefusal).causes.join('\n')).toMatch(
      /type: Invalid value: .*field is immutable/,
    );
  });

  it('takes back a field another manager changed (server-side apply, forced) and stays its owner', async () => {
    const instance = desired();
    const input = await inputFor(instance);
    await applyAll(input);
    const service = instanceObjects(input).find((object) => object.kind === 'Service')!;
    const intruder = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: service.metadata!.name, namespace: service.metadata!.namespace },
      spec: { loadBalancerSourceRanges: ['0.0.0.0/0'] },
    };
    await kube.objects.patch(
      intruder,
      undefined,
      undefined,
      'someone-else',
      true,
      PatchStrategy.ServerSideApply,
    );
    const stored = await client.apply(service);
    expect((stored as Stored).spec!.loadBalancerSourceRanges).toEqual(['203.0.113.0/24', '2001:db8::/48']);
    // The other manager's next unforced apply now conflicts with keyhouse instead of silently winning.
    const conflict = await kube.objects
      .patch(intruder, undefined, undefined, 'someone-else', false, PatchStrategy.ServerSideApply)
      .catch((error: { code?: number; body?: string }) => error);
    expect(conflict).toMatchObject({ code: 409 });
    expect(JSON.parse(String((conflict as { body?: string }).body)).message).toBe(
      'Apply failed with 1 conflict: conflict with "keyhouse": .spec.loadBalancerSourceRanges',
    );
  });
});

describe('against an operator that serves only v2alpha1 (Keycloak 26.0 CRDs)', () => {
  let kube: TestKubernetes;
  beforeAll(async () => {
    kube = await startTestKubernetes({ keycloakCrds: '26.0.0' });
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it('writes the Keycloak CR as v2alpha1 without the fields 26.0 lacks, and the API server accepts it', async () => {
    const client = createKubernetesClient(kube.config);
    const keycloakApi = await client.keycloakApi();
    expect(keycloakApi).toEqual({ apiVersion: 'k8s.keycloak.org/v2alpha1', hasNetworkPolicy: false });
    const caDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-ca-'));
    try {
      const certificate = await (
        await openLocalCa(caDir)
      ).issueServerCertificate('kc-2.de-north.keycloak.example');
      const input = {
        instance: desired(),
        region,
        keycloakApi: keycloakApi!,
        tls: { certificatePem: certificate.certPem, privateKeyPem: certificate.keyPem },
        restartToken: null,
      };
      for (const object of instanceObjects(input)) await client.apply(object);
      const keycloak = await client.read<Stored>(instanceObjects(input)[5] as never);
      expect(keycloak!.apiVersion).toBe('k8s.keycloak.org/v2alpha1');
      expect(keycloak!.spec).toMatchObject({ instances: 1, image: 'quay.io/keycloak/keycloak:26.5.6' });

      // Had the driver sent the newer field anyway, the API server's refusal names it.
      const newerField = instanceObjects({
        ...input,
        keycloakApi: { ...keycloakApi!, hasNetworkPolicy: true },
      })[5]!;
      const refusal = await client.apply(newerField).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(KubernetesRefusal);
      expect((refusal as KubernetesRefusal).message).toMatch(
        /\.spec\.networkPolicy: field not declared in schema/,
      );
    } finally {
      rmSync(caDir, { recursive: true, force: true });
    }
  });
});
