/**
 * POST /api/v1/orders under load (autocannon), beside a bare Fastify hello-world on the same machine.
 * Each server runs in its own process; autocannon runs here. Usage: npx tsx bench/order-api.ts [seconds]
 * Uses the machine's PostgreSQL at 127.0.0.1:5432 (scratch database) unless BENCH_SERVER_URL names another server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';

const seconds = Number(process.argv[2] ?? 10);
const connections = 10;
const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';

async function startServer(
  script: string,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []),
      '--import',
      'tsx',
      script,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: line.toString().trim(), child };
}

async function stop(child: ChildProcess) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}

type Figures = { requestsPerSecond: number; p50: number; p99: number; errors: number; non2xx: number };

async function load(options: autocannon.Options): Promise<Figures> {
  const result = await autocannon({ connections, duration: seconds, ...options });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/**
 * Committed transactions per order over the whole run (setup included, a few dozen), counted by PostgreSQL: read
 * after the API process has exited, when its backends have flushed their statistics. Unlike req/s on a shared
 * machine this does not vary with the load.
 */
async function transactionsPerOrder(): Promise<{ commits: number; orders: number }> {
  await admin.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ commits: string }>(
    'SELECT xact_commit AS commits FROM pg_stat_database WHERE datname = $1',
    [database],
  );
  // Read before this process runs a statement in the bench database itself.
  const bench = new pg.Client({ connectionString: `${serverUrl}/${database}` });
  await bench.connect();
  try {
    const orders = (await bench.query<{ count: number }>('SELECT count(*)::int AS count FROM orders'))
      .rows[0]!.count;
    return { commits: Number(rows[0]!.commits), orders };
  } finally {
    await bench.end();
  }
}

const database = `keyhouse_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: `${serverUrl}/postgres` });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);

try {
  const keyhouse = await startServer('bench/servers/keyhouse-server.ts', {
    DATABASE_URL: `${serverUrl}/${database}`,
  });
  const signup = await fetch(`${keyhouse.url}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: 'bench@example.com',
      password: 'benchmark password',
      organizationName: 'Bench',
    }),
  });
  const cookie = signup.headers.get('set-cookie')!.split(';')[0]!;
  const { csrfToken } = (await signup.json()) as { csrfToken: string };
  const tokenResponse = await fetch(`${keyhouse.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ name: 'bench' }),
  });
  const { token } = (await tokenResponse.json()) as { token: string };
  const catalog = (await (await fetch(`${keyhouse.url}/api/v1/catalog`)).json()) as {
    serviceTypes: { versions: string[] }[];
    terms: { version: string };
  };
  const profile = (await (
    await fetch(`${keyhouse.url}/api/v1/billing-profiles`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        company: 'Bench GmbH',
        street: 'Teststraße 1',
        postalCode: '20095',
        city: 'Hamburg',
        country: 'DE',
        invoiceEmail: 'billing@example.com',
      }),
    })
  ).json()) as { id: string };
  const order = JSON.stringify({
    serviceType: 'keycloak',
    version: catalog.serviceTypes[0]!.versions[0],
    nodeSize: 'b2-4',
    storageGb: 50,
    trustedSources: ['127.0.0.1', '10.20.30.0/24'],
    region: 'local',
    billingProfileId: profile.id,
    acceptTerms: { version: catalog.terms.version },
  });

  // Warm-up, then the measured run; every request is a new order (no Idempotency-Key).
  const orderRequest = {
    url: `${keyhouse.url}/api/v1/orders`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: order,
  };
  await load({ ...orderRequest, duration: 2 });
  const loadBefore = os.loadavg()[0]!;
  const orders = await load(orderRequest);
  await stop(keyhouse.child);
  const transactions = await transactionsPerOrder();

  const hello = await startServer('bench/servers/hello-server.ts');
  const helloRequest = {
    url: `${hello.url}/hello`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: '{}',
  };
  await load({ ...helloRequest, duration: 2 });
  const baseline = await load(helloRequest);
  await stop(hello.child);

  const row = (name: string, f: Figures) =>
    `${name.padEnd(24)} ${f.requestsPerSecond.toFixed(0).padStart(8)} req/s   p50 ${String(f.p50).padStart(4)} ms   p99 ${String(f.p99).padStart(4)} ms   errors ${f.errors}   non-2xx ${f.non2xx}`;
  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
  );
  console.log(
    `load: autocannon, ${connections} connections, ${seconds} s per run (after a 2 s warm-up); load average ${loadBefore.toFixed(1)} before the order run, ${os.loadavg()[0]!.toFixed(1)} at the end`,
  );
  console.log(row('POST /api/v1/orders', orders));
  console.log(row('fastify hello-world', baseline));
  console.log(
    `transactions per order: ${(transactions.commits / transactions.orders).toFixed(2)} (${transactions.commits} commits for ${transactions.orders} orders, setup included)`,
  );
  console.log(
    `ratio: orders reach ${((orders.requestsPerSecond / baseline.requestsPerSecond) * 100).toFixed(1)} % of the hello-world's throughput (goal ≥ 30 %); p99 ${orders.p99} ms (goal ≤ 20 ms)`,
  );
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}
