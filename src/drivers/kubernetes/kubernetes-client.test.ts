import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubernetesClient, KubernetesUnreachable } from './kubernetes-client.js';

// What the driver sees of a cluster that does not answer: a clear error within the request deadline, never a hang.
// Loopback only: a port nobody listens on, and a listener that accepts and then stays silent.

function kubeConfigFor(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return config;
}

const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kh-kc-00000001' } };

describe('an unreachable cluster', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

  it('refusing connections: KubernetesUnreachable naming the object and the server', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const client = createKubernetesClient(kubeConfigFor(`https://127.0.0.1:${port}`));
    const error = await client.apply(namespace).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubernetesUnreachable);
    expect((error as Error).message).toMatch(
      new RegExp(`^Namespace kh-kc-00000001: no answer from https://127.0.0.1:${port}: .*ECONNREFUSED`),
    );
  });

  it('accepting and staying silent: KubernetesUnreachable once the request deadline passes', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      sockets.forEach((socket) => socket.destroy());
      silent.close();
    });
    const { port } = silent.address() as net.AddressInfo;
    const client = createKubernetesClient(kubeConfigFor(`https://127.0.0.1:${port}`), {
      requestTimeoutMs: 300,
    });
    const started = performance.now();
    const error = await client.keycloakApi().catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(KubernetesUnreachable);
    expect((error as Error).message).toBe(
      `CustomResourceDefinition keycloaks.k8s.keycloak.org: no answer from https://127.0.0.1:${port}: nothing within 300 ms`,
    );
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(5_000);
  });
});
