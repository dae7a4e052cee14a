import { X509Certificate, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { startEdgeGateway, type EdgeGateway } from '../../src/edge/edge-gateway.js';
import {
  deleteEdgeRoute,
  getEdgeRoute,
  upsertEdgeRoute,
  type EdgeRouteInput,
} from '../../src/edge/edge-route-store.js';
import { openLocalCa, type LocalCa } from '../../src/edge/local-ca.js';
import { ConflictError, UnavailableError, ValidationError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort, httpsGet, probeTls, startEchoServer, waitFor } from '../support/edge-probes.js';
import { createTestDatabase } from '../support/test-database.js';
import { startTestKeyhouse } from '../support/test-keyhouse.js';

const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });
let database: { url: string; drop(): Promise<void> };
let db: Database;
let dataDir: string;
let ca: LocalCa;
let upstream: { port: number; close(): Promise<void> };
let gateway: EdgeGateway;

beforeAll(async () => {
  database = await createTestDatabase();
  db = connectDatabase(database.url);
  await migrate(db);
  dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-test-'));
  ca = await openLocalCa(path.join(dataDir, 'ca'));
  upstream = await startEchoServer();
  // "::" makes IPv4 clients appear as ::ffff:127.0.0.1, the form the source check must unwrap.
  gateway = await startEdgeGateway({ databaseUrl: database.url, edge: { listenHost: '::' }, ca, logger });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await db?.close();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function newRoute(
  overrides: Partial<EdgeRouteInput> = {},
): Promise<EdgeRouteInput & { listenPort: number }> {
  const instanceId = randomUUID();
  return {
    instanceId,
    hostname: `kc-${instanceId.slice(0, 8)}.localhost`,
    upstreamHost: '127.0.0.1',
    upstreamPort: upstream.port,
    trustedSources: ['127.0.0.1/32'],
    listenPort: await freePort(),
    ...overrides,
  };
}

const PORTS = { from: 18000, to: 18999 };
const listening = (instanceId: string, version: number) => () =>
  gateway
    .status()
    .routes.some((r) => r.instanceId === instanceId && r.version === version && r.state === 'listening');

describe('edge gateway', () => {
  it('opens a new route within 1 s and proxies over TLS with a CA-issued certificate and X-Forwarded-*', async () => {
    const input = await newRoute();
    const route = await upsertEdgeRoute(db, input, { portRange: PORTS });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');

    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      path: '/realms/master?x=1',
      // A client's own claims must not pass: the edge is the one that knows the source.
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=1.2.3.4',
      },
    });
    expect(answer.status).toBe(200);
    const echoed = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
    expect(echoed.url).toBe('/realms/master?x=1');
    expect(echoed.headers).toMatchObject({
      host: `${route.hostname}:${route.listenPort}`,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': `${route.hostname}:${route.listenPort}`,
      'x-forwarded-port': String(route.listenPort),
    });
    expect(echoed.headers).not.toHaveProperty('forwarded');
    const peer = (answer.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
    expect(peer?.subjectAltName).toBe(`DNS:${route.hostname}`);
  });

  it('refuses sources outside the allowlist with zero bytes, live, and revokes their open connections', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');
    const probe = {
      host: '127.0.0.1',
      port: route.listenPort,
      servername: route.hostname,
      ca: ca.certificatePem,
    };
    const allowed = await probeTls(probe);
    expect(allowed.secured).toBe(true);
    expect(allowed.bytesReceived).toBeGreaterThan(0);

    // An open keep-alive connection of the soon-refused source.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      agent,
    });
    expect(first.status).toBe(200);
    let keptAliveClosed = false;
    first.socket.once('close', () => (keptAliveClosed = true));

    // Still allowed after a change that keeps 127.0.0.1: the open connection survives and is reused.
    const widened = await upsertEdgeRoute(
      db,
      { ...route, trustedSources: ['127.0.0.1/32', '192.0.2.0/24'] },
      { portRange: PORTS },
    );
    await waitFor(listening(route.instanceId, widened.version), 1_000, 'widened allowlist active');
    const second = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      agent,
    });
    expect(second.status).toBe(200);
    expect(second.reusedSocket).toBe(true);
    expect(keptAliveClosed).toBe(false);

    // Exclude 127.0.0.1: within 1 s new connections get nothing at all, and the open one is cut.
    const narrowed = await upsertEdgeRoute(
      db,
      { ...route, trustedSources: ['192.0.2.0/24'] },
      { portRange: PORTS },
    );
    expect(narrowed.version).toBeGreaterThan(widened.version);
    const took = await waitFor(
      async () => {
        const result = await probeTls(probe);
        return !result.secured && result.bytesReceived === 0;
      },
      1_000,
      'new connections refused',
    );
    expect(took).toBeLessThan(1_000);
    await waitFor(() => keptAliveClosed, 1_000, 'kept-alive connection revoked');
    for (let i = 0; i < 5; i++) {
      const refused = await probeTls(probe);
      expect(refused).toMatchObject({ secured: false, bytesReceived: 0 });
    }
    expect(
      gateway.status().routes.find((r) => r.instanceId === route.instanceId)?.refusedConnections,
    ).toBeGreaterThan(0);
    agent.destroy();

    // And back: allowed again within 1 s.
    await upsertEdgeRoute(db, { ...route, trustedSources: ['127.0.0.0/8'] }, { portRange: PORTS });
    await waitFor(async () => (await probeTls(probe)).secured, 1_000, 'allowed again');
  });

  it('closes the listener and its connections when the route is deleted', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      agent,
    });
    let closed = false;
    answer.socket.once('close', () => (closed = true));

    expect(await deleteEdgeRoute(db, route.instanceId)).toBe(true);
    expect(await deleteEdgeRoute(db, route.instanceId)).toBe(false);
    await waitFor(
      async () => {
        const result = await probeTls({
          host: '127.0.0.1',
          port: route.listenPort,
          servername: route.hostname,
          ca: ca.certificatePem,
        });
        return result.error === 'ECONNREFUSED';
      },
      1_000,
      'listener closed',
    );
    await waitFor(() => closed, 1_000, 'open connection ended');
    expect(gateway.status().routes.some((r) => r.instanceId === route.instanceId)).toBe(false);
    agent.destroy();
  });

  it('answers 502 from the edge itself when the instance is down', async () => {
    const route = await upsertEdgeRoute(db, await newRoute({ upstreamPort: await freePort() }), {
      portRange: PORTS,
    });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');
    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
    });
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('Bad gateway');
  });

  it('keeps serving without its database connection and catches up after reconnecting', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'keyhouse-edge' AND datname = current_database()`,
    );
    await waitFor(() => !gateway.status().databaseConnected, 5_000, 'edge noticed the lost connection');
    const meanwhile = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
    });
    expect(meanwhile.status).toBe(200);

    const changed = await upsertEdgeRoute(
      db,
      { ...route, trustedSources: ['192.0.2.1/32'] },
      { portRange: PORTS },
    );
    await waitFor(listening(route.instanceId, changed.version), 10_000, 'change applied after reconnect');
    expect(gateway.status().databaseConnected).toBe(true);
  });
});

describe('edge gateway shutdown', () => {
  it('close() ends open connections and returns promptly (and is safe to repeat)', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(listening(route.instanceId, route.version), 1_000, 'route listening');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      agent,
    });
    let closed = false;
    answer.socket.once('close', () => (closed = true));
    const took = performance.now();
    await gateway.close();
    expect(performance.now() - took).toBeLessThan(1_000);
    await waitFor(() => closed, 1_000, 'kept-alive connection ended');
    await gateway.close();
    agent.destroy();
  });
});

describe('edge route store', () => {
  it('allocates the lowest free port, keeps it across updates and never hands one out twice', async () => {
    const range = { from: 21000 + Math.floor(Math.random() * 100) * 10, to: 0 };
    range.to = range.from + 5;
    const inputs = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const { listenPort: _ignored, ...rest } = await newRoute({ trustedSources: [] });
        return rest;
      }),
    );
    const routes = await Promise.all(inputs.map((input) => upsertEdgeRoute(db, input, { portRange: range })));
    expect(new Set(routes.map((r) => r.listenPort))).toEqual(
      new Set(Array.from({ length: 6 }, (_, i) => range.from + i)),
    );

    const first = routes[0]!;
    const again = await upsertEdgeRoute(db, inputs[0]!, { portRange: range });
    expect(again).toEqual(first); // unchanged: same port, same version, no notification churn
    const moved = await upsertEdgeRoute(db, { ...inputs[0]!, upstreamPort: 1 }, { portRange: range });
    expect(moved.listenPort).toBe(first.listenPort);
    expect(moved.version).toBeGreaterThan(first.version);

    const { listenPort: _p, ...extra } = await newRoute();
    await expect(upsertEdgeRoute(db, extra, { portRange: range })).rejects.toBeInstanceOf(UnavailableError);
    await deleteEdgeRoute(db, routes[3]!.instanceId);
    expect((await upsertEdgeRoute(db, extra, { portRange: range })).listenPort).toBe(routes[3]!.listenPort);
    for (const route of [...routes, { instanceId: extra.instanceId }])
      await deleteEdgeRoute(db, route.instanceId);
  });

  it('refuses a taken host name, a taken port and malformed input with domain errors', async () => {
    const a = await upsertEdgeRoute(db, await newRoute({ trustedSources: [] }), { portRange: PORTS });
    const b = await newRoute({ trustedSources: [] });
    await expect(
      upsertEdgeRoute(db, { ...b, hostname: a.hostname }, { portRange: PORTS }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      upsertEdgeRoute(db, { ...b, listenPort: a.listenPort }, { portRange: PORTS }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      upsertEdgeRoute(
        db,
        { ...b, hostname: 'Not A Host', trustedSources: ['10.0.0.0/33'] },
        { portRange: PORTS },
      ),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await getEdgeRoute(db, b.instanceId)).toBeUndefined();
    await deleteEdgeRoute(db, a.instanceId);
  });
});

describe('GET /api/v1/ca.pem', () => {
  it('serves the CA certificate of the data dir, publicly, as a PEM file', async () => {
    const keyhouse = await startTestKeyhouse();
    try {
      const response = await keyhouse.request({ method: 'GET', url: '/api/v1/ca.pem' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/x-pem-file');
      expect(response.body).toBe(readFileSync(path.join(keyhouse.config.dataDir, 'ca', 'ca.pem'), 'utf8'));
      expect(new X509Certificate(response.body).ca).toBe(true);
      const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
      expect(document.paths['/api/v1/ca.pem'].get.operationId).toBe('getCaCertificate');
    } finally {
      await keyhouse.stop();
    }
  });
});
