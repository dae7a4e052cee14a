import { X509Certificate, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { startEdge, type Edge } from '../../src/edge/edge-controller.js';
import {
  deleteEdgeRoute,
  getEdgeRoute,
  upsertEdgeRoute,
  type EdgeRouteInput,
} from '../../src/edge/edge-route-store.js';
import { findHaproxyProcesses, stopHaproxy } from '../../src/edge/haproxy-process.js';
import { openLocalCa, type LocalCa } from '../../src/edge/local-ca.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { ConflictError, UnavailableError, ValidationError } from '../../src/platform/errors.js';
import { createLogger } from '../../src/platform/logger.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { freePort, http2Get, httpsGet, probeTls, startEchoServer, waitFor } from '../support/edge-probes.js';
import { createTestDatabase } from '../support/test-database.js';
import { startTestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The edge with the real HAProxy (Debian's 2.6), driven from a scratch route table: an echo server stands in for
 * Keycloak (the provisioning tests run the real one behind it). Sources differ on loopback by address (127.0.0.1,
 * 127.0.0.2, …); edge-netns.test.ts repeats the refusal from separate network namespaces.
 */
const run = promisify(execFile);
const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });
const DAY_MS = 24 * 60 * 60 * 1000;
const RATE_LIMIT = { requests: 40, windowSeconds: 10 };
let database: { url: string; drop(): Promise<void> };
let db: Database;
let dataDir: string;
let ca: LocalCa;
let upstream: Awaited<ReturnType<typeof startEchoServer>>;
let edge: Edge;
// Certificates are first issued 61 days in the past, so that moving the clock to today puts them within their
// 30-day renewal window while every certificate stays valid for the real clock of the TLS clients.
let clock = Date.now() - 61 * DAY_MS;
let reloads = 0;

const startTestEdge = () =>
  startEdge({
    databaseUrl: database.url,
    dataDir,
    // "::" binds IPv4 and IPv6; IPv4 clients must still be matched (and forwarded) as IPv4.
    edge: { listenHost: '::', haproxy: 'haproxy', rateLimit: RATE_LIMIT },
    ca,
    openSealed: createSecretBox({ secretKey: null, dataDir: dataDir }).open,
    logger,
    keyhouseVersion: 'test',
    now: () => new Date(clock),
    onReload: () => reloads++,
  });

beforeAll(async () => {
  database = await createTestDatabase();
  db = connectDatabase(database.url);
  await migrate(db);
  dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-test-'));
  ca = await openLocalCa(path.join(dataDir, 'ca'), { now: () => new Date(clock) });
  upstream = await startEchoServer();
  edge = await startTestEdge();
});

afterAll(async () => {
  await edge?.stopHaproxy();
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
    adminSources: ['127.0.0.1/32'],
    listenPort: await freePort(),
    ...overrides,
  };
}

const PORTS = { from: 18000, to: 18999 };
/** A new or deleted route means a reload: 0.2–0.5 s on the test machine with a dozen routes, under load more. */
const RELOAD_MS = 5_000;
const serving = (instanceId: string, version: number) => () =>
  edge
    .status()
    .routes.some((r) => r.instanceId === instanceId && r.version === version && r.state === 'serving');
const workerPids = () => edge.status().haproxy?.workers ?? [];

describe('edge (HAProxy)', () => {
  it('serves a new route over TLS with a CA-issued certificate, HTTP/2 and X-Forwarded-* of its own', async () => {
    const input = await newRoute();
    const route = await upsertEdgeRoute(db, input, { portRange: PORTS });
    const took = await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    console.info(`edge test: a new route served ${Math.round(took)} ms after its commit`);

    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      path: '/realms/master?x=1',
      // A client's own claims must not pass: the edge is the one that knows the source.
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
        'x-real-ip': '203.0.113.9',
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
    expect(echoed.headers).not.toHaveProperty('x-real-ip');
    const peer = (answer.socket as TLSSocket).getPeerX509Certificate();
    expect(peer?.subjectAltName).toBe(`DNS:${route.hostname}`);
    expect(peer?.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);

    const viaHttp2 = await http2Get({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      path: '/realms/master',
    });
    expect(viaHttp2).toMatchObject({ status: 200, alpn: 'h2' });
    expect((JSON.parse(viaHttp2.body) as { headers: Record<string, string> }).headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'https',
    });
  });

  it('refuses sources outside the allowlist with zero bytes, changes it live without a reload, and ends what the source had open', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const probe = {
      host: '127.0.0.1',
      port: route.listenPort,
      servername: route.hostname,
      ca: ca.certificatePem,
    };
    const allowed = await probeTls(probe);
    expect(allowed.secured).toBe(true);
    expect(allowed.bytesReceived).toBeGreaterThan(0);
    // 127.0.0.2 is loopback too, but not trusted: not a single byte, not even a TLS alert.
    expect(await probeTls({ ...probe, localAddress: '127.0.0.2' })).toMatchObject({
      secured: false,
      bytesReceived: 0,
    });
    const workers = workerPids();

    // An open keep-alive connection of the soon-refused source, and a long request of it in flight.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      httpsGet({
        port: route.listenPort,
        hostname: route.hostname,
        ca: ca.certificatePem,
        agent,
        path: '/realms/x',
      });
    expect((await get()).status).toBe(200);
    const inFlight = https.get({
      host: '127.0.0.1',
      port: route.listenPort,
      path: '/realms/hold',
      servername: route.hostname,
      ca: ca.certificatePem,
      headers: { host: route.hostname },
      agent: false,
    });
    let inFlightEnded = false;
    inFlight.on('response', (response) => {
      response.resume();
      response.once('close', () => (inFlightEnded = true));
    });
    inFlight.once('error', () => (inFlightEnded = true));

    // Widened, still including 127.0.0.1: the open connection survives and is reused; no reload for any of this.
    const widened = await upsertEdgeRoute(
      db,
      { ...route, trustedSources: ['127.0.0.1/32', '192.0.2.0/24'] },
      { portRange: PORTS },
    );
    await waitFor(serving(route.instanceId, widened.version), 1_000, 'widened allowlist active');
    const second = await get();
    expect(second.status).toBe(200);
    expect(second.reusedSocket).toBe(true);

    // 127.0.0.1 excluded: within 1 s new connections get nothing at all; the request in flight is cut, and the
    // kept-alive connection is closed on its next request without an answer.
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
    await waitFor(() => inFlightEnded, 1_000, 'the request in flight ended');
    await expect(get()).rejects.toMatchObject({ code: 'ECONNRESET' });
    for (let i = 0; i < 5; i++) {
      expect(await probeTls(probe)).toMatchObject({ secured: false, bytesReceived: 0 });
    }
    expect((await edge.counters(route.instanceId)).refusedConnections).toBeGreaterThanOrEqual(6);
    agent.destroy();

    // And back: allowed again within 1 s.
    await upsertEdgeRoute(db, { ...route, trustedSources: ['127.0.0.0/8'] }, { portRange: PORTS });
    await waitFor(async () => (await probeTls(probe)).secured, 1_000, 'allowed again');
    expect(workerPids()).toEqual(workers);
  });

  it('keeps /admin/ and the admin REST API to the admin sources and never exposes /metrics or /health', async () => {
    const route = await upsertEdgeRoute(
      db,
      await newRoute({ trustedSources: ['127.0.0.0/8'], adminSources: ['127.0.0.3/32'] }),
      { portRange: PORTS },
    );
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const status = async (pathname: string, localAddress: string) =>
      (
        await httpsGet({
          port: route.listenPort,
          hostname: route.hostname,
          ca: ca.certificatePem,
          path: pathname,
          localAddress,
        })
      ).status;
    const login = '127.0.0.1';
    const admin = '127.0.0.3';
    for (const open of [
      '/realms/kd500001/protocol/openid-connect/token',
      '/realms/master/.well-known/openid-configuration',
      '/resources/abc/login/keycloak.v2/css/styles.css',
      '/.well-known/openid-configuration',
      '/robots.txt',
    ]) {
      expect(await status(open, login), open).toBe(200);
    }
    for (const adminOnly of [
      '/admin/master/console/',
      '/admin/realms/master/users',
      '/',
      '/admin',
      '/%61dmin/',
    ]) {
      expect(await status(adminOnly, login), adminOnly).toBe(403);
      expect(await status(adminOnly, admin), adminOnly).toBe(200);
    }
    for (const sneaky of ['/realms/../admin/realms/master/users', '/realms/%2e%2e/admin/', '/realms/x/.']) {
      expect(await status(sneaky, login), sneaky).toBe(400);
      expect(await status(sneaky, admin), sneaky).toBe(400);
    }
    for (const never of ['/metrics', '/health', '/health/ready', '/metrics/']) {
      expect(await status(never, admin), never).toBe(404);
    }

    // Admin sources changed live: 127.0.0.1 becomes one, 127.0.0.3 stops being one.
    const changed = await upsertEdgeRoute(
      db,
      { ...route, adminSources: ['127.0.0.1/32'] },
      { portRange: PORTS },
    );
    await waitFor(serving(route.instanceId, changed.version), 1_000, 'admin sources changed');
    expect(await status('/admin/master/console/', login)).toBe(200);
    expect(await status('/admin/master/console/', admin)).toBe(403);
  });

  it('limits requests per source and instance: 429 with Retry-After, other sources and instances unaffected', async () => {
    const route = await upsertEdgeRoute(db, await newRoute({ trustedSources: ['127.0.0.0/8'] }), {
      portRange: PORTS,
    });
    const other = await upsertEdgeRoute(db, await newRoute({ trustedSources: ['127.0.0.0/8'] }), {
      portRange: PORTS,
    });
    await waitFor(serving(other.instanceId, other.version), RELOAD_MS, 'routes serving');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    const get = (target: typeof route, localAddress = '127.0.0.1') =>
      httpsGet({
        port: target.listenPort,
        hostname: target.hostname,
        ca: ca.certificatePem,
        path: '/realms/x',
        agent: localAddress === '127.0.0.1' ? agent : undefined,
        localAddress,
      });
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT.requests + 5; i++) statuses.push((await get(route)).status);
    expect(statuses.slice(0, RATE_LIMIT.requests).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(RATE_LIMIT.requests)).toEqual(Array(5).fill(429));
    const limited = await get(route);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe(String(RATE_LIMIT.windowSeconds));
    expect((await get(route, '127.0.0.4')).status).toBe(200);
    expect((await get(other)).status).toBe(200);
    agent.destroy();
  });

  it('renews a certificate before its end and swaps it in without a reload or a dropped connection', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const before = edge.status().routes.find((r) => r.instanceId === route.instanceId)!.certificate!;
    const workers = workerPids();
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      httpsGet({
        port: route.listenPort,
        hostname: route.hostname,
        ca: ca.certificatePem,
        agent,
        path: '/realms/x',
      });
    const first = await get();
    expect((first.socket as TLSSocket).getPeerX509Certificate()?.serialNumber).toBe(before.serial);

    // Today, the 90-day certificate issued 61 days ago is within its 30-day renewal window.
    clock = Date.now();
    await edge.resync();
    const after = edge.status().routes.find((r) => r.instanceId === route.instanceId)!.certificate!;
    expect(after.serial).not.toBe(before.serial);
    expect(Date.parse(after.notAfter)).toBeGreaterThan(Date.parse(before.notAfter));
    const fresh = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
      path: '/realms/x',
    });
    expect((fresh.socket as TLSSocket).getPeerX509Certificate()?.serialNumber).toBe(after.serial);
    // The connection opened before the renewal goes on working, on the same worker.
    const again = await get();
    expect(again.status).toBe(200);
    expect(again.reusedSocket).toBe(true);
    expect(workerPids()).toEqual(workers);
    agent.destroy();
  });

  it('stops serving a deleted route; the others never notice the reload', async () => {
    const keep = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const workers = workerPids();
    const reloadsBefore = reloads;

    expect(await deleteEdgeRoute(db, route.instanceId)).toBe(true);
    expect(await deleteEdgeRoute(db, route.instanceId)).toBe(false);
    const took = await waitFor(
      async () => {
        const result = await probeTls({
          host: '127.0.0.1',
          port: route.listenPort,
          servername: route.hostname,
          ca: ca.certificatePem,
        });
        return result.error === 'ECONNREFUSED';
      },
      RELOAD_MS,
      'listener closed',
    );
    console.info(`edge test: a deleted route refused ${Math.round(took)} ms after its commit`);
    await waitFor(
      () => !edge.status().routes.some((r) => r.instanceId === route.instanceId),
      RELOAD_MS,
      'route gone from the status',
    );
    expect(workerPids()).not.toEqual(workers);
    expect(reloads).toBeGreaterThan(reloadsBefore); // what keyhouse_edge_reloads_total counts
    expect(
      (await httpsGet({ port: keep.listenPort, hostname: keep.hostname, ca: ca.certificatePem })).status,
    ).toBe(200);
    // Its files are gone with it.
    expect(() =>
      readFileSync(path.join(dataDir, 'edge', 'sources', `${route.instanceId}.trusted`)),
    ).toThrow();
  });

  it('answers 503 from the edge itself when the instance is down', async () => {
    const route = await upsertEdgeRoute(db, await newRoute({ upstreamPort: await freePort() }), {
      portRange: PORTS,
    });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const answer = await httpsGet({
      port: route.listenPort,
      hostname: route.hostname,
      ca: ca.certificatePem,
    });
    expect(answer.status).toBe(503);
  });

  it('marks a route whose port another program holds as failed and serves it once the port is free', async () => {
    const blocker = net.createServer();
    const port = await freePort('0.0.0.0');
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    const keep = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    const route = await upsertEdgeRoute(db, await newRoute({ listenPort: port }), { portRange: PORTS });
    await waitFor(
      () => edge.status().routes.some((r) => r.instanceId === route.instanceId && r.state === 'failed'),
      RELOAD_MS,
      'route failed',
    );
    expect(edge.status().routes.find((r) => r.instanceId === route.instanceId)?.error).toContain(
      String(port),
    );
    expect(edge.status().routes.find((r) => r.instanceId === keep.instanceId)?.state).toBe('serving');
    await new Promise((resolve) => blocker.close(resolve));
    await edge.resync();
    expect(edge.status().routes.find((r) => r.instanceId === route.instanceId)?.state).toBe('serving');
    expect(
      (await httpsGet({ port, hostname: route.hostname, ca: ca.certificatePem, path: '/realms/x' })).status,
    ).toBe(200);
  });

  it('keeps serving without its database connection and catches up after reconnecting', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'keyhouse-edge' AND datname = current_database()`,
    );
    await waitFor(() => !edge.status().databaseConnected, 5_000, 'edge noticed the lost connection');
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
    await waitFor(serving(route.instanceId, changed.version), 10_000, 'change applied after reconnect');
    expect(edge.status().databaseConnected).toBe(true);
  });

  it('starts HAProxy again within seconds when it dies', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const configFile = path.join(dataDir, 'edge', 'haproxy.cfg');
    for (const { pid } of findHaproxyProcesses(configFile)) process.kill(pid, 'SIGKILL');
    const took = await waitFor(
      async () =>
        (
          await probeTls({
            host: '127.0.0.1',
            port: route.listenPort,
            servername: route.hostname,
            ca: ca.certificatePem,
          })
        ).secured,
      10_000,
      'HAProxy serving again',
    );
    console.info(`edge test: HAProxy serving again ${Math.round(took)} ms after SIGKILL`);
  });
});

describe('edge (HAProxy) across Keyhouse restarts', () => {
  it('close() leaves HAProxy serving; the next edge adopts it without a reload and keeps open connections', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    const workers = workerPids();
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      httpsGet({
        port: route.listenPort,
        hostname: route.hostname,
        ca: ca.certificatePem,
        agent,
        path: '/realms/x',
      });
    expect((await get()).status).toBe(200);

    const took = performance.now();
    await edge.close();
    expect(performance.now() - took).toBeLessThan(1_000);
    expect((await get()).reusedSocket).toBe(true);

    edge = await startTestEdge();
    expect(edge.status().haproxy?.workers).toEqual(workers);
    expect(edge.status().routes.find((r) => r.instanceId === route.instanceId)?.state).toBe('serving');
    const again = await get();
    expect(again.status).toBe(200);
    expect(again.reusedSocket).toBe(true);
    agent.destroy();
  });
});

describe('edge (HAProxy) without its database', () => {
  it('serves the configuration on disk at once, and brings a killed HAProxy back from it', async () => {
    const route = await upsertEdgeRoute(db, await newRoute(), { portRange: PORTS });
    await waitFor(serving(route.instanceId, route.version), RELOAD_MS, 'route serving');
    await edge.close();
    const configFile = path.join(dataDir, 'edge', 'haproxy.cfg');
    await stopHaproxy(configFile);
    const get = () =>
      httpsGet({
        port: route.listenPort,
        hostname: route.hostname,
        ca: ca.certificatePem,
        path: '/realms/x',
      });

    const offline = await startEdge({
      databaseUrl: 'postgres://keyhouse@127.0.0.1:1/nowhere',
      dataDir,
      edge: { listenHost: '::', haproxy: 'haproxy', rateLimit: RATE_LIMIT },
      ca,
      openSealed: createSecretBox({ secretKey: null, dataDir: dataDir }).open,
      logger,
      keyhouseVersion: 'test',
    });
    try {
      expect(offline.status().databaseConnected).toBe(false);
      expect((await get()).status).toBe(200);
      for (const { pid } of findHaproxyProcesses(configFile)) process.kill(pid, 'SIGKILL');
      await waitFor(
        async () => (await get().catch(() => ({ status: 0 }))).status === 200,
        10_000,
        'served again',
      );
    } finally {
      await offline.close();
      edge = await startTestEdge();
    }
  });
});

describe('a start without HAProxy', () => {
  it('fails at once with one message that says what to install, before starting anything', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-no-haproxy-'));
    try {
      const config = path.join(dir, 'keyhouse.yaml');
      writeFileSync(config, 'edge:\n  haproxy: haproxy-not-installed-here\n');
      const started = performance.now();
      const result = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: packageRoot,
        env: { PATH: process.env.PATH, KEYHOUSE_CONFIG: config, DATA_DIR: path.join(dir, 'data') },
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toEqual([
        'The edge needs HAProxy 2.6 or newer, and "haproxy-not-installed-here" was not found. ' +
          "Install Debian's package (apt-get install haproxy) or point edge.haproxy in the configuration at the program.",
      ]);
      // Nothing was started: no embedded PostgreSQL, no data dir lock.
      expect(existsSync(path.join(dir, 'data'))).toBe(false);
      console.info(
        `edge test: a start without HAProxy ended after ${Math.round(performance.now() - started)} ms`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('edge route store', () => {
  it('allocates the lowest free port, keeps it across updates and never hands one out twice', async () => {
    const range = { from: 21000 + Math.floor(Math.random() * 100) * 10, to: 0 };
    range.to = range.from + 5;
    const inputs = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const { listenPort: _ignored, ...rest } = await newRoute({ trustedSources: [], adminSources: [] });
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
    const adminChanged = await upsertEdgeRoute(
      db,
      { ...inputs[0]!, upstreamPort: 1, adminSources: ['10.0.0.0/8'] },
      { portRange: range },
    );
    expect(adminChanged.version).toBeGreaterThan(moved.version);

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
        { ...b, hostname: 'Not A Host', trustedSources: ['10.0.0.0/33'], adminSources: ['x'] },
        { portRange: PORTS },
      ),
    ).rejects.toMatchObject({
      errors: [
        { path: 'hostname' },
        { path: 'trustedSources', message: '"10.0.0.0/33" is not a CIDR range.' },
        { path: 'adminSources', message: '"x" is not a CIDR range.' },
      ],
    });
    await expect(
      upsertEdgeRoute(db, { ...b, adminSources: ['x'] }, { portRange: PORTS }),
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
