import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfFile } from '../../src/drivers/local/postgres-dump.js';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import { SESSION_COOKIE } from '../../src/http/auth-guard.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { eventually } from '../support/backups.js';
import { freePort } from '../support/edge-probes.js';
import { prepareProcessDataDir } from '../support/keyhouse-process.js';
import { killEverythingUnder, ownProcessGroup } from '../support/process-tree.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * kill -9 of Keyhouse in the middle of a backup and in the middle of a restore in place, with a real Keycloak and
 * a database big enough (a million extra rows) that pg_dump and pg_restore take seconds. Only the Keyhouse process
 * is killed, not its children: an orphaned pg_dump/pg_restore must end by itself (its pipe to Keyhouse breaks).
 * After a restart each order ends done, with exactly one backup per order, no partial file, no scratch database;
 * during the restore Keycloak keeps serving the old, whole database. Embedded-database project only.
 */
const BULK_ROWS = 1_000_000;

type BackupRow = { id: string; kind: string; status: string; location: string | null; sha256: string | null };

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'kill -9 during a backup and a restore',
  () => {
    let dir: string;
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    let db: pg.Client;
    let env: NodeJS.ProcessEnv;
    let apiPort: number;
    let logFile: string;
    let keyhouse: { child: ChildProcess; exited: Promise<void> } | undefined;
    let headers: Record<string, string>;
    let instance: { id: string; name: string; url: string };
    let adminPassword: string;

    const api = (pathname: string) => `http://127.0.0.1:${apiPort}${pathname}`;
    const logTail = () =>
      existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    const backupsDir = () => path.join(dir, 'backups', instance.name);
    const instanceDb = () => instanceDatabaseName(instance.name);

    async function startKeyhouse() {
      const out = openSync(logFile, 'a');
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: packageRoot,
        env,
        detached: true,
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      keyhouse = { child, exited };
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`Keyhouse exited during start-up:\n${logTail()}`);
        const ready = await fetch(api('/readyz')).catch(() => undefined);
        await ready?.body?.cancel();
        return ready?.status === 200;
      }, 90_000);
    }

    /** SIGKILL to the Keyhouse process only; its children (pg_dump, pg_restore) are left to fend for themselves. */
    async function killKeyhouseOnly() {
      const { child, exited } = keyhouse!;
      keyhouse = undefined;
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      return child.pid!;
    }

    /** The group of a killed Keyhouse (tsx's esbuild service), so the restart starts clean. */
    const killGroup = (pid: number) => {
      if (pid <= 1 || pid === ownProcessGroup()) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    };

    /** pg_dump/pg_restore processes working on the instance's database. */
    function toolProcesses(): string[] {
      const found: string[] = [];
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
          if (/pg_(dump|restore)$/.test(argv[0] ?? '') && argv.some((arg) => arg.includes(instanceDb())))
            found.push(`${entry}: ${argv.join(' ')}`);
        } catch (error) {
          if (
            (error as NodeJS.ErrnoException).code !== 'ENOENT' &&
            (error as NodeJS.ErrnoException).code !== 'ESRCH'
          )
            throw error;
        }
      }
      return found;
    }

    async function call<T>(method: string, pathname: string, status: number, body?: unknown): Promise<T> {
      const response = await fetch(api(pathname), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== status)
        throw new Error(`${method} ${pathname} answered ${response.status}: ${text}`);
      return JSON.parse(text) as T;
    }

    const order = (id: string) =>
      call<{ status: string; failureReason: string | null; steps: { name: string; status: string }[] }>(
        'GET',
        `/api/v1/orders/${id}`,
        200,
      );
    const finished = (id: string, timeoutMs: number) =>
      eventually(async () => {
        const current = await order(id);
        return (current.status === 'done' || current.status === 'failed') && current;
      }, timeoutMs);

    const backupRows = async (orderId: string) =>
      (
        await db.query<BackupRow>(
          'SELECT id, kind, status, location, sha256 FROM backups WHERE order_id = $1',
          [orderId],
        )
      ).rows;
    const databasesOfInstance = async () =>
      (
        await db.query<{ datname: string }>(
          'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1',
          [instanceDb()],
        )
      ).rows.map((row) => row.datname);
    const bulkCount = async () => {
      const url = new URL(database.url);
      url.pathname = `/${instanceDb()}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM keyhouse_bulk')).rows[0]!.n;
      } finally {
        await client.end();
      }
    };

    beforeAll(async () => {
      let configFile: string;
      ({ dir, configFile } = prepareProcessDataDir('keyhouse-backup-crash-'));
      logFile = path.join(dir, 'keyhouse.log');
      database = await createTestDatabase();
      apiPort = await freePort();
      env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LANG: 'C.UTF-8',
        ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}),
        DATA_DIR: dir,
        DATABASE_URL: database.url,
        PORT: String(apiPort),
        KEYHOUSE_CONFIG: configFile,
      };
      db = new pg.Client({ connectionString: database.url });
      await db.connect();
      await startKeyhouse();

      const signup = await fetch(api('/api/v1/auth/signup'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: `backup-crash-${randomUUID()}@example.com`,
          password: 'correct horse battery staple',
          organizationName: 'Absturz GmbH',
        }),
      });
      const cookie = signup.headers
        .getSetCookie()
        .find((c) => c.startsWith(`${SESSION_COOKIE}=`))!
        .split(';')[0]!;
      const { csrfToken } = (await signup.json()) as { csrfToken: string };
      const tokenResponse = await fetch(api('/api/v1/tokens'), {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'backup crash test' }),
      });
      const { token } = (await tokenResponse.json()) as { token: string };
      headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

      const placed = await call<{ id: string; instanceId: string }>('POST', '/api/v1/orders', 201, {
        serviceType: 'keycloak',
        version: '26.5.6',
        nodeSize: 'b2-4',
        storageGb: 50,
        trustedSources: ['127.0.0.1'],
        region: 'local',
        billingProfile: {
          company: 'Absturz GmbH',
          street: 'Hafenstraße 1',
          postalCode: '20457',
          city: 'Hamburg',
          country: 'DE',
          invoiceEmail: 'rechnung@absturz.de',
        },
        acceptTerms: { version: '2026-11' },
      });
      const created = await finished(placed.id, 10 * 60_000);
      expect(created.failureReason).toBeNull();
      instance = await call('GET', `/api/v1/instances/${placed.instanceId}`, 200);
      adminPassword = (
        await call<{ password: string }>(
          'POST',
          `/api/v1/instances/${instance.id}/credentials/reveal`,
          200,
          {},
        )
      ).password;
      // Bulk data in Keycloak's database, owned by its role: seconds of pg_dump and pg_restore.
      const url = new URL(database.url);
      url.pathname = `/${instanceDb()}`;
      const bulk = new pg.Client({ connectionString: url.toString() });
      await bulk.connect();
      await bulk.query(`SET ROLE ${instanceDb()}`);
      await bulk.query('CREATE TABLE keyhouse_bulk (id int PRIMARY KEY, payload text NOT NULL)');
      await bulk.query(
        `INSERT INTO keyhouse_bulk SELECT n, md5(n::text) || md5((n * 7)::text) FROM generate_series(1, $1::int) AS n`,
        [BULK_ROWS],
      );
      await bulk.end();
    }, 15 * 60_000);

    afterAll(async () => {
      if (keyhouse) killGroup((await killKeyhouseOnly()) ?? 0);
      // Whatever a failed test left: the instance's Keycloak and data go with a delete through a fresh Keyhouse.
      if (instance) {
        await startKeyhouse();
        await fetch(api(`/api/v1/instances/${instance.id}`), {
          method: 'PATCH',
          headers,
          body: JSON.stringify({ deletionProtection: false }),
        });
        const placed = await fetch(api(`/api/v1/instances/${instance.id}/orders`), {
          method: 'POST',
          headers,
          body: JSON.stringify({ type: 'delete', confirmName: instance.name }),
        });
        if (placed.status === 201) await finished(((await placed.json()) as { id: string }).id, 3 * 60_000);
        killGroup(await killKeyhouseOnly());
      }
      // HAProxy outlives Keyhouse by design (its own process group): it goes with the data dir.
      if (dir) killEverythingUnder(dir);
      await db?.end();
      await database?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 10 * 60_000);

    it(
      'a backup killed half-way is taken again after the restart: one backup, one whole file, no partial',
      async () => {
        const placed = await call<{ id: string }>('POST', `/api/v1/instances/${instance.id}/orders`, 201, {
          type: 'backup',
        });
        // Killed while pg_dump writes: the partial file has grown.
        await eventually(async () => {
          const [row] = await backupRows(placed.id);
          const partial =
            existsSync(backupsDir()) && readdirSync(backupsDir()).some((file) => file.endsWith('.partial'));
          return row?.status === 'running' && partial;
        }, 120_000);
        const pid = await killKeyhouseOnly();
        const [interrupted] = await backupRows(placed.id);
        expect(readdirSync(backupsDir())).not.toContain(`${interrupted!.id}.dump`);
        // The orphaned pg_dump ends by itself: its pipe to the dead Keyhouse is broken.
        await eventually(async () => toolProcesses().length === 0, 30_000);
        killGroup(pid);

        await startKeyhouse();
        const done = await finished(placed.id, 5 * 60_000);
        expect(done.failureReason).toBeNull();
        expect(done.status).toBe('done');
        const rows = await backupRows(placed.id);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ kind: 'on-demand', status: 'done' });
        expect(readdirSync(backupsDir())).toEqual([`${rows[0]!.id}.dump`]);
        expect(await sha256OfFile(rows[0]!.location!)).toBe(rows[0]!.sha256);
      },
      10 * 60_000,
    );

    it(
      'a restore killed half-way never serves a half-restored database and ends done after the restart',
      async () => {
        const [source] = (
          await db.query<{ id: string }>(
            `SELECT id FROM backups WHERE instance_id = $1 AND kind = 'on-demand'`,
            [instance.id],
          )
        ).rows;
        // Data after the backup, which the restore must take away again.
        const url = new URL(database.url);
        url.pathname = `/${instanceDb()}`;
        const writer = new pg.Client({ connectionString: url.toString() });
        await writer.connect();
        await writer.query(`SET ROLE ${instanceDb()}`);
        await writer.query(`DELETE FROM keyhouse_bulk WHERE id <= 1000`);
        await writer.end();
        expect(await bulkCount()).toBe(BULK_ROWS - 1000);

        const placed = await call<{ id: string }>('POST', `/api/v1/instances/${instance.id}/orders`, 201, {
          type: 'restore',
          backupId: source!.id,
          confirmName: instance.name,
        });
        // Killed while pg_restore fills the scratch database beside the live one.
        await eventually(async () => {
          const current = await order(placed.id);
          const step = current.steps.find((s) => s.name === 'restore-database');
          return (
            step?.status === 'running' && (await databasesOfInstance()).includes(`${instanceDb()}_restoring`)
          );
        }, 5 * 60_000);
        await new Promise((resolve) => setTimeout(resolve, 1_000)); // pg_restore has begun to load rows
        const pid = await killKeyhouseOnly();
        await eventually(async () => toolProcesses().length === 0, 30_000);
        killGroup(pid);

        // Keycloak still serves, on the live database, whole and unchanged. Asked on its own port: the edge of
        // this Keyhouse version runs inside the killed process.
        expect(await bulkCount()).toBe(BULK_ROWS - 1000);
        const { rows } = await db.query<{ upstream_port: number }>(
          'SELECT upstream_port FROM edge_routes WHERE instance_id = $1',
          [instance.id],
        );
        const admin = new KcAdminClient({
          baseUrl: `http://127.0.0.1:${rows[0]!.upstream_port}`,
          realmName: 'master',
        });
        await admin.auth({
          grantType: 'password',
          clientId: 'admin-cli',
          username: 'admin',
          password: adminPassword,
        });
        expect((await admin.realms.find()).map((realm) => realm.realm)).toContain('master');

        await startKeyhouse();
        const done = await finished(placed.id, 10 * 60_000);
        expect(done.failureReason).toBeNull();
        expect(done.status).toBe('done');
        expect(await bulkCount()).toBe(BULK_ROWS);
        expect(await databasesOfInstance()).toEqual([instanceDb()]);
        const preRestore = await backupRows(placed.id);
        expect(preRestore).toEqual([expect.objectContaining({ kind: 'pre-restore', status: 'done' })]);
        expect(readdirSync(backupsDir()).filter((file) => !file.endsWith('.dump'))).toEqual([]);
      },
      20 * 60_000,
    );
  },
);
