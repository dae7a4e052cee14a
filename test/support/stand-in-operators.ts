import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import pg from 'pg';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { CNPG_HEALTHY_PHASE, type ObjectWithStatus } from '../../src/drivers/kubernetes/instance-status.js';
import { instancePaths } from '../../src/drivers/local/instance-files.js';
import { escapeConfValue } from '../../src/drivers/local/keycloak-config.js';
import {
  createKeycloakDistributions,
  keycloakProcessEnv,
} from '../../src/drivers/local/keycloak-distribution.js';
import { prepareHome } from '../../src/drivers/local/keycloak-home.js';
import {
  findKeycloakProcesses,
  logTail,
  spawnKeycloak,
  stopKeycloak,
  waitForKeycloakReady,
} from '../../src/drivers/local/keycloak-process.js';
import { createKeyedMutex } from '../../src/platform/file-lock.js';

/**
 * A STAND-IN for the Keycloak Operator, CloudNativePG and the cloud's load balancer, for the tests of the
 * Kubernetes driver. The real operators cannot run here: their images need a container registry and a kubelet,
 * and this machine has neither. The stand-in plays their part against the real API server (test/support/
 * kube-apiserver.ts), from the objects the driver wrote, and writes status the way they document it:
 *
 * - CloudNativePG `Cluster`: a real database on the test PostgreSQL, named after the cluster (`<namespace>_<name>`),
 *   its owner role from the bootstrap secret (prefixed with the namespace: every cluster shares one test server);
 *   then `status.phase` "Cluster in healthy state", `readyInstances`, and condition Ready (ClusterIsReady) for the
 *   current generation. A `Backup` is marked `completed` (no data is copied: that is CNPG's and the storage's job).
 * - `Keycloak`: a real Keycloak from the test cache, of the version in the CR's image tag (an image the cache has
 *   no version for fails like an image pull: HasErrors), on the database of the CR's `db`, with the CR's TLS
 *   secret, host name and bootstrap admin. Any change of what a pod template would carry (image, resources,
 *   `unsupported.podTemplate`, database, host name) restarts it: RollingUpdate True, then Ready True again for the
 *   new generation; HasErrors False when all is well.
 * - `Service` of type LoadBalancer: `status.loadBalancer.ingress` = its cluster IP. The test API server allocates
 *   cluster IPs from a loopback range, and Keycloak listens on `<cluster IP>:443` itself (HTTPS, the Service's
 *   port) and `:9000` (management), so the Service, the load balancer and the pod are one socket here: nothing
 *   enforces `loadBalancerSourceRanges` or NetworkPolicies (no cloud, no CNI).
 *
 * When an object disappears (the namespace controller removes what a deleted namespace held), its Keycloak is
 * stopped and its database and role are dropped, as the pod and the volume would go. Binding port 443 needs root
 * (CI and this machine run tests as root).
 */

export type StandInOperators = {
  /** The Keycloak JVMs the stand-in runs for a namespace (normally one). */
  keycloakProcesses(namespace: string): number[];
  /** How often the stand-in started Keycloak for a namespace (first start and every rolling update). */
  keycloakStarts(namespace: string): number;
  /** The stand-in's databases on the test server (one per live CNPG cluster). */
  databases(): Promise<string[]>;
  stop(): Promise<void>;
};

type SecretData = Record<string, string>;
type KeycloakSpec = {
  image?: string;
  db?: {
    host?: string;
    database?: string;
    usernameSecret?: { name: string; key: string };
    passwordSecret?: { name: string; key: string };
  };
  http?: { tlsSecret?: string };
  hostname?: { hostname?: string };
  bootstrapAdmin?: { user?: { secret?: string } };
  resources?: unknown;
  unsupported?: unknown;
};
type Running = { hash: string; generation: number };

const KEYCLOAK = { group: 'k8s.keycloak.org', plural: 'keycloaks' };
const CNPG = { group: 'postgresql.cnpg.io', version: 'v1' };
const LOOP_MS = 300;

const sqlName = (text: string) => text.replace(/[^a-z0-9]/g, '_');
const key = (object: KubernetesObject) => `${object.metadata!.namespace}/${object.metadata!.name}`;

export async function startStandInOperators(options: {
  kubeConfig: KubeConfig;
  /** Superuser URL of the test PostgreSQL, without database name. */
  serverUrl: string;
  keycloakCacheDir: string;
  logger: Logger;
  /** How long a Keycloak may take to become ready. */
  readyTimeoutMs?: number;
}): Promise<StandInOperators> {
  if (process.getuid?.() !== 0)
    throw new Error('The stand-in operators bind Keycloak to <cluster IP>:443, which needs root.');
  const logger = options.logger.child({ component: 'stand-in-operators' });
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-stand-in-'));
  /** A Keycloak home per namespace, as the local driver lays it out (the stand-in keeps no backups there). */
  const pathsOf = (namespace: string) => instancePaths(dir, namespace, path.join(dir, 'no-backups'));
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const server = new URL(options.serverUrl);
  const admin = new pg.Pool({ connectionString: `${options.serverUrl}/postgres`, max: 2 });
  const distributions = createKeycloakDistributions({
    config: loadConfig({ DATA_DIR: dir }),
    logger,
    cacheDir: options.keycloakCacheDir,
  });
  const serialised = createKeyedMutex();
  // A first start creates the schema: minutes on a loaded 2-core machine.
  const readyTimeoutMs = options.readyTimeoutMs ?? 10 * 60_000;

  /** Databases by cluster key; Keycloaks by CR key: what the pods and volumes would be. */
  const databases = new Map<string, { database: string; role: string }>();
  const keycloaks = new Map<string, Running>();
  const starts = new Map<string, number>();
  const busy = new Map<string, Promise<void>>();
  let stopped = false;

  const now = () => new Date().toISOString();
  async function secretData(namespace: string, name: string): Promise<SecretData> {
    const secret: V1Secret = await core.readNamespacedSecret({ name, namespace });
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  }

  /** Writes the status subresource; a conflict (the object changed meanwhile) is retried by the next loop. */
  async function writeStatus(
    api: { group: string; version: string; plural: string },
    object: ObjectWithStatus,
    status: ObjectWithStatus['status'],
  ) {
    const body = { ...object, status };
    await custom
      .replaceNamespacedCustomObjectStatus({
        ...api,
        namespace: object.metadata!.namespace!,
        name: object.metadata!.name!,
        body,
      })
      .catch((error: { code?: number }) => {
        if (error.code !== 409 && error.code !== 404) throw error;
      });
  }

  // ---- CloudNativePG ---------------------------------------------------------------------------------------------

  async function reconcileCluster(cluster: ObjectWithStatus) {
    const namespace = cluster.metadata!.namespace!;
    const spec = cluster.spec as {
      instances?: number;
      bootstrap?: { initdb?: { secret?: { name: string } } };
    };
    const secretName = spec.bootstrap?.initdb?.secret?.name;
    if (!secretName) return;
    const credentials = await secretData(namespace, secretName);
    const database = sqlName(`${namespace}_${cluster.metadata!.name}`);
    const role = sqlName(`${namespace}_${credentials.username}`);
    if (!databases.has(key(cluster))) {
      const quotedPassword = (
        await admin.query<{ q: string }>('SELECT quote_literal($1) AS q', [credentials.password])
      ).rows[0]!.q;
      const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      await admin.query(
        `${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${role} LOGIN PASSWORD ${quotedPassword}`,
      );
      const hasDatabase = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!hasDatabase.rowCount) await admin.query(`CREATE DATABASE ${database} OWNER ${role}`);
      databases.set(key(cluster), { database, role });
      logger.info({ cluster: key(cluster), database }, 'database ready');
    }
    const generation = cluster.metadata!.generation!;
    const ready = cluster.status?.conditions?.find((c) => c.type === 'Ready');
    if (cluster.status?.phase === CNPG_HEALTHY_PHASE && ready?.observedGeneration === generation) return;
    const instances = spec.instances ?? 1;
    await writeStatus({ ...CNPG, plural: 'clusters' }, cluster, {
      ...cluster.status,
      phase: CNPG_HEALTHY_PHASE,
      instances,
      readyInstances: instances,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'ClusterIsReady',
          message: 'Cluster is Ready',
          lastTransitionTime: ready?.status === 'True' ? ready.lastTransitionTime! : now(),
          observedGeneration: generation,
        },
      ],
    } as ObjectWithStatus['status']);
  }

  async function dropDatabase(clusterKey: string) {
    const found = databases.get(clusterKey)!;
    await admin.query(`DROP DATABASE IF EXISTS ${found.database} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${found.role}`);
    databases.delete(clusterKey);
    logger.info({ cluster: clusterKey }, 'database dropped with its cluster');
  }

  async function reconcileBackup(backup: ObjectWithStatus) {
    if (backup.status?.phase === 'completed') return;
    const started = now();
    await writeStatus({ ...CNPG, plural: 'backups' }, backup, {
      phase: 'completed',
      method: (backup.spec as { method?: string }).method,
      startedAt: started,
      stoppedAt: now(),
    } as ObjectWithStatus['status']);
  }

  // ---- the cloud's load balancer ---------------------------------------------------------------------------------

  async function reconcileService(service: V1Service) {
    if (service.spec?.type !== 'LoadBalancer' || !service.spec.clusterIP) return;
    if (service.status?.loadBalancer?.ingress?.[0]?.ip === service.spec.clusterIP) return;
    await core
      .replaceNamespacedServiceStatus({
        name: service.metadata!.name!,
        namespace: service.metadata!.namespace!,
        body: { ...service, status: { loadBalancer: { ingress: [{ ip: service.spec.clusterIP }] } } },
      })
      .catch((error: { code?: number }) => {
        if (error.code !== 409 && error.code !== 404) throw error;
      });
  }

  // ---- the Keycloak Operator -------------------------------------------------------------------------------------

  function keycloakConditions(
    keycloak: ObjectWithStatus,
    state: { ready: boolean; errors?: string; rolling: boolean; message?: string },
  ) {
    const generation = keycloak.metadata!.generation!;
    const previous = (type: string) => keycloak.status?.conditions?.find((c) => c.type === type);
    const condition = (type: string, status: boolean, message: string) => ({
      type,
      status: status ? 'True' : 'False',
      message,
      lastTransitionTime:
        previous(type)?.status === (status ? 'True' : 'False') ? previous(type)!.lastTransitionTime! : now(),
      observedGeneration: generation,
    });
    return {
      conditions: [
        condition('Ready', state.ready, state.ready ? '' : (state.message ?? 'Waiting for more replicas')),
        condition('HasErrors', Boolean(state.errors), state.errors ?? ''),
        condition('RollingUpdate', state.rolling, state.rolling ? 'Rolling out deployment update' : ''),
      ],
      instances: state.ready ? 1 : 0,
      observedGeneration: generation,
      selector:
        'app=keycloak,app.kubernetes.io/instance=keycloak,app.kubernetes.io/managed-by=keycloak-operator',
    };
  }

  async function keycloakAddress(namespace: string): Promise<string | null> {
    const services = await core.listNamespacedService({ namespace });
    const service = services.items.find(
      (s) => s.spec?.selector?.app === 'keycloak' && s.spec.clusterIP && s.spec.clusterIP !== 'None',
    );
    return service?.spec?.clusterIP ?? null;
  }

  async function reconcileKeycloak(keycloak: ObjectWithStatus) {
    const namespace = keycloak.metadata!.namespace!;
    const spec = keycloak.spec as KeycloakSpec;
    const generation = keycloak.metadata!.generation!;
    const paths = pathsOf(namespace);
    const running = keycloaks.get(key(keycloak));
    const hash = createHash('sha256')
      .update(
        JSON.stringify([spec.image, spec.resources, spec.unsupported, spec.db, spec.hostname, spec.http]),
      )
      .digest('hex');
    const alive = findKeycloakProcesses(paths.home).length > 0;
    if (running?.hash === hash && alive) {
      if (keycloak.status?.observedGeneration !== generation)
        await writeStatus({ ...KEYCLOAK, version: versionOf(keycloak) }, keycloak, {
          ...keycloakConditions(keycloak, { ready: true, rolling: false }),
        } as ObjectWithStatus['status']);
      return;
    }
    const api = { ...KEYCLOAK, version: versionOf(keycloak) };
    const version = /:(\d+\.\d+\.\d+)$/.exec(spec.image ?? '')?.[1];
    const distribution = version ? await distributions.get(version).catch(() => null) : null;
    if (!distribution) {
      await writeStatus(api, keycloak, {
        ...keycloakConditions(keycloak, {
          ready: false,
          rolling: alive,
          errors: `Waiting for ${namespace}/keycloak-0 due to ErrImagePull: ${spec.image} not found`,
        }),
      } as ObjectWithStatus['status']);
      return;
    }
    const clusterKey = `${namespace}/${spec.db?.host?.replace(/-rw$/, '')}`;
    const database = databases.get(clusterKey);
    const address = await keycloakAddress(namespace);
    if (!database || !address) return; // the pod would crash-loop until its database and Service exist

    await writeStatus(api, keycloak, {
      ...keycloakConditions(keycloak, { ready: false, rolling: alive }),
    } as ObjectWithStatus['status']);
    // The home's own loopback ports stay unused: this Keycloak listens on the Service's address.
    await prepareHome({
      version: distribution.version,
      name: namespace,
      paths,
      distribution,
      instancesDir: dir,
      portRange: { from: 40000, to: 40999 },
      stopTimeoutMs: 30_000,
      serialised,
      // Kubernetes regions refuse restores: a CR's database always starts empty.
      restored: false,
    });
    if (alive) await stopKeycloak(paths.home, 30_000);
    const user = await secretData(namespace, spec.db!.usernameSecret!.name);
    const password = await secretData(namespace, spec.db!.passwordSecret!.name);
    const tls = await secretData(namespace, spec.http!.tlsSecret!);
    const bootstrap = await secretData(namespace, spec.bootstrapAdmin!.user!.secret!);
    const certFile = path.join(paths.dir, 'tls.crt');
    const keyFile = path.join(paths.dir, 'tls.key');
    writeFileSync(certFile, tls['tls.crt']!, { mode: 0o600 });
    writeFileSync(keyFile, tls['tls.key']!, { mode: 0o600 });
    const conf: [string, string][] = [
      ['db-url', `jdbc:postgresql://${server.hostname}:${server.port || 5432}/${database.database}`],
      ['db-username', sqlName(`${namespace}_${user[spec.db!.usernameSecret!.key]}`)],
      ['db-password', password[spec.db!.passwordSecret!.key]!],
      ['http-enabled', 'false'],
      ['http-host', address],
      ['https-port', '443'],
      ['https-certificate-file', certFile],
      ['https-certificate-key-file', keyFile],
      ['http-management-port', '9000'],
      ['http-management-scheme', 'http'],
      ['hostname', spec.hostname!.hostname!],
      ['cache', 'local'],
      ['log', 'file'],
      ['log-file', paths.keycloakLog],
    ];
    mkdirSync(path.dirname(paths.keycloakLog), { recursive: true });
    writeFileSync(
      path.join(paths.home, 'conf', 'keycloak.conf'),
      conf.map(([k, v]) => `${k}=${escapeConfValue(v)}`).join('\n') + '\n',
      { mode: 0o600 },
    );
    await spawnKeycloak({
      home: paths.home,
      cwd: paths.dir,
      consoleLog: paths.consoleLog,
      pidFile: paths.pid,
      env: keycloakProcessEnv(distribution.javaHome, {
        JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m',
        KC_BOOTSTRAP_ADMIN_USERNAME: bootstrap.username!,
        KC_BOOTSTRAP_ADMIN_PASSWORD: bootstrap.password!,
      }),
    });
    starts.set(namespace, (starts.get(namespace) ?? 0) + 1);
    keycloaks.set(key(keycloak), { hash, generation });
    const waited = await waitForKeycloakReady({
      home: paths.home,
      managementPort: 9000,
      host: address,
      timeoutMs: readyTimeoutMs,
    });
    const latest = (await custom
      .getNamespacedCustomObject({ ...api, namespace, name: keycloak.metadata!.name! })
      .catch(() => null)) as ObjectWithStatus | null;
    if (!latest) return;
    if (waited.outcome !== 'ready') {
      keycloaks.delete(key(keycloak));
      await stopKeycloak(paths.home, 30_000);
      await writeStatus(api, latest, {
        ...keycloakConditions(latest, {
          ready: false,
          rolling: false,
          errors: `keycloak-0 ${waited.outcome}: ${logTail(paths.keycloakLog, 5)}`,
        }),
      } as ObjectWithStatus['status']);
      return;
    }
    // Ready for the generation it was started from; a newer spec is the next loop's business.
    await writeStatus(api, { ...latest, metadata: { ...latest.metadata, generation } }, {
      ...keycloakConditions(
        { ...latest, metadata: { ...latest.metadata, generation } },
        {
          ready: true,
          rolling: false,
        },
      ),
    } as ObjectWithStatus['status']);
    logger.info({ keycloak: key(keycloak), version }, 'Keycloak ready');
  }

  function versionOf(object: KubernetesObject) {
    return object.apiVersion!.split('/')[1]!;
  }

  async function removeKeycloak(keycloakKey: string) {
    const namespace = keycloakKey.split('/')[0]!;
    const paths = pathsOf(namespace);
    await stopKeycloak(paths.home, 30_000);
    rmSync(paths.dir, { recursive: true, force: true });
    keycloaks.delete(keycloakKey);
    logger.info({ keycloak: keycloakKey }, 'Keycloak stopped with its resource');
  }

  // ---- the loop --------------------------------------------------------------------------------------------------

  /** One job per object at a time; a Keycloak start does not hold up the others. */
  function once(id: string, work: () => Promise<void>) {
    if (busy.has(id)) return;
    const job = work()
      .catch((error: unknown) => logger.warn({ err: error, object: id }, 'stand-in reconcile failed'))
      .finally(() => busy.delete(id));
    busy.set(id, job);
  }

  async function listAll(api: { group: string; version: string; plural: string }) {
    const list = (await custom.listClusterCustomObject(api)) as { items: ObjectWithStatus[] };
    return list.items;
  }

  async function pass() {
    const clusters = await listAll({ ...CNPG, plural: 'clusters' });
    for (const cluster of clusters) once(`cluster:${key(cluster)}`, () => reconcileCluster(cluster));
    for (const backup of await listAll({ ...CNPG, plural: 'backups' }))
      once(`backup:${key(backup)}`, () => reconcileBackup(backup));
    for (const service of (await core.listServiceForAllNamespaces()).items)
      once(`service:${key(service)}`, () => reconcileService(service));
    const keycloakCrs = await listAll({ ...KEYCLOAK, version: 'v2beta1', plural: KEYCLOAK.plural }).catch(
      () => listAll({ ...KEYCLOAK, version: 'v2alpha1', plural: KEYCLOAK.plural }),
    );
    for (const keycloak of keycloakCrs) once(`keycloak:${key(keycloak)}`, () => reconcileKeycloak(keycloak));
    const liveKeycloaks = new Set(keycloakCrs.map(key));
    for (const known of [...keycloaks.keys()])
      if (!liveKeycloaks.has(known)) once(`keycloak:${known}`, () => removeKeycloak(known));
    const liveClusters = new Set(clusters.map(key));
    for (const known of [...databases.keys()])
      if (!liveClusters.has(known)) once(`cluster:${known}`, () => dropDatabase(known));
  }

  const loop = (async () => {
    while (!stopped) {
      await pass().catch((error: unknown) => logger.warn({ err: error }, 'stand-in pass failed'));
      await new Promise((resolve) => setTimeout(resolve, LOOP_MS));
    }
  })();

  return {
    keycloakProcesses: (namespace) => findKeycloakProcesses(pathsOf(namespace).home),
    keycloakStarts: (namespace) => starts.get(namespace) ?? 0,
    async databases() {
      const { rows } = await admin.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'kh\\_%' ORDER BY datname`,
      );
      return rows.map((row) => row.datname);
    },
    async stop() {
      stopped = true;
      await loop;
      // Stop every Keycloak first: a start in progress then ends at once instead of waiting for readiness.
      for (const entry of readdirSync(dir)) await stopKeycloak(pathsOf(entry).home, 30_000);
      await Promise.all(busy.values());
      for (const keycloakKey of [...keycloaks.keys()]) await removeKeycloak(keycloakKey);
      for (const clusterKey of [...databases.keys()]) await dropDatabase(clusterKey);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
