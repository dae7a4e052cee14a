import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  RbacAuthorizationV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { DesiredInstance } from '../../src/drivers/driver.js';
import {
  instanceObjects,
  namespaceOf,
  instanceBackup,
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

// The control plane's own manifests (deploy/kubernetes) against a real API server: every object is accepted as
// kustomize would render it, and the worker's service account can do exactly what the Kubernetes driver does —
// in the instances' namespaces, and nowhere else (RBAC plus the ValidatingAdmissionPolicy). Nothing runs the pods.

const deployDir = path.join(packageRoot, 'deploy', 'kubernetes');
const config = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });
const region = config.kubernetes['de-north']!;

type Kustomization = { resources: string[]; images: { name: string; newName: string; newTag: string }[] };
type Container = { image: string };
type PodOwner = KubernetesObject & { spec: { template: { spec: { containers: Container[] } } } };

/** What `kubectl kustomize deploy/kubernetes` renders: the listed files with the image names replaced. */
function renderedManifests(): KubernetesObject[] {
  const kustomization = parseYaml(
    readFileSync(path.join(deployDir, 'kustomization.yaml'), 'utf8'),
  ) as Kustomization;
  return kustomization.resources.flatMap((file) =>
    (loadAllYaml(readFileSync(path.join(deployDir, file), 'utf8')) as KubernetesObject[]).map((object) => {
      if (object.kind !== 'Deployment') return object;
      for (const container of (object as PodOwner).spec.template.spec.containers) {
        const image = kustomization.images.find((entry) => entry.name === container.image);
        if (image) container.image = `${image.newName}:${image.newTag}`;
      }
      return object;
    }),
  );
}

describe('deploy/kubernetes against a real API server', () => {
  let kube: TestKubernetes;
  let worker: KubernetesClient;
  let workerConfig: KubeConfig;
  let caDir: string;

  const tokenFor = async (serviceAccount: string) => {
    const token = await kube.config.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: 'keyhouse',
      body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } },
    });
    return token.status!.token;
  };
  const configFor = (token: string) => {
    const config = new KubeConfig();
    const cluster = kube.config.getCurrentCluster()!;
    config.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'service-account', token }],
      contexts: [{ name: 'test', cluster: cluster.name, user: 'service-account' }],
      currentContext: 'test',
    });
    return config;
  };

  beforeAll(async () => {
    kube = await startTestKubernetes();
    for (const object of renderedManifests())
      await kube.objects.patch(
        object,
        undefined,
        undefined,
        'keyhouse-tests',
        true,
        PatchStrategy.ServerSideApply,
      );
    workerConfig = configFor(await tokenFor('keyhouse-worker'));
    worker = createKubernetesClient(workerConfig);
    caDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-ca-'));
    // The API server enforces a new ValidatingAdmissionPolicy once its informer has the policy and its binding:
    // moments after they are created, longer on a loaded machine (a full run once wrote the planted Secret below).
    // Wait until a dry-run write outside the worker's namespaces is refused; nothing is stored meanwhile.
    const probe = KubernetesObjectApi.makeApiClient(workerConfig);
    const planted = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'admission-probe', namespace: 'default' },
    };
    await waitFor(
      () =>
        probe.create(planted, undefined, 'All').then(
          () => false,
          // 422 Invalid: the policy's denial (the worker's role itself may create Secrets anywhere).
          (error: { code?: number }) => error.code === 422,
        ),
      60_000,
      'the admission policy in effect',
    );
  }, 90_000);
  afterAll(async () => {
    await kube?.stop();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  it('accepts every rendered object: API with two replicas and the worker, probes on /healthz and /readyz', async () => {
    const rendered = renderedManifests();
    expect(rendered.map((object) => `${object.kind}/${object.metadata!.name}`)).toEqual([
      'Namespace/keyhouse',
      'ServiceAccount/keyhouse-api',
      'ServiceAccount/keyhouse-worker',
      'ClusterRole/keyhouse-driver',
      'ClusterRoleBinding/keyhouse-driver',
      'ValidatingAdmissionPolicy/keyhouse-worker-scope',
      'ValidatingAdmissionPolicyBinding/keyhouse-worker-scope',
      'Deployment/keyhouse-api',
      'Service/keyhouse',
      'Deployment/keyhouse-worker',
    ]);
    for (const name of ['keyhouse-api', 'keyhouse-worker']) {
      const stored = (await kube.objects.read({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: 'keyhouse' },
      })) as PodOwner & { spec: { replicas: number } };
      expect(stored.spec.replicas).toBe(name === 'keyhouse-api' ? 2 : 1);
      const [container] = stored.spec.template.spec.containers as (Container & {
        livenessProbe: { httpGet: { path: string } };
        readinessProbe: { httpGet: { path: string } };
      })[];
      expect(container!.image).toBe('registry.example/keyhouse:0.1.0');
      expect(container!.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container!.readinessProbe.httpGet.path).toBe('/readyz');
    }
  });

  it("lets the worker's service account do all the driver does for an instance", async () => {
    const instance: DesiredInstance = {
      instanceId: '00000000-0000-4000-8000-00000000d001',
      name: 'kc-d0000001',
      customerNumber: 'kd500001',
      adminUsername: 'admin',
      version: '26.5.6',
      nodeSize: { id: 'b2-4', vcpu: 2, memoryGb: 4 },
      storageGb: 50,
      trustedSources: ['203.0.113.0/24'],
      adminSources: ['203.0.113.0/24'],
      region: 'de-north',
      zone: 'de-north-1',
      themes: [],
      customHostname: null,
      secrets: { adminPassword: 'admin-secret', databasePassword: 'database-secret' },
    };
    const certificate = await (
      await openLocalCa(caDir)
    ).issueServerCertificate('kc-d0000001.de-north.example');
    const keycloakApi = await worker.keycloakApi();
    expect(keycloakApi).toEqual({ apiVersion: 'k8s.keycloak.org/v2beta1', hasNetworkPolicy: true });
    const objects = instanceObjects({
      instance,
      region,
      keycloakApi: keycloakApi!,
      tls: { certificatePem: certificate.certPem, privateKeyPem: certificate.keyPem },
      restartToken: null,
    });
    const backup = instanceBackup({ instance, region }, 'pre-upgrade-1');
    for (const object of [...objects, backup]) await worker.apply(object);
    for (const object of objects.filter((o) => o.kind !== 'Secret'))
      expect(await worker.read(object as never), object.kind).not.toBeNull();
    // Retention removes a backup's object.
    expect(await worker.delete(backup as never)).toBe('deleting');
    expect(await worker.delete(objects[0] as never)).toBe('deleting');
  });

  it('refuses the worker everything else: reading Secrets, writing outside its namespaces, relabelling one', async () => {
    const refusal = (promise: Promise<unknown>) => promise.then(() => null).catch((error: unknown) => error);

    const secretRead = await refusal(
      worker.read({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'database-app', namespace: 'kube-system' },
      }),
    );
    expect(secretRead).toBeInstanceOf(KubernetesRefusal);
    expect(secretRead).toMatchObject({ status: 403, reason: 'Forbidden' });

    const foreignSecret = await refusal(
      worker.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'planted', namespace: 'default' },
        stringData: { key: 'value' },
      } as KubernetesObject),
    );
    // The admission policy's denial: 422 Invalid with the policy's message.
    expect(foreignSecret).toMatchObject({ status: 422, reason: 'Invalid' });
    expect((foreignSecret as Error).message).toContain(
      'keyhouse-worker writes only in namespaces labelled app.kubernetes.io/managed-by=keyhouse, not in "default"',
    );

    const relabel = await refusal(
      worker.apply({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'default', labels: { 'app.kubernetes.io/managed-by': 'keyhouse' } },
      }),
    );
    expect((relabel as Error).message).toContain('may only create, change or delete namespaces labelled');
    await kube.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'another-tenant' } });
    const foreignDelete = await refusal(
      worker.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'another-tenant' } }),
    );
    expect(foreignDelete).toMatchObject({ status: 422 });
    expect((foreignDelete as Error).message).toContain('not "another-tenant"');
    const survivor = await kube.objects.read({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'another-tenant' },
    });
    expect(survivor.metadata!.deletionTimestamp).toBeUndefined();

    const clusterRole = await refusal(
      workerConfig
        .makeApiClient(RbacAuthorizationV1Api)
        .createClusterRole({ body: { metadata: { name: 'escalate' } } }),
    );
    expect(clusterRole).toMatchObject({ code: 403 });
    // Inside an instance's namespace the label decides, not the name: an unlabelled kh- namespace is foreign too.
    await kube.objects.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespaceOf(region, 'kc-f0000001') },
    });
    const unlabelled = await refusal(
      worker.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'keycloak-public', namespace: namespaceOf(region, 'kc-f0000001') },
        spec: { ports: [{ port: 443 }] },
      } as KubernetesObject),
    );
    expect(unlabelled).toMatchObject({ status: 422 });
    expect((unlabelled as Error).message).toContain('not in "kh-kc-f0000001"');
  });

  it("gives the API's service account no rights at all", async () => {
    const api = createKubernetesClient(configFor(await tokenFor('keyhouse-api')));
    const refusal = await api
      .apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kh-kc-a0000001', labels: {} } })
      .then(() => null)
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({ status: 403, reason: 'Forbidden' });
    expect(await api.keycloakApi().catch((error: unknown) => error)).toMatchObject({ status: 403 });
  });
});
