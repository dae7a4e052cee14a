/**
 * Backup and restore of an instance with 10 000 users: time and size, beside the bare tools.
 *
 * Usage: npx tsx bench/backup.ts [users]   (default 10000)
 *
 * Keyhouse runs in this process (api, worker and edge roles) on a scratch database of the machine's PostgreSQL at
 * 127.0.0.1:5432 (BENCH_SERVER_URL names another superuser URL without database), with the tests' built
 * distribution cache. One instance (b2-4) is ordered; a realm gets `users` users (with e-mail, names and two
 * attributes, no passwords: Keycloak would spend its time hashing, not the backup) through the admin API's partial
 * import in batches. Then, side by side:
 *   - an on-demand backup order (accepted → done) and the backup itself (pg_dump through Keyhouse, checksummed),
 *     against a bare `pg_dump --format=custom` of the same database to a file;
 *   - a restore in place order (accepted → done: pre-restore backup, restore beside the live database, switch,
 *     Keycloak restart, verification), its `restore-database` step, against a bare `pg_restore` into a new database;
 *   - a restore into a new instance (accepted → done);
 *   - the database's size against the dump's size.
 * Everything created is removed again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { createKeyhouse } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { instanceDatabaseName } from '../src/drivers/local/instance-database.js';
import { compatiblePgTools, findPgTools, serverMajor } from '../src/drivers/local/postgres-dump.js';
import { runCommand } from '../src/platform/process-runner.js';
import { createLogger } from '../src/platform/logger.js';
import { testKeycloakCache } from '../test/support/test-keyhouse.js';

const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';
const USERS = Number(process.argv[2] ?? 10_000);
const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

type Order = { id: string; status: string; failureReason: string | null; instanceId: string; steps: Step[] };
type Step = { name: string; startedAt: string; finishedAt: string | null };

async function main() {
  const scratch = `keyhouse_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${scratch}`));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'keyhouse-bench-backup-'));
  const databaseUrl = `${serverUrl}/${scratch}`;
  const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: databaseUrl });
  config.roles = ['api', 'worker', 'edge'];
  config.edge.listenHost = '127.0.0.1';
  const base = 20000 + Math.floor(Math.random() * 20000);
  config.edge.portRange = { from: base, to: base + 20 };
  config.keycloak.portRange = { from: base + 100, to: base + 140 };
  const keyhouse = await createKeyhouse({
    config,
    databaseUrl,
    adminDatabaseUrl: databaseUrl,
    logger,
    distributionCacheDir: testKeycloakCache,
    backupSchedule: false,
  });
  const instances: { instanceId: string; name: string }[] = [];
  const bareDatabase = `keyhouse_bench_restore_${randomBytes(4).toString('hex')}`;
  try {
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
    const headers = { authorization: `Bearer ${token}` };
    const request = async <T>(method: 'GET' | 'POST', url: string, payload?: object) => {
      const response = await keyhouse.http.inject({ method, url, headers, payload });
      if (response.statusCode >= 300)
        throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
      return response.json<T>();
    };
    /** Places an order and answers it once done, with the time from acceptance to done. */
    const run = async (url: string, payload: object) => {
      const started = performance.now();
      const placed = await request<Order>('POST', url, payload);
      for (;;) {
        const order = await request<Order>('GET', `/api/v1/orders/${placed.id}`);
        if (order.status === 'failed') throw new Error(`order ${order.id} failed: ${order.failureReason}`);
        if (order.status === 'done') return { order, ms: performance.now() - started };
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const stepMs = (order: Order, name: string) => {
      const step = order.steps.find((candidate) => candidate.name === name)!;
      return Date.parse(step.finishedAt!) - Date.parse(step.startedAt);
    };

    const orderBody = {
      serviceType: 'keycloak',
      version: config.catalog.serviceTypes[0]!.versions[0]!,
      nodeSize: 'b2-4',
      storageGb: 50,
      trustedSources: ['127.0.0.1'],
      region: 'local',
      billingProfile: {
        company: 'Bench GmbH',
        street: 'Teststraße 1',
        postalCode: '20095',
        city: 'Hamburg',
        country: 'DE',
        invoiceEmail: 'rechnung@bench.example',
      },
      acceptTerms: { version: config.catalog.terms.version },
    };
    const created = await run('/api/v1/orders', orderBody);
    const instance = await request<{ id: string; name: string; url: string }>(
      'GET',
      `/api/v1/instances/${created.order.instanceId}`,
    );
    instances.push({ instanceId: instance.id, name: instance.name });
    const { password } = await request<{ password: string }>(
      'POST',
      `/api/v1/instances/${instance.id}/credentials/reveal`,
    );
    console.log(`instance ${instance.name} DONE after ${s(created.ms)}`);

    // 10 000 users through the admin API (on the instance's upstream, as the driver talks to it).
    const port = Number(
      (
        await keyhouse.db.pool.query<{ upstream_port: number }>(
          'SELECT upstream_port FROM edge_routes WHERE instance_id = $1',
          [instance.id],
        )
      ).rows[0]!.upstream_port,
    );
    const admin = new KcAdminClient({ baseUrl: `http://127.0.0.1:${port}`, realmName: 'master' });
    const login = () =>
      admin.auth({ grantType: 'password', clientId: 'admin-cli', username: 'admin', password });
    await login();
    await admin.realms.create({ realm: 'bench', enabled: true });
    const fillStarted = performance.now();
    for (let first = 0; first < USERS; first += 500) {
      if (first % 5000 === 0) await login(); // the admin token lives 60 s
      const users = Array.from({ length: Math.min(500, USERS - first) }, (_, i) => {
        const n = first + i;
        return {
          username: `user-${n}`,
          email: `user-${n}@bench.example`,
          firstName: `First${n}`,
          lastName: `Last${n}`,
          enabled: true,
          emailVerified: true,
          attributes: { department: [`dept-${n % 50}`], costCenter: [`${1000 + (n % 300)}`] },
        };
      });
      await admin.realms.partialImport({ realm: 'bench', rep: { ifResourceExists: 'SKIP', users } });
    }
    console.log(`${USERS} users imported in ${s(performance.now() - fillStarted)}`);

    const database = instanceDatabaseName(instance.name);
    const databaseBytes = Number(
      (
        await keyhouse.db.pool.query<{ size: string }>('SELECT pg_database_size($1)::text AS size', [
          database,
        ])
      ).rows[0]!.size,
    );
    const tools = compatiblePgTools(await findPgTools(), await serverMajor(databaseUrl))!;
    const url = new URL(databaseUrl);
    url.pathname = `/${database}`;

    // Bare pg_dump to a file.
    const bareFile = path.join(dataDir, 'bare.dump');
    let started = performance.now();
    const dumped = await runCommand(tools.pgDump, [
      '--format=custom',
      `--file=${bareFile}`,
      `--dbname=${url}`,
    ]);
    const bareDumpMs = performance.now() - started;
    if (dumped.code !== 0) throw new Error(dumped.tail);

    // Keyhouse: an on-demand backup order.
    const backupOrder = await run(`/api/v1/instances/${instance.id}/orders`, { type: 'backup' });
    const { items } = await request<{
      items: { id: string; kind: string; sizeBytes: number; durationMs: number }[];
    }>('GET', `/api/v1/instances/${instance.id}/backups`);
    const backup = items.find((b) => b.kind === 'on-demand')!;

    // Bare pg_restore into a new database.
    await withAdmin((client) => client.query(`CREATE DATABASE ${bareDatabase}`));
    const bareUrl = new URL(databaseUrl);
    bareUrl.pathname = `/${bareDatabase}`;
    started = performance.now();
    const restoredBare = await runCommand(tools.pgRestore, [
      '--no-owner',
      '--no-privileges',
      '--single-transaction',
      '--exit-on-error',
      `--dbname=${bareUrl}`,
      bareFile,
    ]);
    const bareRestoreMs = performance.now() - started;
    if (restoredBare.code !== 0) throw new Error(restoredBare.tail);

    // Keyhouse: restore in place, then into a new instance.
    const inPlace = await run(`/api/v1/instances/${instance.id}/orders`, {
      type: 'restore',
      backupId: backup.id,
      confirmName: instance.name,
    });
    const intoNew = await run('/api/v1/orders', {
      ...orderBody,
      restoreFrom: { instanceId: instance.id, backupId: backup.id },
    });
    instances.push({
      instanceId: intoNew.order.instanceId,
      name: (await request<{ name: string }>('GET', `/api/v1/instances/${intoNew.order.instanceId}`)).name,
    });

    const rows: [string, string, string, string][] = [
      ['figure', 'Keyhouse', 'bare tool', 'ratio'],
      [
        'backup (pg_dump of the database)',
        `${s(backup.durationMs)} (order accepted → done ${s(backupOrder.ms)})`,
        s(bareDumpMs),
        (backup.durationMs / bareDumpMs).toFixed(2),
      ],
      [
        'dump size',
        mb(backup.sizeBytes),
        mb(statSync(bareFile).size),
        (backup.sizeBytes / statSync(bareFile).size).toFixed(2),
      ],
      [
        'database size (pg_database_size)',
        mb(databaseBytes),
        '',
        (backup.sizeBytes / databaseBytes).toFixed(2),
      ],
      [
        'restore of the database (restore-database step)',
        s(stepMs(inPlace.order, 'restore-database')),
        s(bareRestoreMs),
        (stepMs(inPlace.order, 'restore-database') / bareRestoreMs).toFixed(2),
      ],
      ['restore in place, order accepted → done', s(inPlace.ms), '', ''],
      ['  of which pre-restore backup', s(stepMs(inPlace.order, 'pre-restore-backup')), '', ''],
      ['  of which switch (Keycloak stopped, rename)', s(stepMs(inPlace.order, 'restore-switch')), '', ''],
      [
        '  of which Keycloak start → ready',
        s(stepMs(inPlace.order, 'keycloak-start') + stepMs(inPlace.order, 'keycloak-ready')),
        '',
        '',
      ],
      ['restore into a new instance, order accepted → done', s(intoNew.ms), '', ''],
    ];
    console.log(
      `\n${USERS} users; machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, load ${os.loadavg()[0]!.toFixed(1)}`,
    );
    for (const row of rows)
      console.log(
        row
          .map((cell, i) => cell.padEnd(i === 0 ? 52 : 38))
          .join(' ')
          .trimEnd(),
      );
  } finally {
    for (const instance of instances)
      await keyhouse
        .localBackend!.driver.destroy(instance, async () => undefined)
        .catch((error: Error) => console.error(`cleanup of ${instance.name}: ${error.message}`));
    await keyhouse.close();
    await withAdmin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${bareDatabase} WITH (FORCE)`);
      await client.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
    });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
