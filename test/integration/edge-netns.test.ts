import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { startEdge, type Edge } from '../../src/edge/edge-controller.js';
import { upsertEdgeRoute, type EdgeRoute } from '../../src/edge/edge-route-store.js';
import { openLocalCa } from '../../src/edge/local-ca.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort, startEchoServer, waitFor, type RawProbe } from '../support/edge-probes.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * The trusted-source check of the edge (the real HAProxy) seen from real, distinct source addresses: two network
 * namespaces ("inside" and "outside"), each joined to this host by a veth pair on a random private /30 that exists
 * only on that pair, so all traffic stays on this machine. Needs root (ip netns); the namespaces and links are
 * removed again in afterAll.
 *
 * Runs in the embedded-database project only: the database flavour adds nothing here, and one run keeps the host's
 * interface list tidy.
 */
const run = promisify(execFile);

function netnsUsable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const embeddedProject = process.env.KEYHOUSE_TEST_DATABASE === 'embedded';
const usable = netnsUsable();
if (embeddedProject && !usable) {
  console.warn(
    'edge-netns.test.ts skipped: creating network namespaces needs root and iproute2 (`ip netns`).',
  );
}

/** Runs in a namespace; never throws, reports the exit code (curl's tells why a connection failed). */
async function inNamespace(
  namespace: string,
  command: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('ip', ['netns', 'exec', namespace, ...command], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(error),
    };
  }
}

// The byte-exact probe, run by node inside a namespace: bytes the server sent on the TCP socket, handshake or not.
// With a condition ("refused" or "secured") it probes every 10 ms until the condition holds and reports the wall
// clock of that moment (shared with the test on this host), so the time an allowlist change takes is measured
// without the cost of starting a process per look.
const PROBE = `
const net = require('node:net'), tls = require('node:tls'), fs = require('node:fs');
const [host, port, servername, caFile, until, deadlineMs] = process.argv.slice(2);
const ca = fs.readFileSync(caFile, 'utf8');
function probe() {
  return new Promise((resolve) => {
    const raw = net.connect({ host, port: Number(port) });
    let secured = false, error = null;
    const timer = setTimeout(() => raw.destroy(new Error('probe timed out')), 5000);
    raw.once('connect', () => {
      const secure = tls.connect({ socket: raw, servername, ca });
      secure.once('secureConnect', () => { secured = true; secure.destroy(); });
      secure.on('error', (e) => { error = error || e.code || e.message; });
    });
    raw.on('error', (e) => { error = error || e.code || e.message; });
    raw.once('close', () => {
      clearTimeout(timer);
      resolve({ bytesReceived: raw.bytesRead, secured, error, at: Date.now() });
    });
  });
}
(async () => {
  const deadline = Date.now() + Number(deadlineMs || 0);
  for (;;) {
    const result = await probe();
    const holds = until === 'refused' ? !result.secured && result.bytesReceived === 0 : result.secured;
    if (!until || holds || Date.now() > deadline) return console.log(JSON.stringify({ ...result, holds }));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
})();
`;

type Side = { namespace: string; hostLink: string; hostAddress: string; address: string };

describe.runIf(embeddedProject && usable)('edge trusted sources across network namespaces', () => {
  const suffix = randomBytes(3).toString('hex');
  const cleanups: (() => Promise<unknown>)[] = [];
  const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });
  let database: { url: string; drop(): Promise<void> };
  let db: Database;
  let edge: Edge;
  let workDir: string;
  let caFile: string;
  let route: EdgeRoute;
  let inside: Side;
  let outside: Side;

  /** Two adjacent /30s in 10.200.0.0/13 that no interface of this host uses yet. */
  async function pickSubnets(): Promise<[string, string]> {
    const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
    for (let attempt = 0; attempt < 50; attempt++) {
      const prefix = `10.${200 + Math.floor(Math.random() * 8)}.${Math.floor(Math.random() * 256)}`;
      const base = Math.floor(Math.random() * 32) * 8;
      if (!stdout.includes(` ${prefix}.`)) return [`${prefix}.${base}`, `${prefix}.${base + 4}`];
    }
    throw new Error('No free private /30 found for the test namespaces.');
  }

  async function createSide(role: 'in' | 'out', network: string): Promise<Side> {
    const octets = network.split('.').map(Number);
    const at = (offset: number) => [...octets.slice(0, 3), octets[3]! + offset].join('.');
    const side: Side = {
      namespace: `kh-${role}-${suffix}`,
      hostLink: `kh${role[0]}h-${suffix}`,
      hostAddress: at(1),
      address: at(2),
    };
    const nsLink = `kh${role[0]}n-${suffix}`;
    await run('ip', ['netns', 'add', side.namespace]);
    cleanups.push(() => run('ip', ['netns', 'del', side.namespace]));
    await run('ip', [
      'link',
      'add',
      side.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      nsLink,
      'netns',
      side.namespace,
    ]);
    // Deleting one end of a veth pair deletes both.
    cleanups.push(() => run('ip', ['link', 'del', side.hostLink]));
    await run('ip', ['addr', 'add', `${side.hostAddress}/30`, 'dev', side.hostLink]);
    await run('ip', ['link', 'set', side.hostLink, 'up']);
    await run('ip', ['-n', side.namespace, 'addr', 'add', `${side.address}/30`, 'dev', nsLink]);
    await run('ip', ['-n', side.namespace, 'link', 'set', nsLink, 'up']);
    await run('ip', ['-n', side.namespace, 'link', 'set', 'lo', 'up']);
    return side;
  }

  beforeAll(async () => {
    const [inNet, outNet] = await pickSubnets();
    inside = await createSide('in', inNet);
    outside = await createSide('out', outNet);

    workDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-netns-'));
    cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
    const ca = await openLocalCa(path.join(workDir, 'ca'));
    caFile = path.join(workDir, 'ca', 'ca.pem');
    writeFileSync(path.join(workDir, 'probe.cjs'), PROBE);

    database = await createTestDatabase();
    cleanups.push(() => database.drop());
    db = connectDatabase(database.url);
    cleanups.push(() => db.close());
    await migrate(db);
    const upstream = await startEchoServer();
    cleanups.push(() => upstream.close());
    edge = await startEdge({
      databaseUrl: database.url,
      dataDir: workDir,
      edge: { listenHost: '0.0.0.0', haproxy: 'haproxy', rateLimit: { requests: 1000, windowSeconds: 10 } },
      ca,
      openSealed: createSecretBox({ secretKey: null, dataDir: workDir }).open,
      logger,
      keyhouseVersion: 'test',
    });
    cleanups.push(() => edge.stopHaproxy());

    const instanceId = randomUUID();
    route = await upsertEdgeRoute(
      db,
      {
        instanceId,
        hostname: `kc-${instanceId.slice(0, 8)}.localhost`,
        upstreamHost: '127.0.0.1',
        upstreamPort: upstream.port,
        trustedSources: [`${inside.address}/32`],
        adminSources: [`${inside.address}/32`],
        listenPort: await freePort('0.0.0.0'),
      },
      { portRange: { from: 18000, to: 18999 } },
    );
    await waitFor(
      () => edge.status().routes.some((r) => r.instanceId === instanceId && r.state === 'serving'),
      1_000,
      'route serving',
    );
  }, 60_000);

  afterAll(async () => {
    // In reverse order, each step on its own: a failed step must not leave namespaces or links behind.
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  /** curl from a namespace to the edge at the host's address on that namespace's link. */
  const curl = (side: Side) =>
    inNamespace(side.namespace, [
      'curl',
      '--silent',
      '--show-error',
      '--noproxy',
      '*',
      '--max-time',
      '5',
      '--cacert',
      caFile,
      '--resolve',
      `${route.hostname}:${route.listenPort}:${side.hostAddress}`,
      `https://${route.hostname}:${route.listenPort}/realms/master`,
    ]);

  type Probe = RawProbe & { at: number; holds: boolean };
  /** One probe, or with `until` probes until it holds (or `deadlineMs` passed) and says when. */
  const probe = async (side: Side, until?: 'refused' | 'secured', deadlineMs = 5_000): Promise<Probe> => {
    const result = await inNamespace(side.namespace, [
      process.execPath,
      path.join(workDir, 'probe.cjs'),
      side.hostAddress,
      String(route.listenPort),
      route.hostname,
      caFile,
      ...(until ? [until, String(deadlineMs)] : []),
    ]);
    if (result.code !== 0) throw new Error(`probe failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as Probe;
  };

  // curl: 35 = TLS handshake failed (connection closed), 56 = failure receiving (connection reset), 7 = the reset
  // came before curl looked at its connected socket. That it was HAProxy refusing (not a missing listener) shows in
  // HAProxy's count of refused connections, checked beside.
  const refusedByCurl = (code: number) => code === 35 || code === 56 || code === 7;
  const refusedCount = async () => (await edge.counters(route.instanceId)).refusedConnections;

  it('answers the trusted namespace and closes the other one with zero bytes', async () => {
    const allowed = await curl(inside);
    expect(allowed.code, allowed.stderr).toBe(0);
    const echoed = JSON.parse(allowed.stdout) as { url: string; headers: Record<string, string> };
    expect(echoed.url).toBe('/realms/master');
    expect(echoed.headers['x-forwarded-for']).toBe(inside.address);
    expect(echoed.headers['x-forwarded-proto']).toBe('https');

    const counted = await refusedCount();
    const refused = await curl(outside);
    expect(refusedByCurl(refused.code), `curl exit ${refused.code}: ${refused.stderr}`).toBe(true);
    expect(await refusedCount()).toBe(counted + 1);
    expect(refused.stdout).toBe('');
    expect(await probe(outside)).toMatchObject({ bytesReceived: 0, secured: false });
    const control = await probe(inside);
    expect(control.secured).toBe(true);
    expect(control.bytesReceived).toBeGreaterThan(0);
  });

  it('swaps the roles within 1 s of a changed allowlist', async () => {
    // Both sides watch from their namespace before the change; each reports when it first saw its new fate.
    const refusedBefore = await refusedCount();
    const watchers = Promise.all([probe(inside, 'refused', 10_000), probe(outside, 'secured', 10_000)]);
    // The outside watcher runs once HAProxy counts its refused probes.
    await waitFor(async () => (await refusedCount()) > refusedBefore, 5_000, 'watchers probing');
    const before = Date.now();
    const swapped = await upsertEdgeRoute(
      db,
      { ...route, trustedSources: [`${outside.address}/32`], adminSources: [`${outside.address}/32`] },
      { portRange: { from: 18000, to: 18999 } },
    );
    expect(swapped.version).toBeGreaterThan(route.version);
    const [insideRefused, outsideAdmitted] = await watchers;
    expect(insideRefused).toMatchObject({ holds: true, bytesReceived: 0, secured: false });
    expect(outsideAdmitted).toMatchObject({ holds: true, secured: true });
    const took = Math.max(insideRefused.at, outsideAdmitted.at) - before;
    console.info(
      `netns test: allowlist swap effective for both namespaces ${took} ms after the change began`,
    );
    expect(took).toBeLessThan(1_000);

    const counted = await refusedCount();
    expect(refusedByCurl((await curl(inside)).code)).toBe(true);
    expect(await refusedCount()).toBe(counted + 1);
    const fromOutside = JSON.parse((await curl(outside)).stdout) as { headers: Record<string, string> };
    expect(fromOutside.headers['x-forwarded-for']).toBe(outside.address);
    expect(await probe(inside)).toMatchObject({ bytesReceived: 0, secured: false });
    expect((await probe(outside)).secured).toBe(true);
  });
});
