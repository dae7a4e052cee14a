import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ApiextensionsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { packageRoot } from '../../src/platform/package-root.js';
import { freePort, waitFor } from './edge-probes.js';

/**
 * A real Kubernetes control plane for the tests, on loopback: Debian's etcd, the real kube-apiserver, and the real
 * kube-controller-manager running only its namespace controller (it empties and removes deleted namespaces). Built
 * once per machine by scripts/build-kubernetes-control-plane.sh. Each call gets its own ports, certificates, tokens
 * and etcd data in a temp dir, with the CRDs of the Keycloak Operator and CloudNativePG installed and Established.
 * Nothing runs pods: no kubelet, no scheduler, no operators (the tests' stand-in plays the operators).
 */

const referenceDir = path.resolve(packageRoot, '..', 'shared', 'reference');
const CRD_FILES = {
  cnpg: ['clusters', 'backups', 'scheduledbackups'].map((name) =>
    path.join(referenceDir, 'cloudnative-pg-crds', 'v1.30.0', `postgresql.cnpg.io_${name}.yaml`),
  ),
  /** Keycloak 26.0.0: only v2alpha1. */
  keycloak26_0: [
    path.join(referenceDir, 'keycloak-operator-crds', '26.0.0', 'keycloaks.k8s.keycloak.org-v1.yml'),
  ],
};
/** The nightly CRD as the operator installs it: v2beta1 stored, v2alpha1 still served (one file per version here). */
const KEYCLOAK_NIGHTLY_VERSIONS = ['v2beta1', 'v2alpha1'].map((version) =>
  path.join(referenceDir, 'keycloak-operator-crds', 'nightly-2026-05', version, 'keycloaks.yaml'),
);

export type KeycloakCrdRelease = 'nightly' | '26.0.0';

export type TestKubernetes = {
  /** A kubeconfig (YAML) with a cluster-admin token for the API server. */
  kubeconfig: string;
  kubeconfigPath: string;
  server: string;
  /** A client for the test's own assertions. */
  config: KubeConfig;
  objects: KubernetesObjectApi;
  /** A token of a user without any role binding (for RBAC tests: bind what it may do). */
  tokenOf(user: 'limited'): string;
  stop(): Promise<void>;
};

function controlPlaneBinary(): string {
  return execFileSync('bash', [path.join(packageRoot, 'scripts', 'build-kubernetes-control-plane.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

function start(command: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log, log] });
  child.on('error', (error) => writeFileSync(logFile, `spawn failed: ${error.message}\n`, { flag: 'a' }));
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function httpsStatus(url: string, ca: Buffer, token: string): Promise<number | null> {
  return new Promise((resolve) => {
    const request = https.get(url, { ca, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? null);
    });
    // Refused while the server starts: not yet.
    request.on('error', () => resolve(null));
  });
}

/**
 * Into the client's typed models: it serialises known kinds by their models, and would drop keys written in wire
 * form such as `x-kubernetes-int-or-string` from plain objects.
 */
function readCrds(files: string[]): V1CustomResourceDefinition[] {
  return files.flatMap((file) =>
    (loadAllYaml(readFileSync(file, 'utf8')) as (V1CustomResourceDefinition | null)[]).filter(
      (crd): crd is V1CustomResourceDefinition => crd !== null,
    ),
  );
}

/** The two single-version files of the nightly release as the one CRD the operator ships. */
function keycloakNightlyCrd(): V1CustomResourceDefinition {
  const [beta, alpha] = KEYCLOAK_NIGHTLY_VERSIONS.map((file) => readCrds([file])[0]!);
  return { ...beta!, spec: { ...beta!.spec, versions: [...beta!.spec.versions, ...alpha!.spec.versions] } };
}

export async function startTestKubernetes(
  options: { keycloakCrds?: KeycloakCrdRelease } = {},
): Promise<TestKubernetes> {
  const binary = controlPlaneBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-kube-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    children.push(
      start(
        'etcd',
        [
          '--name=test',
          `--data-dir=${path.join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-cluster=test=http://127.0.0.1:${etcdPeerPort}`,
          // A throwaway store: no fsync (tests on a shared, slow disk).
          '--unsafe-no-fsync',
        ],
        path.join(dir, 'etcd.log'),
      ),
    );

    const adminToken = randomBytes(24).toString('base64url');
    const controllerToken = randomBytes(24).toString('base64url');
    const limitedToken = randomBytes(24).toString('base64url');
    writeFileSync(
      path.join(dir, 'tokens.csv'),
      [
        `${adminToken},test-admin,test-admin,"system:masters"`,
        `${controllerToken},system:kube-controller-manager,kcm,"system:masters"`,
        `${limitedToken},limited,limited`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(
      path.join(dir, 'service-accounts.key'),
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
      {
        mode: 0o600,
      },
    );
    const certDir = path.join(dir, 'certs');
    children.push(
      start(
        binary,
        [
          'kube-apiserver',
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${apiPort}`,
          `--cert-dir=${certDir}`,
          `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          '--service-account-issuer=https://kubernetes.default.svc',
          `--service-account-key-file=${path.join(dir, 'service-accounts.key')}`,
          `--service-account-signing-key-file=${path.join(dir, 'service-accounts.key')}`,
          // Cluster IPs from a loopback range of its own: the stand-in operators (stand-in-operators.ts) serve a
          // Service's Keycloak at its cluster IP, so the control plane's path to an instance stays on this host.
          `--service-cluster-ip-range=127.${100 + Math.floor(Math.random() * 150)}.0.0/16`,
          '--profiling=false',
        ],
        path.join(dir, 'kube-apiserver.log'),
      ),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = path.join(certDir, 'apiserver.crt');
    const kubeconfigFor = (user: string, token: string) => {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'test', server, caFile }],
        users: [{ name: user, token }],
        contexts: [{ name: 'test', cluster: 'test', user }],
        currentContext: 'test',
      });
      return config;
    };

    const apiserverLog = path.join(dir, 'kube-apiserver.log');
    await waitFor(
      async () => {
        for (const child of children)
          if (child.exitCode !== null)
            throw new Error(
              `${child.spawnargs[0]} exited: ${readFileSync(apiserverLog, 'utf8').slice(-2000)}`,
            );
        // The serving certificate (and its self-signed CA) is written on start, before the port opens.
        if (!existsSync(caFile)) return false;
        return (await httpsStatus(`${server}/readyz`, readFileSync(caFile), adminToken)) === 200;
      },
      60_000,
      `kube-apiserver ready (log: ${apiserverLog})`,
    );
    const config = kubeconfigFor('test-admin', adminToken);
    writeFileSync(path.join(dir, 'kubeconfig'), config.exportConfig(), { mode: 0o600 });
    const controllerConfig = kubeconfigFor('system:kube-controller-manager', controllerToken);
    writeFileSync(path.join(dir, 'controller-manager.kubeconfig'), controllerConfig.exportConfig(), {
      mode: 0o600,
    });
    children.push(
      start(
        binary,
        [
          'kube-controller-manager',
          `--kubeconfig=${path.join(dir, 'controller-manager.kubeconfig')}`,
          '--controllers=namespace',
          '--leader-elect=false',
          '--secure-port=0',
          '--concurrent-namespace-syncs=4',
        ],
        path.join(dir, 'kube-controller-manager.log'),
      ),
    );

    const crds = [
      ...readCrds(CRD_FILES.cnpg),
      ...(options.keycloakCrds === '26.0.0' ? readCrds(CRD_FILES.keycloak26_0) : [keycloakNightlyCrd()]),
    ];
    const objects = KubernetesObjectApi.makeApiClient(config);
    for (const crd of crds)
      await objects.patch(crd, undefined, undefined, 'keyhouse-tests', true, PatchStrategy.ServerSideApply);
    const extensions = config.makeApiClient(ApiextensionsV1Api);
    await waitFor(
      async () => {
        for (const crd of crds) {
          const current = await extensions.readCustomResourceDefinition({ name: crd.metadata!.name! });
          const established = current.status?.conditions?.find((c) => c.type === 'Established');
          if (established?.status !== 'True') return false;
        }
        return true;
      },
      30_000,
      'CRDs Established',
    );

    return {
      kubeconfig: config.exportConfig(),
      kubeconfigPath: path.join(dir, 'kubeconfig'),
      server,
      config,
      objects,
      tokenOf: () => limitedToken,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
