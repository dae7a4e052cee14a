import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { LogEntry } from '../../src/instances/instance-log-schemas.js';
import { namespaceOf } from '../../src/drivers/kubernetes/instance-objects.js';
import {
  createKubernetesClient,
  KubernetesRefusal,
  type KubernetesClient,
} from '../../src/drivers/kubernetes/kubernetes-client.js';
import type { InstanceLogSource } from '../../src/drivers/driver.js';
import { createKubernetesLogSource } from '../../src/drivers/kubernetes/pod-log.js';
import { UnavailableError } from '../../src/platform/errors.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { startTestKubernetes, type TestKubernetes } from '../support/kube-apiserver.js';

/**
 * The customers' log view of a Kubernetes instance reads the Keycloak pod's log (pods/log of `keycloak-0`,
 * container `keycloak`) through a real API server. No kubelet runs here, and the stand-in operators start
 * Keycloak as a local process, not as a pod: so no pod here has a log to give. What this proves: the log source asks
 * for the right pod's log, an instance without a pod has an empty log, and a pod whose log the API server cannot
 * fetch or refuses is a clear "cannot be read now" (503), not a failure. The parsing of
 * Keycloak's log lines is src/drivers/kubernetes/pod-log.test.ts.
 */

const config = loadConfig({ KEYHOUSE_CONFIG: path.join(packageRoot, 'config/examples/kubernetes.yaml') });
const settings = config.kubernetes['de-north']!;
const secrets = { adminPassword: 'admin-secret-for-tests', databasePassword: 'database-secret-for-tests' };

describe("a Kubernetes instance's log, from its Keycloak pod", () => {
  let kube: TestKubernetes;
  let client: KubernetesClient;
  let logs: InstanceLogSource;

  beforeAll(async () => {
    kube = await startTestKubernetes();
    client = createKubernetesClient(kube.config);
    logs = createKubernetesLogSource({ 'de-north': { name: 'DE-NORTH', settings, client } });
  });
  afterAll(async () => {
    await kube?.stop();
  });

  const target = (name: string) => ({
    instanceId: '00000000-0000-4000-8000-00000000f001',
    name,
    region: 'de-north',
    secrets,
  });

  it('is empty while the instance has no Keycloak pod; following it ends at once', async () => {
    const page = await logs.readLog(target('kc-nopod001'), { since: new Date(0), limit: 10 });
    expect(page).toEqual({ entries: [], truncated: false });
    const batches: LogEntry[][] = [];
    for await (const batch of logs.followLog(target('kc-nopod001'), AbortSignal.timeout(10_000)))
      batches.push(batch);
    expect(batches).toEqual([]);
  });

  /** A namespace with a pod `keycloak-0` whose one container has `container` as its name (no node runs it). */
  async function pendingPod(name: string, container: string) {
    const namespace = namespaceOf(settings, name);
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    // No service-account controller runs here; the admission plugin wants the pod's account to exist.
    await client.apply({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace },
    });
    await client.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'keycloak-0', namespace },
      spec: { containers: [{ name: container, image: settings.keycloakImages['26.5.6']! }] },
    });
    return namespace;
  }

  it('asks for the container `keycloak` of the pod `keycloak-0`: not scheduled yet, it has no log', async () => {
    const namespace = await pendingPod('kc-pending01', 'keycloak');
    // The API server's answer for a pod without a node is 204 No Content: no log yet.
    expect(await client.podLog({ namespace, pod: 'keycloak-0', container: 'keycloak' }, {})).toBeNull();
    expect(await logs.readLog(target('kc-pending01'), { since: new Date(0), limit: 10 })).toEqual({
      entries: [],
      truncated: false,
    });
  });

  it("says the log cannot be read now when the API server refuses the pod's log", async () => {
    // A pod whose container is not `keycloak` (not the operator's): the API server refuses the container name.
    const namespace = await pendingPod('kc-foreign01', 'sidecar');
    const refusal = await client
      .podLog({ namespace, pod: 'keycloak-0', container: 'keycloak' }, {})
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(KubernetesRefusal);
    expect((refusal as KubernetesRefusal).status).toBe(400);

    const read = await logs
      .readLog(target('kc-foreign01'), { since: new Date(0), limit: 10 })
      .catch((error: unknown) => error);
    expect(read).toBeInstanceOf(UnavailableError);
    expect((read as Error).message).toMatch(/log of this instance's Keycloak cannot be read now/);
  });
});
