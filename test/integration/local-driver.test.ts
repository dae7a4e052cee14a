import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { withConnection } from '../../src/db/database.js';
import type { DesiredInstance, StepState } from '../../src/drivers/driver.js';
import {
  createKeycloakDistributions,
  type KeycloakDistributions,
} from '../../src/drivers/local/keycloak-distribution.js';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import {
  createLocalDriver,
  type EdgeRoutes,
  type LocalDriver,
} from '../../src/drivers/local/local-driver.js';
import { superviseLocalInstances } from '../../src/drivers/local/supervisor.js';
import { testKeycloakCache } from '../support/test-keyhouse.js';
import { createLogger } from '../../src/platform/logger.js';
import { renderStepMessage } from '../../src/platform/messages.js';

/**
 * A real Keycloak 26.5.6 against the test PostgreSQL. The built distribution is cached across runs in
 * KEYHOUSE_TEST_KEYCLOAK_CACHE (see testKeycloakCache), filled by `npm test`'s preparation. Runs in the embedded-database project only:
 * twice would double the slowest test of the suite without testing anything new.
 */
// KEYHOUSE_TEST_KEYCLOAK_VERSION=26.7.3 runs the same test on the newer catalog version (Java 25).
const VERSION = process.env.KEYHOUSE_TEST_KEYCLOAK_VERSION ?? '26.5.6';
const cacheDir = testKeycloakCache;
const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });

/** A reported step, its note in English as the API shows it. */
type Step = { name: string; state: StepState; message?: string };

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')('local driver with a real Keycloak', () => {
  let dataDir: string;
  let config: Config;
  let distributions: KeycloakDistributions;
  let driver: LocalDriver;
  let adminDatabaseUrl: string;
  const routes = new Map<string, number>();
  // The edge is another module; here it only answers a loopback URL the way the real one answers its public one.
  const edge: EdgeRoutes = {
    async ensureRoute(route) {
      routes.set(route.instanceId, route.upstreamPort);
      return { url: `http://127.0.0.1:${route.upstreamPort}` };
    },
    async removeRoute(instanceId) {
      routes.delete(instanceId);
    },
    async observeUpstream(instanceId, upstreamPort) {
      return routes.get(instanceId) === upstreamPort
        ? { serves: 'only-this' }
        : { serves: 'not-yet', why: `routed to ${routes.get(instanceId)}` };
    },
    // Plain HTTP here: no certificate authority, and no login check through an edge.
    caPem: '',
  };
  const instance: DesiredInstance = {
    instanceId: `inst-${randomBytes(4).toString('hex')}`,
    name: `kc-${randomBytes(4).toString('hex')}`,
    customerNumber: 'kd500001',
    adminUsername: 'admin',
    version: VERSION,
    nodeSize: { id: 'b2-4', vcpu: 2, memoryGb: 4 },
    storageGb: 50,
    trustedSources: ['127.0.0.1/32'],
    adminSources: ['127.0.0.1/32'],
    region: 'local',
    zone: 'local-1',
    themes: [],
    customHostname: null,
    secrets: {
      adminPassword: `Adm1n-${randomBytes(9).toString('base64url')}`,
      // Characters that keycloak.conf (a properties file with ${} expressions) would otherwise mangle.
      databasePassword: `p$a\${x}b\\c#d=e!f "g'${randomBytes(6).toString('hex')}`,
    },
  };
  const apply = async () => {
    const steps: Step[] = [];
    const started = Date.now();
    const result = await driver.apply(instance, async (name, state, message) => {
      steps.push({ name, state, ...(message ? { message: renderStepMessage(message) } : {}) });
    });
    return { result, steps, seconds: (Date.now() - started) / 1000 };
  };
  const login = async (username: string, password: string) => {
    const client = new KcAdminClient({ baseUrl: `http://127.0.0.1:${routes.get(instance.instanceId)}` });
    await client.auth({ grantType: 'password', clientId: 'admin-cli', username, password });
    return client;
  };
  const withServer = <T>(work: (client: pg.Client) => Promise<T>) => withConnection(adminDatabaseUrl, work);
  /** Field 6 of /proc/<pid>/stat: the session id. */
  const sessionOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  };
  const rssMb = (pid: number) =>
    Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-local-driver-'));
    config = loadConfig({ DATA_DIR: dataDir });
    // A random window of the range, so that a parallel run of this file elsewhere does not race for the same ports.
    const from = 19000 + Math.floor(Math.random() * 19) * 50;
    config.keycloak.portRange = { from, to: from + 49 };
    adminDatabaseUrl = `${inject('serverUrl')}/postgres`;
    distributions = createKeycloakDistributions({ config, logger, cacheDir });
    await distributions.get(VERSION);
    driver = createLocalDriver({
      config,
      adminDatabaseUrl,
      distributions,
      logger,
      edge,
      // This instance has no theme (the themes are the observability test's).
      themeArchive: () => Promise.reject(new Error('no theme here')),
    });
    // Partial state of an earlier, crashed attempt: the role exists with another password. Apply must heal it.
    await withServer((client) =>
      client.query(
        `CREATE ROLE ${instanceDatabaseName(instance.name)} LOGIN PASSWORD 'from-a-crashed-attempt'`,
      ),
    );
  }, 15 * 60_000);

  afterAll(async () => {
    if (driver) await driver.destroy(instance, async () => undefined).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  let firstPid = 0;

  it(
    'provisions an instance: database, own home, detached Keycloak, admin, first realm',
    async () => {
      const { result, steps, seconds } = await apply();
      expect(result, JSON.stringify(steps, null, 2)).toEqual({
        outcome: 'ready',
        url: `http://127.0.0.1:${routes.get(instance.instanceId)}`,
      });
      expect(steps.filter((s) => s.state === 'done').map((s) => s.name)).toEqual([
        'database',
        'keycloak-home',
        'edge-route',
        'keycloak-start',
        'keycloak-ready',
        'admin-account',
        'first-realm',
      ]);
      // The database is a copy of the version's schema template: Keycloak's first start migrates nothing, and
      // still creates its master realm and the temporary admin (the hand-over below logs in with it).
      expect(steps.find((s) => s.name === 'database' && s.state === 'done')?.message).toMatch(
        /database created with Keycloak's schema; role existed$/,
      );
      const keycloakLog = readFileSync(
        path.join(driver.instanceDir(instance), 'logs', 'keycloak.log'),
        'utf8',
      );
      expect(keycloakLog).not.toContain('Initializing database schema');
      expect(keycloakLog).toContain('Initializing master realm');
      expect(keycloakLog).toContain('Created temporary admin user');
      firstPid = driver.processes(instance)[0] ?? 0;
      expect(firstPid).toBeGreaterThan(0);
      console.log(`first apply to ready: ${seconds.toFixed(1)} s; idle RSS ${rssMb(firstPid)} MB`);
      // Detached: its own session, so neither a signal to our process group nor our death reaches it.
      expect(sessionOf(firstPid)).not.toBe(sessionOf(process.pid));
      expect(readFileSync(path.join(driver.instanceDir(instance), 'keycloak.pid'), 'utf8').trim()).toBe(
        String(sessionOf(firstPid)),
      );

      const admin = await login('admin', instance.secrets.adminPassword);
      expect(await admin.realms.findOne({ realm: instance.customerNumber })).toMatchObject({ enabled: true });
      const masterUsers = await admin.users.find({ realm: 'master' });
      expect(masterUsers.map((u) => u.username)).toEqual(['admin']);
      const roles = await admin.users.listRealmRoleMappings({ realm: 'master', id: masterUsers[0]!.id! });
      expect(roles.map((r) => r.name)).toContain('admin');

      // The temporary admin's password is gone from disk too, and the files holding secrets are private.
      const stateFile = path.join(driver.instanceDir(instance), 'state.json');
      expect(JSON.parse(readFileSync(stateFile, 'utf8')).bootstrapAdmin).toBeNull();
      const conf = path.join(driver.instanceDir(instance), 'keycloak', 'conf', 'keycloak.conf');
      expect(readFileSync(conf, 'utf8')).toContain('http-host=127.0.0.1');
      expect(statSync(conf).mode & 0o077).toBe(0);
      // conf/ is a real copy, lib/ hard links into the shared distribution.
      expect(statSync(conf).nlink).toBe(1);
      expect(
        statSync(path.join(driver.instanceDir(instance), 'keycloak', 'lib', 'quarkus-run.jar')).nlink,
      ).toBeGreaterThan(1);
    },
    6 * 60_000,
  );

  it(
    'adopts the running process on a second apply instead of starting a twin',
    async () => {
      const { result, steps, seconds } = await apply();
      expect(result.outcome).toBe('ready');
      expect(steps.find((s) => s.name === 'keycloak-start' && s.state === 'done')?.message).toMatch(
        /^adopted/,
      );
      expect(driver.processes(instance)).toEqual([firstPid]);
      console.log(`second apply (adopt): ${seconds.toFixed(1)} s`);

      const observed = await driver.observe(instance);
      expect(observed).toMatchObject({
        exists: true,
        ready: true,
        url: result.outcome === 'ready' ? result.url : '',
      });
      expect(observed.conditions).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'Ready', status: 'True' }),
          expect.objectContaining({ type: 'StorageNearlyFull', status: 'False' }),
        ]),
      );
      expect(observed.usage!.storageUsedBytes).toBeGreaterThan(1_000_000);
      expect(observed.usage!.storageQuotaBytes).toBe(50 * 1024 ** 3);
    },
    2 * 60_000,
  );

  it(
    'brings a killed Keycloak back through the supervisor',
    async () => {
      process.kill(firstPid, 'SIGKILL');
      const supervisor = superviseLocalInstances({
        driver,
        desiredInstances: async () => [instance],
        logger,
        intervalMs: 60 * 60_000, // driven by runOnce below
      });
      try {
        const started = Date.now();
        let outcome: string | undefined;
        while (Date.now() - started < 30_000) {
          outcome = (await supervisor.runOnce()).get(instance.name);
          if (outcome === 'started') break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(outcome).toBe('started');
        let ready = false;
        while (!ready && Date.now() - started < 3 * 60_000) {
          ready = (await driver.observe(instance)).ready;
          if (!ready) await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(ready).toBe(true);
        console.log(`supervisor restart to ready: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        const [pid] = driver.processes(instance);
        expect(pid).not.toBe(firstPid);
        expect((await supervisor.runOnce()).get(instance.name)).toBe('running');
        // The admin set up before the crash still works: state lives in the database.
        await login('admin', instance.secrets.adminPassword);
      } finally {
        await supervisor.stop();
      }
    },
    4 * 60_000,
  );

  it(
    'destroys everything, and destroying again is harmless',
    async () => {
      const dbName = instanceDatabaseName(instance.name);
      for (let round = 0; round < 2; round++) {
        const steps: Step[] = [];
        await driver.destroy(instance, async (name, state, message) => {
          steps.push({ name, state, ...(message ? { message: renderStepMessage(message) } : {}) });
        });
        expect(steps.filter((s) => s.state === 'failed')).toEqual([]);
      }
      expect(driver.processes(instance)).toEqual([]);
      expect(existsSync(driver.instanceDir(instance))).toBe(false);
      expect(routes.has(instance.instanceId)).toBe(false);
      await withServer(async (client) => {
        expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName])).rowCount).toBe(
          0,
        );
        expect((await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [dbName])).rowCount).toBe(0);
      });
      expect((await driver.observe(instance)).exists).toBe(false);
    },
    2 * 60_000,
  );
});
