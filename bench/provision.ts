/**
 * Provisioning speed, from one run: the order-to-DONE time of a warm-pool order (p50 of 5, each claiming a ready
 * member of a pool of two) and of a cold order (b2-4, local region, no pool), beside a bare `kc.sh start --optimized`
 * of the same built distribution to /health/ready, the ratios (goals: warm ≤ 10 s, cold ≤ 1.0 × bare), the idle RSS
 * of the instance's Keycloak, and where the platform's own time goes (accepted → processing, each step).
 *
 * Usage: npx tsx bench/provision.ts [version] [warm orders]   (default: the catalog's first Keycloak version, 5;
 * 0 warm orders measures the cold order and the bare start only)
 *
 * Keyhouse runs in this process (api, worker and edge roles) on a scratch database of the machine's PostgreSQL at
 * 127.0.0.1:5432 (BENCH_SERVER_URL names another superuser URL without database), with the tests' built
 * distribution cache (testKeycloakCache; built first if missing, outside the measurement). The bare start is
 * set up as the local driver does it: a `cp -al` home with real conf/ and data/, its own fresh database and role on
 * the same server, the settings and JVM options of renderKeycloakSettings, the bootstrap admin of a first start.
 * It runs before and after the orders, so they see neither a colder nor a warmer machine than the baseline. The
 * warm orders run on a Keyhouse of their own (its own scratch database) whose region keeps a warm pool of two: each
 * order is placed when the pool is full again, so it claims a member, while the refiller builds the next one beside
 * it (as in production). Everything created is removed again.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { createKeyhouse } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { renderKeycloakSettings } from '../src/drivers/local/keycloak-config.js';
import {
  createKeycloakDistributions,
  keycloakProcessEnv,
  type KeycloakDistribution,
} from '../src/drivers/local/keycloak-distribution.js';
import { findKeycloakProcesses, stopKeycloak } from '../src/drivers/local/keycloak-process.js';
import { prometheusFiles } from '../src/metrics/prometheus-files.js';
import { stopPrometheus } from '../src/metrics/prometheus-process.js';
import { runCommand } from '../src/platform/process-runner.js';
import { createLogger } from '../src/platform/logger.js';
import { testKeycloakCache } from '../test/support/test-keyhouse.js';

const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';
const cacheDir = testKeycloakCache;
/** The local driver's default heap cap per instance (LocalDriverOptions.maxHeapMb). */
const DRIVER_MAX_HEAP_MB = 1024;
const NODE_SIZE = { id: 'b2-4', vcpu: 2, memoryGb: 4 };
/** Warm-pool orders measured; the figure is their p50. */
const WARM_ORDERS = 5;

const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const cleanups: (() => Promise<void>)[] = [];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024);
}

async function healthReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch (error) {
    // Not listening yet (fetch's TypeError) or not answering in time (TimeoutError): not ready.
    if (error instanceof TypeError || (error instanceof DOMException && error.name === 'TimeoutError'))
      return false;
    throw error;
  }
}

/** Keycloak's own account of its start (the log's "started in 12.345s"), and whether it migrated a schema. */
function keycloakStartedIn(logFile: string): string {
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const startedIn = /started in ([\d.]+)s/.exec(log)?.[1];
  const migrated = log.includes('Initializing database schema') ? 'with' : 'without';
  return `${startedIn ?? '?'} s by its log, ${migrated} a schema migration`;
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

// ---- (b) a bare kc.sh start --optimized --------------------------------------------------------------------------

async function bareStart(distribution: KeycloakDistribution, label: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-bench-bare-'));
  const home = path.join(dir, 'keycloak');
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  const cleanup = async () => {
    if (findKeycloakProcesses(home).length) await stopKeycloak(home, 30_000);
    await withAdmin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS ${name}`);
    });
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(cleanup);

  // The home as the driver makes it: hard links, with real copies of the directories Keycloak writes to.
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
    await client.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
  });
  const server = new URL(serverUrl);
  const ports = { httpPort: await freePort(), managementPort: await freePort() };
  const settings = renderKeycloakSettings({
    instance: { name, nodeSize: NODE_SIZE, secrets: { adminPassword: password, databasePassword: password } },
    ports,
    publicUrl: `https://${name.replace('_', '-')}.localhost:18000`,
    database: { host: server.hostname || '127.0.0.1', port: Number(server.port || 5432), name, user: name },
    logFile: path.join(dir, 'logs', 'keycloak.log'),
    javaHome: distribution.javaHome,
    maxHeapMb: DRIVER_MAX_HEAP_MB,
    responseTimeBuckets: true,
  });
  const conf = path.join(home, 'conf', 'keycloak.conf');
  writeFileSync(conf, settings.conf);
  chmodSync(conf, 0o600);

  const started = performance.now();
  const child = spawn(path.join(home, 'bin', 'kc.sh'), ['start', '--optimized'], {
    cwd: dir,
    detached: true,
    stdio: 'ignore',
    env: keycloakProcessEnv(distribution.javaHome, {
      ...settings.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: 'bench-bootstrap',
      KC_BOOTSTRAP_ADMIN_PASSWORD: password,
    }),
  });
  await once(child, 'spawn');
  child.unref();
  const deadline = started + 10 * 60_000;
  while (!(await healthReady(ports.managementPort))) {
    if (performance.now() > deadline) throw new Error(`bare Keycloak (${label}) not ready in 10 minutes`);
    if (child.exitCode !== null) throw new Error(`bare Keycloak (${label}) exited with ${child.exitCode}`);
    await delay(100);
  }
  const readyMs = performance.now() - started;
  const [pid] = findKeycloakProcesses(home);
  const rss = pid ? rssMb(pid) : 0;
  const keycloakSays = keycloakStartedIn(path.join(dir, 'logs', 'keycloak.log'));
  await cleanup();
  cleanups.splice(cleanups.indexOf(cleanup), 1);
  return { readyMs, rssAtReadyMb: rss, keycloakSays };
}

// ---- (a) one order through Keyhouse ----------------------------------------------------------------------------

type Step = { name: string; status: string; startedAt: string; finishedAt: string | null };

/** A Keyhouse in this process on a scratch database, with a signed-up customer's API token. */
async function benchKeyhouse(warmPool: { version: string; count: number } | undefined) {
  const scratch = `keyhouse_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${scratch}`));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-bench-provision-'));
  const databaseUrl = `${serverUrl}/${scratch}`;
  /** Filled in as soon as known, so that the clean-up removes whatever exists. */
  const instances: { instanceId: string; name: string }[] = [];
  const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: databaseUrl });
  if (warmPool) {
    const region = config.catalog.regions[0]!;
    region.warmPool = [{ version: warmPool.version, nodeSize: NODE_SIZE.id, count: warmPool.count }];
    region.capacity = { maxInstances: 20, concurrentOrders: 2 };
  }
  config.roles = ['api', 'worker', 'edge'];
  // The cold order makes its version's template before it is placed (coldOrder); no other version's meanwhile.
  config.keycloak.schemaTemplatesAtStart = false;
  config.edge.listenHost = '127.0.0.1';
  const base = 20000 + Math.floor(Math.random() * 20000);
  config.edge.portRange = { from: base, to: base + 20 };
  config.keycloak.portRange = { from: base + 100, to: base + 140 };
  const keyhouse = await createKeyhouse({
    config,
    databaseUrl,
    adminDatabaseUrl: databaseUrl,
    logger,
    distributionCacheDir: cacheDir,
  });
  const destroy = (instance: { instanceId: string; name: string }) =>
    keyhouse.localBackend!.driver.destroy(instance, async () => undefined);
  const cleanup = async () => {
    await keyhouse.warmPool?.stop();
    const { rows: members } = await keyhouse.db.pool.query<{ instanceId: string; name: string }>(
      `SELECT id AS "instanceId", name FROM warm_pool_members WHERE state <> 'claimed'`,
    );
    for (const instance of [...instances, ...members]) await destroy(instance);
    await keyhouse.close();
    // HAProxy and Prometheus outlive Keyhouse by design; the bench's data dir takes them with it.
    await keyhouse.edge?.stopHaproxy();
    await stopPrometheus(prometheusFiles(dataDir));
    await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`));
    rmSync(dataDir, { recursive: true, force: true });
  };
  cleanups.push(cleanup);

  const signup = await keyhouse.http.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { email: 'bench@example.com', password: 'benchmark password', organizationName: 'Bench GmbH' },
  });
  const cookie = signup.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const token = (
    await keyhouse.http.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { cookie, 'x-csrf-token': signup.json<{ csrfToken: string }>().csrfToken },
      payload: { name: 'bench' },
    })
  ).json<{ token: string }>().token;
  return { keyhouse, config, databaseUrl, token, instances, destroy, cleanup };
}
type BenchKeyhouse = Awaited<ReturnType<typeof benchKeyhouse>>;

/** One order through the API, from the request to `done`, with its steps. */
async function orderToDone(bench: BenchKeyhouse, version: string) {
  const { keyhouse, config, databaseUrl, token } = bench;
  const created: { orderId?: string } = {};
  // Every order change is announced on order_events: note the wall-clock time of each status as it happens.
  const listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  await listener.query('LISTEN order_events');
  const seen = new Map<string, number>();
  let wake: (() => void) | undefined;
  const look = async () => {
    const orderId = created.orderId;
    if (!orderId) return;
    const { rows } = await listener.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [
      orderId,
    ]);
    const status = rows[0]?.status;
    if (status && !seen.has(status)) seen.set(status, performance.now());
  };
  listener.on('notification', () => {
    void look().then(() => wake?.());
  });

  const accepted = performance.now();
  const placed = await keyhouse.http.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { authorization: `Bearer ${token}` },
    payload: {
      serviceType: 'keycloak',
      version,
      nodeSize: NODE_SIZE.id,
      storageGb: 50,
      trustedSources: ['127.0.0.1'],
      region: 'local',
      billingProfile: {
        company: 'Bench GmbH',
        street: 'Teststraße 1',
        postalCode: '20095',
        city: 'Hamburg',
        country: 'DE',
        invoiceEmail: 'billing@example.com',
      },
      acceptTerms: { version: config.catalog.terms.version },
    },
  });
  if (placed.statusCode !== 201) throw new Error(`order refused: ${placed.body}`);
  const acceptedMs = performance.now() - accepted;
  const orderId = placed.json<{ id: string }>().id;
  created.orderId = orderId;
  // Known from here on, so that the clean-up destroys it even when the order fails.
  const instance = (
    await keyhouse.db.pool.query<{ instanceId: string; name: string }>(
      'SELECT i.id AS "instanceId", i.name FROM instances i JOIN orders o ON o.instance_id = i.id WHERE o.id = $1',
      [orderId],
    )
  ).rows[0]!;
  bench.instances.push(instance);
  const deadline = accepted + 10 * 60_000;
  while (!seen.has('done') && !seen.has('failed')) {
    if (performance.now() > deadline) throw new Error('the order did not finish in 10 minutes');
    await look();
    // Woken by the next notification; the timeout is only a safety net.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const { rows } = await listener.query<{
    status: string;
    steps: Step[];
    created: string;
    failure: string | null;
  }>(
    `SELECT status, steps, to_jsonb(created_at) #>> '{}' AS created, operator_detail AS failure
       FROM orders WHERE id = $1`,
    [orderId],
  );
  await listener.end();
  const order = rows[0]!;
  if (order.status !== 'done') throw new Error(`the order failed: ${order.failure}`);
  const doneMs = seen.get('done')! - accepted;
  const processingMs = (seen.get('processing') ?? seen.get('done')!) - accepted;

  return {
    instance,
    acceptedMs,
    processingMs,
    doneMs,
    created: Date.parse(order.created),
    steps: order.steps,
  };
}

/** The cold order on a Keyhouse without a warm pool, and its JVM's RSS at DONE and after 30 s idle. */
async function coldOrder(version: string) {
  const bench = await benchKeyhouse(undefined);
  const driver = bench.keyhouse.localBackend!.driver;
  // What a worker's start does (schemaTemplatesAtStart), so the order finds the template as on a running host.
  const templateStarted = Date.now();
  await driver.prepareSchemaTemplate(version);
  console.log(
    `schema template of ${version}: ready ${seconds(Date.now() - templateStarted)} before the order (made once per database server, at a worker's start)`,
  );
  const order = await orderToDone(bench, version);
  const [pid] = driver.processes(order.instance);
  const rssAtDoneMb = pid ? rssMb(pid) : 0;
  const keycloakSays = keycloakStartedIn(
    path.join(driver.instanceDir(order.instance), 'logs', 'keycloak.log'),
  );
  // Idle: nobody uses the instance; give the JVM half a minute to settle after start-up.
  await delay(30_000);
  const rssIdleMb = pid ? rssMb(pid) : 0;
  await bench.cleanup();
  cleanups.splice(cleanups.indexOf(bench.cleanup), 1);
  return { ...order, rssAtDoneMb, rssIdleMb, keycloakSays };
}

/**
 * `count` orders on a Keyhouse with a warm pool of two, one after the other, each placed once a member is ready: it
 * claims one while the refiller builds the next beside it (as in production, the hand-over shares the CPU with it).
 * Each instance is removed after its DONE.
 */
async function warmOrders(version: string, count: number) {
  const bench = await benchKeyhouse({ version, count: 2 });
  const poolReady = async () => {
    const deadline = performance.now() + 15 * 60_000;
    for (;;) {
      const { rows } = await bench.keyhouse.db.pool.query<{ ready: number }>(
        `SELECT count(*)::int AS ready FROM warm_pool_members WHERE state = 'ready'`,
      );
      if (rows[0]!.ready >= 1) return;
      if (performance.now() > deadline) throw new Error('the warm pool did not fill in 15 minutes');
      await delay(500);
    }
  };
  const orders: Awaited<ReturnType<typeof orderToDone>>[] = [];
  for (let i = 0; i < count; i++) {
    await poolReady();
    const order = await orderToDone(bench, version);
    const claimed = await bench.keyhouse.db.pool.query(
      `SELECT 1 FROM warm_pool_members WHERE id = $1 AND state = 'claimed'`,
      [order.instance.instanceId],
    );
    if (claimed.rowCount !== 1) throw new Error(`warm order ${i + 1} did not claim a pool member`);
    console.log(`warm-pool order ${i + 1} of ${count} → DONE: ${seconds(order.doneMs)}`);
    orders.push(order);
    await bench.destroy(order.instance);
  }
  await bench.cleanup();
  cleanups.splice(cleanups.indexOf(bench.cleanup), 1);
  return orders;
}

// ---- main ----------------------------------------------------------------------------------------------------------

async function main() {
  const config = loadConfig({ DATA_DIR: os.tmpdir() });
  const version = process.argv[2] ?? config.catalog.serviceTypes[0]!.versions[0]!;
  const distribution = await createKeycloakDistributions({ config, logger, cacheDir }).get(version);
  const javaVersion = readFileSync(path.join(distribution.javaHome, 'release'), 'utf8').match(
    /JAVA_VERSION="([^"]+)"/,
  )?.[1];

  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
      `node ${process.version}, Java ${javaVersion} (${distribution.javaHome}), Keycloak ${version}`,
  );
  console.log(
    `load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`date: ${new Date().toISOString()}`);

  const bareBefore = await bareStart(distribution, 'before');
  console.log(`bare kc.sh start --optimized → /health/ready (before): ${seconds(bareBefore.readyMs)}`);
  const order = await coldOrder(version);
  console.log(`cold order → DONE: ${seconds(order.doneMs)}`);
  console.log(`  its Keycloak: ${order.keycloakSays}; the bare one before: ${bareBefore.keycloakSays}`);
  const warmCount = Number(process.argv[3] ?? WARM_ORDERS);
  const warm = warmCount > 0 ? await warmOrders(version, warmCount) : [];
  const bareAfter = await bareStart(distribution, 'after');
  console.log(`bare kc.sh start --optimized → /health/ready (after): ${seconds(bareAfter.readyMs)}`);
  console.log(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const bareMs = (bareBefore.readyMs + bareAfter.readyMs) / 2;
  const warmTimes = warm.map((o) => o.doneMs).sort((a, b) => a - b);
  const warmP50 = warmTimes[Math.floor(warmTimes.length / 2)] ?? NaN;
  const warmMedian = warm.find((o) => o.doneMs === warmP50);
  const stepMs = (s: Step) => (s.finishedAt ? Date.parse(s.finishedAt) - Date.parse(s.startedAt) : NaN);
  const firstStart = Math.min(...order.steps.map((s) => Date.parse(s.startedAt)));
  const lastEnd = Math.max(...order.steps.map((s) => Date.parse(s.finishedAt ?? s.startedAt)));
  console.log('');
  console.log('                                          time');
  console.log(
    `(w) warm-pool order accepted → DONE       ${seconds(warmP50)}  (p50 of ${warm.length}: ${warmTimes.map(seconds).join(', ')}; goal ≤ 10 s)`,
  );
  console.log(`(a) cold order accepted → DONE            ${seconds(order.doneMs)}`);
  console.log(
    `(b) bare start → /health/ready            ${seconds(bareMs)}  (mean of ${seconds(bareBefore.readyMs)} before and ${seconds(bareAfter.readyMs)} after)`,
  );
  console.log(
    `(c) ratio a / b                           ${(order.doneMs / bareMs).toFixed(2)}  (goal ≤ 1.0)`,
  );
  console.log(`(e) ratio w / b                           ${(warmP50 / bareMs).toFixed(2)}`);
  console.log(`(f) ratio w / a                           ${(warmP50 / order.doneMs).toFixed(2)}`);
  console.log(
    `(d) idle RSS of the instance's JVM (b2-4)  ${order.rssIdleMb} MB after 30 s idle (${order.rssAtDoneMb} MB at DONE; bare at ready: ${bareBefore.rssAtReadyMb} / ${bareAfter.rssAtReadyMb} MB)`,
  );
  console.log('');
  console.log('platform overhead, order by order:');
  console.log(`  POST /api/v1/orders answered             ${seconds(order.acceptedMs)}`);
  console.log(`  accepted → processing                    ${seconds(order.processingMs)}`);
  console.log(`  created → first step started            ${seconds(firstStart - order.created)}`);
  for (const step of order.steps) console.log(`  step ${step.name.padEnd(36)}${seconds(stepMs(step))}`);
  console.log(
    `  last step finished → DONE seen           ${seconds(order.doneMs - (lastEnd - order.created))}`,
  );
  const keycloakMs = order.steps
    .filter((s) => s.name === 'keycloak-start' || s.name === 'keycloak-ready')
    .reduce((sum, s) => sum + stepMs(s), 0);
  console.log(
    `  outside keycloak-start + keycloak-ready  ${seconds(order.doneMs - keycloakMs)} of ${seconds(order.doneMs)}`,
  );
  if (!warmMedian) return;
  console.log('');
  console.log('the warm-pool order of the p50, step by step:');
  console.log(`  accepted → processing                    ${seconds(warmMedian.processingMs)}`);
  for (const step of warmMedian.steps) console.log(`  step ${step.name.padEnd(36)}${seconds(stepMs(step))}`);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse())
    await cleanup().catch((error: Error) => console.error(error.message));
}
