import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { startEdge, type Edge } from '../../src/edge/edge-controller.js';
import { deleteEdgeRoute, upsertEdgeRoute } from '../../src/edge/edge-route-store.js';
import { openLocalCa } from '../../src/edge/local-ca.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort, httpsGet, probeTls, startEchoServer, waitFor } from '../support/edge-probes.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * Two edges from the same routes, as a provider runs them on two hosts: each its own data dir (with a copy of the
 * CA), its own HAProxy and its own listen address, one route table. Here both hosts are this one, told apart by
 * loopback address (127.0.0.2 and 127.0.0.3), so the same port serves on both.
 */
const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });

describe('two edges on two hosts from the same routes', () => {
  let database: { url: string; drop(): Promise<void> };
  let db: Database;
  const dirs: string[] = [];
  const edges: { edge: Edge; address: string }[] = [];
  let upstream: Awaited<ReturnType<typeof startEchoServer>>;
  let ca: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = connectDatabase(database.url);
    await migrate(db);
    upstream = await startEchoServer();
    const first = mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-host-a-'));
    const second = mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-host-b-'));
    dirs.push(first, second);
    ca = (await openLocalCa(path.join(first, 'ca'))).certificatePem;
    // The second host gets a copy of the first one's CA: both issue certificates clients already trust.
    cpSync(path.join(first, 'ca'), path.join(second, 'ca'), { recursive: true });
    for (const [dataDir, address] of [
      [first, '127.0.0.2'],
      [second, '127.0.0.3'],
    ] as const) {
      const edge = await startEdge({
        databaseUrl: database.url,
        dataDir,
        edge: { listenHost: address, haproxy: 'haproxy', rateLimit: { requests: 1000, windowSeconds: 10 } },
        ca: await openLocalCa(path.join(dataDir, 'ca')),
        openSealed: createSecretBox({ secretKey: null, dataDir: dataDir }).open,
        logger,
        keyhouseVersion: 'test',
      });
      edges.push({ edge, address });
    }
  });

  afterAll(async () => {
    for (const { edge } of edges) await edge.stopHaproxy();
    await upstream?.close();
    await db?.close();
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves a route on both hosts, changes its allowlist on both within 1 s and removes it from both', async () => {
    const instanceId = randomUUID();
    const route = await upsertEdgeRoute(
      db,
      {
        instanceId,
        hostname: `kc-${instanceId.slice(0, 8)}.localhost`,
        upstreamHost: '127.0.0.1',
        upstreamPort: upstream.port,
        trustedSources: ['127.0.0.1/32'],
        adminSources: ['127.0.0.1/32'],
        listenPort: await freePort(),
      },
      { portRange: { from: 18000, to: 18999 } },
    );
    for (const { edge, address } of edges) {
      await waitFor(
        () => edge.status().routes.some((r) => r.instanceId === instanceId && r.state === 'serving'),
        5_000,
        `serving on ${address}`,
      );
      const answer = await httpsGet({
        host: address,
        port: route.listenPort,
        hostname: route.hostname,
        ca,
        path: '/realms/x',
      });
      expect(answer.status).toBe(200);
    }

    await upsertEdgeRoute(
      db,
      { ...route, trustedSources: ['192.0.2.0/24'] },
      { portRange: { from: 18000, to: 18999 } },
    );
    const took = await waitFor(
      async () => {
        const probes = await Promise.all(
          edges.map(({ address }) =>
            probeTls({ host: address, port: route.listenPort, servername: route.hostname, ca }),
          ),
        );
        return probes.every((p) => !p.secured && p.bytesReceived === 0);
      },
      1_000,
      'refused on both hosts',
    );
    expect(took).toBeLessThan(1_000);

    await deleteEdgeRoute(db, instanceId);
    await waitFor(
      async () => {
        const probes = await Promise.all(
          edges.map(({ address }) =>
            probeTls({ host: address, port: route.listenPort, servername: route.hostname, ca }),
          ),
        );
        return probes.every((p) => p.error === 'ECONNREFUSED');
      },
      5_000,
      'closed on both hosts',
    );
  });
});
