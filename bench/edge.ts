/**
 * The edge's cost: one Keycloak, reached (a) directly over its own TLS listener and (b) through the edge (HAProxy:
 * TLS there, plain HTTP on loopback to the same Keycloak), side by side in one run, on the cheapest endpoint (the
 * realm's OpenID configuration document) and on client-credentials token grants, each with keep-alive connections
 * and with a new connection (a full TLS handshake) per request. Goal from issue 10: through the edge ≥ 0.95× the
 * direct throughput, p99 latency added ≤ 1 ms.
 *
 * Usage: npx tsx bench/edge.ts [seconds per run, default 8] [connections, default 16]
 *
 * Set-up (removed again at the end): the tests' built distribution cache (testKeycloakCache), a bare Keycloak as the
 * local driver starts one (cp -al home, renderKeycloakSettings for b2-4) plus an HTTPS listener with an EC P-256
 * certificate of a scratch local CA (the same kind the edge serves), a realm "bench" with a confidential client,
 * its own database and role on the machine's PostgreSQL at 127.0.0.1:5432 (BENCH_SERVER_URL), and the edge
 * controller with one route on a scratch route table there, rate limit raised out of the way (its stick table
 * still counts every request). Every cell runs twice in A-B-B-A order (direct, edge, edge, direct) after a warm-up
 * of both; the figures are the means of the two runs. Throughput with 16 connections (and the CPU time Keycloak
 * and HAProxy spend per request, from /proc), added latency with 1 connection (at 16, latency is mostly queueing on
 * 2 CPUs). The load generator is this process (Node's https client), on the same 2 CPUs as Keycloak and HAProxy,
 * so its CPU share is printed too.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import pg from 'pg';
import { loadConfig } from '../src/config/load-config.js';
import { connectDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { renderKeycloakSettings } from '../src/drivers/local/keycloak-config.js';
import {
  createKeycloakDistributions,
  keycloakProcessEnv,
} from '../src/drivers/local/keycloak-distribution.js';
import { findKeycloakProcesses, stopKeycloak } from '../src/drivers/local/keycloak-process.js';
import { createSecretBox } from '../src/platform/secret-box.js';
import { runCommand } from '../src/platform/process-runner.js';
import { startEdge } from '../src/edge/edge-controller.js';
import { upsertEdgeRoute } from '../src/edge/edge-route-store.js';
import { findHaproxyProcesses } from '../src/edge/haproxy-process.js';
import { openLocalCa } from '../src/edge/local-ca.js';
import { createLogger } from '../src/platform/logger.js';
import { testKeycloakCache } from '../test/support/test-keyhouse.js';

const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';
const SECONDS = Number(process.argv[2] ?? 8);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const HOSTNAME = 'kc-bench.localhost';
const REALM = 'bench';
const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
const cleanups: (() => Promise<void>)[] = [];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---- the load generator ----------------------------------------------------------------------------------------

type Target = { name: 'direct' | 'edge'; port: number; ca: string };
type Call = { method: 'GET' | 'POST'; path: string; body?: string; contentType?: string };
type Figures = {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  clientCpu: number;
  /** CPU time per request, in ms, of Keycloak's JVM and of HAProxy's processes. */
  keycloakCpuMs: number;
  haproxyCpuMs: number;
};

/** User plus system CPU seconds of `pids` so far (/proc/<pid>/stat fields 14 and 15, in 1/100 s). */
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/** The server side's processes, looked up per run (HAProxy's worker changes on a reload). */
let serverPids: () => { keycloak: number[]; haproxy: number[] } = () => ({ keycloak: [], haproxy: [] });

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `connections` loops, each sending the next request when the previous one is answered, for `seconds`. */
async function measure(
  target: Target,
  call: Call,
  keepAlive: boolean,
  seconds: number,
  connections: number,
): Promise<Figures> {
  const agent = keepAlive ? new https.Agent({ keepAlive: true, maxSockets: connections }) : false;
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const servers = serverPids();
  const keycloakBefore = cpuSeconds(servers.keycloak);
  const haproxyBefore = cpuSeconds(servers.haproxy);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const request = https.request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: call.path,
          method: call.method,
          servername: HOSTNAME,
          ca: target.ca,
          agent,
          headers: {
            host: `${HOSTNAME}:${target.port}`,
            ...(call.body
              ? { 'content-type': call.contentType!, 'content-length': Buffer.byteLength(call.body) }
              : {}),
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            if (response.statusCode === 200) latencies.push(performance.now() - sent);
            else errors++;
            resolve();
          });
        },
      );
      request.on('error', () => {
        errors++;
        resolve();
      });
      request.end(call.body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const perRequestMs = (seconds: number) => (latencies.length ? (seconds * 1000) / latencies.length : NaN);
  if (agent) agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    keycloakCpuMs: perRequestMs(cpuSeconds(servers.keycloak) - keycloakBefore),
    haproxyCpuMs: perRequestMs(cpuSeconds(servers.haproxy) - haproxyBefore),
  };
}

const mean = (a: Figures, b: Figures): Figures => ({
  requests: a.requests + b.requests,
  errors: a.errors + b.errors,
  perSecond: (a.perSecond + b.perSecond) / 2,
  p50: (a.p50 + b.p50) / 2,
  p99: (a.p99 + b.p99) / 2,
  clientCpu: (a.clientCpu + b.clientCpu) / 2,
  keycloakCpuMs: (a.keycloakCpuMs + b.keycloakCpuMs) / 2,
  haproxyCpuMs: (a.haproxyCpuMs + b.haproxyCpuMs) / 2,
});

// ---- set-up ----------------------------------------------------------------------------------------------------

async function startKeycloak(ca: Awaited<ReturnType<typeof openLocalCa>>, dir: string) {
  const config = loadConfig({ DATA_DIR: dir });
  const version = config.catalog.serviceTypes[0]!.versions[0]!;
  const distribution = await createKeycloakDistributions({ config, logger, cacheDir: testKeycloakCache }).get(
    version,
  );
  const home = path.join(dir, 'keycloak');
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  cleanups.push(async () => {
    if (findKeycloakProcesses(home).length) await stopKeycloak(home, 30_000);
    await withAdmin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS ${name}`);
    });
  });
  const copy = await runCommand('cp', ['-al', distribution.home, home]);
  if (copy.code !== 0) throw new Error(copy.tail);
  for (const writable of ['conf', 'data']) {
    rmSync(path.join(home, writable), { recursive: true, force: true });
    const source = path.join(distribution.home, writable);
    if (existsSync(source)) await runCommand('cp', ['-a', source, path.join(home, writable)]);
    else mkdirSync(path.join(home, writable));
  }
  await withAdmin(async (client) => {
    await client.query(`CREATE ROLE ${name} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    await client.query(`CREATE DATABASE ${name} OWNER ${name} ENCODING 'UTF8'`);
  });
  const server = new URL(serverUrl);
  const ports = { httpPort: await freePort(), managementPort: await freePort(), httpsPort: await freePort() };
  const settings = renderKeycloakSettings({
    instance: {
      name,
      nodeSize: { id: 'b2-4', vcpu: 2, memoryGb: 4 },
      secrets: { adminPassword: password, databasePassword: password },
    },
    ports,
    publicUrl: `https://${HOSTNAME}`,
    database: { host: server.hostname || '127.0.0.1', port: Number(server.port || 5432), name, user: name },
    logFile: path.join(dir, 'logs', 'keycloak.log'),
    javaHome: distribution.javaHome,
    maxHeapMb: 1024,
    responseTimeBuckets: true,
  });
  // Keycloak's own TLS, with a certificate of the same kind the edge serves.
  const certificate = await ca.issueServerCertificate(HOSTNAME);
  writeFileSync(path.join(dir, 'tls.crt'), certificate.certPem);
  writeFileSync(path.join(dir, 'tls.key'), certificate.keyPem, { mode: 0o600 });
  const conf = path.join(home, 'conf', 'keycloak.conf');
  writeFileSync(
    conf,
    `${settings.conf}https-port=${ports.httpsPort}\n` +
      `https-certificate-file=${path.join(dir, 'tls.crt')}\nhttps-certificate-key-file=${path.join(dir, 'tls.key')}\n`,
  );
  chmodSync(conf, 0o600);
  const child = spawn(path.join(home, 'bin', 'kc.sh'), ['start', '--optimized'], {
    cwd: dir,
    detached: true,
    stdio: 'ignore',
    env: keycloakProcessEnv(distribution.javaHome, {
      ...settings.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: 'bench-admin',
      KC_BOOTSTRAP_ADMIN_PASSWORD: password,
    }),
  });
  await once(child, 'spawn');
  child.unref();
  // The management interface inherits the TLS settings of the main one: /health/ready is HTTPS now.
  const healthReady = () =>
    new Promise<boolean>((resolve) => {
      const request = https.get(
        {
          host: '127.0.0.1',
          port: ports.managementPort,
          path: '/health/ready',
          servername: HOSTNAME,
          ca: ca.certificatePem,
          timeout: 2_000,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        },
      );
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
  const deadline = performance.now() + 10 * 60_000;
  while (!(await healthReady())) {
    if (performance.now() > deadline) throw new Error('Keycloak not ready within 10 minutes');
    await delay(500);
  }
  const admin = new KcAdminClient({ baseUrl: `http://127.0.0.1:${ports.httpPort}`, realmName: 'master' });
  await admin.auth({ grantType: 'password', clientId: 'admin-cli', username: 'bench-admin', password });
  await admin.realms.create({ realm: REALM, enabled: true });
  const secret = randomBytes(24).toString('base64url');
  await admin.clients.create({
    realm: REALM,
    clientId: 'bench',
    secret,
    publicClient: false,
    serviceAccountsEnabled: true,
    standardFlowEnabled: false,
  });
  return { version, ports, client: { id: 'bench', secret } };
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-bench-edge-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const ca = await openLocalCa(path.join(dir, 'ca'));
  const scratch = `keyhouse_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${scratch}`));
  cleanups.push(() =>
    withAdmin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`))),
  );
  const db = connectDatabase(`${serverUrl}/${scratch}`);
  cleanups.push(() => db.close());
  await migrate(db);

  console.log('starting Keycloak (a first start creates its schema: a minute or two) …');
  const keycloak = await startKeycloak(ca, dir);
  serverPids = () => ({
    keycloak: findKeycloakProcesses(path.join(dir, 'keycloak')),
    haproxy: findHaproxyProcesses(path.join(dir, 'edge', 'haproxy.cfg')).map((p) => p.pid),
  });
  const edge = await startEdge({
    databaseUrl: `${serverUrl}/${scratch}`,
    dataDir: dir,
    edge: {
      listenHost: '127.0.0.1',
      haproxy: 'haproxy',
      rateLimit: { requests: 10_000_000, windowSeconds: 10 },
    },
    ca,
    openSealed: createSecretBox({ secretKey: null, dataDir: dir }).open,
    logger,
    keyhouseVersion: 'bench',
  });
  cleanups.push(() => edge.stopHaproxy());
  const route = await upsertEdgeRoute(
    db,
    {
      instanceId: randomUUID(),
      hostname: HOSTNAME,
      upstreamHost: '127.0.0.1',
      upstreamPort: keycloak.ports.httpPort,
      trustedSources: ['127.0.0.1/32'],
      adminSources: ['127.0.0.1/32'],
      listenPort: await freePort(),
    },
    { portRange: { from: 1024, to: 65535 } },
  );
  for (
    let i = 0;
    edge.status().routes.find((r) => r.instanceId === route.instanceId)?.state !== 'serving';
    i++
  ) {
    if (i > 200) throw new Error('the edge did not serve the route');
    await delay(50);
  }

  const targets: Target[] = [
    { name: 'direct', port: keycloak.ports.httpsPort, ca: ca.certificatePem },
    { name: 'edge', port: route.listenPort, ca: ca.certificatePem },
  ];
  const calls: { name: string; call: Call }[] = [
    {
      name: 'well-known document',
      call: { method: 'GET', path: `/realms/${REALM}/.well-known/openid-configuration` },
    },
    {
      name: 'client-credentials token',
      call: {
        method: 'POST',
        path: `/realms/${REALM}/protocol/openid-connect/token`,
        contentType: 'application/x-www-form-urlencoded',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: keycloak.client.id,
          client_secret: keycloak.client.secret,
        }).toString(),
      },
    },
  ];
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  console.log(
    `Keycloak ${keycloak.version}, HAProxy via the edge, ${CONNECTIONS} connections, ${SECONDS} s per run, ` +
      `A-B-B-A; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${load}\n`,
  );
  console.log('warming up …');
  for (const { call } of calls)
    for (const target of targets)
      for (const keepAlive of [true, false]) await measure(target, call, keepAlive, 3, CONNECTIONS);

  /** direct, edge, edge, direct: drift of a shared machine hits both sides alike; the means of the two runs. */
  async function abba(call: Call, keepAlive: boolean, connections: number) {
    const [direct, edge] = targets as [Target, Target];
    const d1 = await measure(direct, call, keepAlive, SECONDS, connections);
    const e1 = await measure(edge, call, keepAlive, SECONDS, connections);
    const e2 = await measure(edge, call, keepAlive, SECONDS, connections);
    const d2 = await measure(direct, call, keepAlive, SECONDS, connections);
    console.log(
      `  ${connections} connection(s), ${keepAlive ? 'keep-alive' : 'new connections'}: runs direct ` +
        `${d1.perSecond.toFixed(0)}, edge ${e1.perSecond.toFixed(0)}, edge ${e2.perSecond.toFixed(0)}, direct ` +
        `${d2.perSecond.toFixed(0)} req/s; load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
    return { d: mean(d1, d2), e: mean(e1, e2) };
  }
  const mode = (keepAlive: boolean) => (keepAlive ? 'keep-alive' : 'new connection each');
  const ms = (value: number) => value.toFixed(2);

  const throughput: string[][] = [];
  const latency: string[][] = [];
  for (const { name, call } of calls) {
    for (const keepAlive of [true, false]) {
      console.log(`${name}, ${mode(keepAlive)}:`);
      const { d, e } = await abba(call, keepAlive, CONNECTIONS);
      throughput.push([
        name,
        mode(keepAlive),
        d.perSecond.toFixed(0),
        e.perSecond.toFixed(0),
        `**${(e.perSecond / d.perSecond).toFixed(2)}**`,
        `${ms(d.keycloakCpuMs)} / ${ms(e.keycloakCpuMs)} + ${ms(e.haproxyCpuMs)}`,
        `${d.errors}/${e.errors}`,
        `${(d.clientCpu * 100).toFixed(0)}% / ${(e.clientCpu * 100).toFixed(0)}%`,
      ]);
      const single = await abba(call, keepAlive, 1);
      latency.push([
        name,
        mode(keepAlive),
        `${ms(single.d.p50)} / ${ms(single.d.p99)}`,
        `${ms(single.e.p50)} / ${ms(single.e.p99)}`,
        `**${ms(single.e.p99 - single.d.p99)}**`,
        `${ms(d.p50)} / ${ms(d.p99)}`,
        `${ms(e.p50)} / ${ms(e.p99)}`,
      ]);
    }
  }
  const table = (header: string[], rows: string[][]) =>
    `| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n` +
    rows.map((row) => `| ${row.join(' | ')} |`).join('\n');
  console.log(
    `\nThroughput, ${CONNECTIONS} connections (means of two runs each):\n\n` +
      table(
        [
          'endpoint',
          'connections',
          'direct req/s',
          'edge req/s',
          'ratio (goal ≥ 0.95)',
          'CPU ms per request: Keycloak direct / Keycloak + HAProxy via edge',
          'errors d/e',
          'load generator CPU d/e',
        ],
        throughput,
      ),
  );
  console.log(
    `\nLatency (ms), 1 connection, and at ${CONNECTIONS} connections for comparison:\n\n` +
      table(
        [
          'endpoint',
          'connections',
          'direct p50 / p99',
          'edge p50 / p99',
          'p99 added (goal ≤ 1 ms)',
          `direct p50 / p99 at ${CONNECTIONS}`,
          `edge p50 / p99 at ${CONNECTIONS}`,
        ],
        latency,
      ),
  );
}

async function cleanUp() {
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((error: unknown) => console.error('clean-up failed:', error));
  }
  cleanups.length = 0;
}
// Interrupted: Keycloak, HAProxy and the scratch databases go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().then(() => process.exit(130)));
}
try {
  await main();
} finally {
  await cleanUp();
}
