import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import {
  backupLabel,
  dropDatabaseBackups,
  restoreDatabaseBackup,
  takeDatabaseBackup,
  type DatabaseBackup,
} from './database-backup.js';
import type {
  ApplyResult,
  Condition,
  DesiredInstance,
  Driver,
  ObservedInstance,
  StepReporter,
  UpgradeResult,
} from './driver.js';
import { createKeyedMutex } from './file-lock.js';
import { renderKeycloakSettings, type InstancePorts, type KeycloakSettings } from './keycloak-config.js';
import {
  DistributionUnavailableError,
  keycloakProcessEnv,
  type KeycloakDistribution,
} from './keycloak-distribution.js';
import {
  findKeycloakProcesses,
  isKeycloakReady,
  logTail,
  spawnKeycloak,
  stopKeycloak,
  waitForKeycloakReady,
} from './keycloak-process.js';
import { allocatePorts, isPortFree } from './port-allocation.js';
import { runCommand } from './process-runner.js';

/**
 * The `local` region's driver: one Keycloak process per instance on this host, each with its own PostgreSQL database
 * and role in the server Keyhouse uses, its own home (a hard-linked copy of the built distribution) under
 * `<dataDir>/instances/<name>`, and loopback ports behind the edge. Every step checks what exists before it acts,
 * so `apply` heals any partial state a crash left behind, and Keycloak processes run detached: they keep serving
 * while Keyhouse restarts, and the next apply adopts them instead of starting twins.
 */

/** What the local driver needs from the edge (adapted by the composition root to src/edge). */
export type EdgeRoutes = {
  /** Creates or updates the instance's listener; answers its public URL, e.g. https://kc-1a2b.localhost:18001. */
  ensureRoute(route: {
    instanceId: string;
    name: string;
    upstreamPort: number;
    trustedSources: string[];
    adminSources: string[];
  }): Promise<{ url: string }>;
  /** Removes the listener; safe to repeat. */
  removeRoute(instanceId: string): Promise<void>;
};

export type LocalDriverOptions = {
  config: Config;
  /** Superuser URL of the PostgreSQL Keyhouse uses; instance databases and roles are created there. */
  adminDatabaseUrl: string;
  distributions: { get(version: string): Promise<KeycloakDistribution> };
  logger: Logger;
  edge: EdgeRoutes;
  /** Default `<dataDir>/instances`. */
  instancesDir?: string;
  /** From start to /health/ready; a first start creates the schema (about a minute on 2 vCPUs). */
  readyTimeoutMs?: number;
  /** SIGTERM to SIGKILL. */
  stopTimeoutMs?: number;
  /** Heap cap per instance whatever its node size; this host runs many. */
  maxHeapMb?: number;
  /** Shown in Ready conditions and used in backup names; injected by tests. */
  now?: () => Date;
  /**
   * Faults a test injects to reach failure paths with a real Keycloak; never set in production.
   * `failReadiness(version)`: after Keycloak of that version became ready, report it as not ready (the rollback
   * test of upgrades: the new version really starts and migrates the database before the "failure").
   */
  testFaults?: LocalDriverTestFaults;
};

export type LocalDriverTestFaults = { failReadiness?(version: string): boolean };

export type EnsureRunningResult = 'running' | 'started' | 'stopped' | 'not-provisioned';

export type LocalDriver = Driver & {
  /**
   * For the supervisor: starts the instance's Keycloak again when it was provisioned and no process runs. Does not
   * wait for readiness and changes nothing else (no database, edge or admin work). With `start: false` it only
   * looks ('stopped' instead of 'started').
   */
  ensureRunning(instance: DesiredInstance, options?: { start?: boolean }): Promise<EnsureRunningResult>;
  /** The live Keycloak JVM pids of an instance (normally one); for diagnostics and tests. */
  processes(instance: Pick<DesiredInstance, 'name'>): number[];
  /** Where the instance lives on disk. */
  instanceDir(instance: Pick<DesiredInstance, 'name'>): string;
};

// ---------------------------------------------------------------------------------------------------------------
// Names and state

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The database and role of an instance: kc-1a2b3c4d → kc_1a2b3c4d (PostgreSQL identifiers avoid dashes). */
export function instanceDatabaseName(name: string): string {
  const base = name.replace(/^kc-/, '').replace(/[^a-z0-9]/g, '_');
  return `kc_${base}`.slice(0, 63);
}

/** Kept in `<instanceDir>/state.json` (mode 0600: it holds the temporary admin's password until handover). */
type InstanceState = {
  ports: InstancePorts;
  /** Until the customer's admin exists; then removed from here and from Keycloak. */
  bootstrapAdmin: { username: string; password: string } | null;
  url: string | null;
  adminAccountDone: boolean;
  firstRealmDone: boolean;
  /** Settings hash the running process was started with; another hash means restart. */
  startedHash: string | null;
  /** An upgrade in progress (or its rollback), so a retry after a crash resumes it instead of starting over. */
  upgrade?: {
    fromVersion: string;
    toVersion: string;
    backup: DatabaseBackup;
    phase: 'upgrading' | 'rolling-back';
    failure?: { reason: string; detail: string };
  };
};

type HomeMarker = { version: string };

class StepFailure extends Error {
  constructor(
    readonly kind: 'transient' | 'permanent',
    /** For the customer (permanent) or the order's step message. */
    readonly reason: string,
    /** For the operator. */
    readonly detail: string,
  ) {
    super(`${reason} ${detail}`.trim());
    this.name = 'StepFailure';
  }
}

function asStepFailure(error: unknown, step: string): StepFailure {
  return error instanceof StepFailure
    ? error
    : new StepFailure('transient', `Step ${step} failed; it will be retried.`, (error as Error).message);
}

function backupName(backup: DatabaseBackup): string {
  return backup.method === 'template' ? `database ${backup.database}` : `dump ${backup.file}`;
}

function isAuthRejection(error: unknown): boolean {
  return error instanceof NetworkError && (error.response.status === 401 || error.response.status === 400);
}

function isConflict(error: unknown): boolean {
  return error instanceof NetworkError && error.response.status === 409;
}

/** Bytes this instance owns on disk: files shared with the distribution through hard links do not count. */
async function ownedBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry);
    try {
      const stat = await lstat(full);
      if (stat.isDirectory()) total += await ownedBytes(full);
      else if (stat.nlink === 1) total += stat.size;
    } catch {
      // removed while we counted
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------

export function createLocalDriver(options: LocalDriverOptions): LocalDriver {
  const { config, edge } = options;
  const logger = options.logger.child({ component: 'local-driver' });
  const instancesDir = options.instancesDir ?? path.join(config.dataDir, 'instances');
  const readyTimeoutMs = options.readyTimeoutMs ?? 5 * 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const maxHeapMb = options.maxHeapMb ?? 1024;
  const now = options.now ?? (() => new Date());
  const serialised = createKeyedMutex();
  const dbServer = new URL(options.adminDatabaseUrl);
  const dbHost = dbServer.hostname || '127.0.0.1';
  const dbPort = Number(dbServer.port || 5432);
  /** Last Ready/StorageNearlyFull status per instance, so lastTransitionTime only moves on a change. */
  const transitions = new Map<string, { status: string; at: string }>();

  const paths = (name: string) => {
    if (!NAME_PATTERN.test(name)) throw new StepFailure('permanent', 'The instance name is invalid.', name);
    const dir = path.join(instancesDir, name);
    return {
      dir,
      home: path.join(dir, 'keycloak'),
      state: path.join(dir, 'state.json'),
      pid: path.join(dir, 'keycloak.pid'),
      keycloakLog: path.join(dir, 'logs', 'keycloak.log'),
      consoleLog: path.join(dir, 'logs', 'console.log'),
    };
  };

  function readState(file: string): InstanceState | null {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as InstanceState;
    } catch {
      return null;
    }
  }

  function writeState(file: string, state: InstanceState) {
    // Write-then-rename: a crash leaves the old or the new state, never half of one.
    writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  async function withAdminDb<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: options.adminDatabaseUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** Ports recorded by every instance on this host, so two never get the same. */
  function recordedPorts(except: string): Set<number> {
    const taken = new Set<number>();
    let names: string[] = [];
    try {
      names = readdirSync(instancesDir);
    } catch {
      return taken;
    }
    for (const name of names) {
      if (name === except) continue;
      const state = readState(path.join(instancesDir, name, 'state.json'));
      if (state) [state.ports.httpPort, state.ports.managementPort].forEach((p) => taken.add(p));
    }
    return taken;
  }

  // ---- steps ----------------------------------------------------------------------------------------------------

  async function ensureDatabase(instance: DesiredInstance): Promise<string> {
    const name = instanceDatabaseName(instance.name);
    return withAdminDb(async (client) => {
      const role = client.escapeIdentifier(name);
      const password = client.escapeLiteral(instance.secrets.databasePassword);
      let roleNote = 'role created';
      try {
        await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${password}`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42710') throw error; // duplicate_object
        // Set it again: the role may stem from an attempt with another password, or been changed by hand.
        await client.query(`ALTER ROLE ${role} LOGIN PASSWORD ${password}`);
        roleNote = 'role existed';
      }
      let dbNote = 'database created';
      try {
        await client.query(`CREATE DATABASE ${role} OWNER ${role} ENCODING 'UTF8'`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42P04') throw error; // duplicate_database
        await client.query(`ALTER DATABASE ${role} OWNER TO ${role}`);
        dbNote = 'database existed';
      }
      // Other instances' roles must not even connect to this database.
      await client.query(`REVOKE ALL ON DATABASE ${role} FROM PUBLIC`);
      return `${name}: ${dbNote}, ${roleNote}`;
    });
  }

  async function distributionOf(version: string): Promise<KeycloakDistribution> {
    try {
      return await options.distributions.get(version);
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof DistributionUnavailableError)
        throw new StepFailure('permanent', `Keycloak ${version} cannot run on this host.`, message);
      throw new StepFailure('transient', `Keycloak ${version} is not ready on this host yet.`, message);
    }
  }

  function homeVersion(home: string): string | null {
    try {
      return (JSON.parse(readFileSync(path.join(home, '.keyhouse-home.json'), 'utf8')) as HomeMarker).version;
    } catch {
      return null;
    }
  }

  async function prepareHome(
    instance: DesiredInstance,
    p: ReturnType<typeof paths>,
  ): Promise<{ distribution: KeycloakDistribution; state: InstanceState; note: string }> {
    const distribution = await distributionOf(instance.version);
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    mkdirSync(path.dirname(p.keycloakLog), { recursive: true });
    const notes: string[] = [];

    // The home: a hard-linked copy of the built distribution, rebuilt when the version changes (an upgrade).
    const markerFile = path.join(p.home, '.keyhouse-home.json');
    let marker: HomeMarker | null = null;
    try {
      marker = JSON.parse(readFileSync(markerFile, 'utf8')) as HomeMarker;
    } catch {
      marker = null;
    }
    if (marker?.version !== instance.version) {
      if (findKeycloakProcesses(p.home).length) {
        await stopKeycloak(p.home, stopTimeoutMs);
        notes.push(`stopped Keycloak ${marker?.version ?? '?'}`);
      }
      const staging = `${p.home}.new`;
      rmSync(staging, { recursive: true, force: true });
      const copy = await runCommand('cp', ['-al', distribution.home, staging]);
      if (copy.code !== 0) throw new StepFailure('transient', 'Copying Keycloak failed.', copy.tail);
      // conf/ and data/ are written to: real copies, or we would write into the shared distribution.
      for (const writable of ['conf', 'data']) {
        const target = path.join(staging, writable);
        rmSync(target, { recursive: true, force: true });
        const source = path.join(distribution.home, writable);
        if (existsSync(source)) {
          const real = await runCommand('cp', ['-a', source, target]);
          if (real.code !== 0) throw new StepFailure('transient', 'Copying Keycloak failed.', real.tail);
        } else mkdirSync(target);
      }
      writeFileSync(path.join(staging, '.keyhouse-home.json'), JSON.stringify({ version: instance.version }));
      rmSync(p.home, { recursive: true, force: true });
      renameSync(staging, p.home);
      notes.push(`home for Keycloak ${instance.version} created`);
    }

    // Ports: allocated once and kept, so restarts and the edge route stay stable.
    let state = readState(p.state);
    const running = findKeycloakProcesses(p.home).length > 0;
    const portsBusy = async (ports: InstancePorts) =>
      !(await isPortFree(ports.httpPort)) || !(await isPortFree(ports.managementPort));
    if (!state || (!running && (await portsBusy(state.ports)))) {
      const previous = state;
      // Allocation and recording happen under one lock: a parallel apply must see these ports as taken.
      state = await serialised('ports', async () => {
        const [httpPort, managementPort] = await allocatePorts({
          range: config.keycloak.portRange,
          taken: recordedPorts(instance.name),
          count: 2,
        }).catch((error: Error) => {
          throw new StepFailure('transient', 'No free port for Keycloak on this host.', error.message);
        });
        const ports = { httpPort: httpPort!, managementPort: managementPort! };
        const next: InstanceState = previous
          ? { ...previous, ports }
          : {
              ports,
              bootstrapAdmin: {
                username: 'keyhouse-bootstrap',
                password: randomBytes(24).toString('base64url'),
              },
              url: null,
              adminAccountDone: false,
              firstRealmDone: false,
              startedHash: null,
            };
        writeState(p.state, next);
        return next;
      });
      notes.push(
        previous
          ? `ports moved to ${state.ports.httpPort}/${state.ports.managementPort} (old ones busy)`
          : `ports ${state.ports.httpPort}/${state.ports.managementPort}`,
      );
    }
    return { distribution, state, note: notes.join('; ') || 'up to date' };
  }

  function settingsFor(
    instance: DesiredInstance,
    p: ReturnType<typeof paths>,
    state: InstanceState & { url: string },
    distribution: KeycloakDistribution,
  ): KeycloakSettings {
    const database = instanceDatabaseName(instance.name);
    return renderKeycloakSettings({
      instance,
      ports: state.ports,
      publicUrl: state.url,
      database: { host: dbHost, port: dbPort, name: database, user: database },
      logFile: p.keycloakLog,
      javaHome: distribution.javaHome,
      maxHeapMb,
    });
  }

  async function startProcess(
    p: ReturnType<typeof paths>,
    state: InstanceState,
    settings: KeycloakSettings,
    distribution: KeycloakDistribution,
  ): Promise<number> {
    const confFile = path.join(p.home, 'conf', 'keycloak.conf');
    writeFileSync(confFile, settings.conf);
    // The file came from the distribution as 0644; it now holds the database password.
    chmodSync(confFile, 0o600);
    // Only acts when the master realm is created (first start on an empty database); harmless afterwards.
    const bootstrap: Record<string, string> =
      state.bootstrapAdmin && !state.adminAccountDone
        ? {
            KC_BOOTSTRAP_ADMIN_USERNAME: state.bootstrapAdmin.username,
            KC_BOOTSTRAP_ADMIN_PASSWORD: state.bootstrapAdmin.password,
          }
        : {};
    const pid = await spawnKeycloak({
      home: p.home,
      cwd: p.dir,
      consoleLog: p.consoleLog,
      pidFile: p.pid,
      env: keycloakProcessEnv(distribution.javaHome, { ...settings.env, ...bootstrap }),
    });
    state.startedHash = settings.hash;
    writeState(p.state, state);
    return pid;
  }

  async function ensureAdminAccount(
    instance: DesiredInstance,
    state: InstanceState,
    p: ReturnType<typeof paths>,
  ) {
    if (state.adminAccountDone) return 'already handed over';
    const baseUrl = `http://127.0.0.1:${state.ports.httpPort}`;
    const login = async (username: string, password: string) => {
      const client = new KcAdminClient({ baseUrl, realmName: 'master' });
      try {
        await client.auth({ grantType: 'password', clientId: 'admin-cli', username, password });
        return client;
      } catch (error) {
        if (isAuthRejection(error)) return null;
        throw error;
      }
    };
    const boot = state.bootstrapAdmin;
    const bootClient = boot ? await login(boot.username, boot.password) : null;
    let note: string;
    if (bootClient) {
      const [existing] = await bootClient.users.find({ realm: 'master', username: 'admin', exact: true });
      let userId = existing?.id;
      if (!userId) {
        try {
          userId = (await bootClient.users.create({ realm: 'master', username: 'admin', enabled: true })).id;
        } catch (error) {
          if (!isConflict(error)) throw error;
          userId = (await bootClient.users.find({ realm: 'master', username: 'admin', exact: true }))[0]?.id;
        }
      }
      if (!userId)
        throw new StepFailure('transient', 'The admin account could not be created.', 'no user id');
      await bootClient.users.resetPassword({
        realm: 'master',
        id: userId,
        credential: { type: 'password', value: instance.secrets.adminPassword, temporary: false },
      });
      const adminRole = await bootClient.roles.findOneByName({ realm: 'master', name: 'admin' });
      if (!adminRole?.id || !adminRole.name)
        throw new StepFailure(
          'transient',
          'The admin role of the master realm is missing.',
          'roles.findOneByName',
        );
      await bootClient.users.addRealmRoleMappings({
        realm: 'master',
        id: userId,
        roles: [{ id: adminRole.id, name: adminRole.name }],
      });
      note = 'admin created';
    } else note = 'admin existed';

    // The customer's account must work before the temporary one goes.
    const adminClient = await login('admin', instance.secrets.adminPassword);
    if (!adminClient)
      throw new StepFailure(
        bootClient ? 'transient' : 'permanent',
        'The administrator account could not be set up.',
        bootClient
          ? 'admin login failed right after setting its password'
          : `neither "admin" nor the temporary admin can log in; see ${p.keycloakLog}`,
      );
    if (boot) {
      const temporary = await adminClient.users.find({
        realm: 'master',
        username: boot.username,
        exact: true,
      });
      for (const user of temporary)
        if (user.id) await adminClient.users.del({ realm: 'master', id: user.id });
      note += ', temporary admin deleted';
    }
    state.adminAccountDone = true;
    state.bootstrapAdmin = null;
    writeState(p.state, state);
    return note;
  }

  async function ensureFirstRealm(
    instance: DesiredInstance,
    state: InstanceState,
    p: ReturnType<typeof paths>,
  ) {
    if (state.firstRealmDone) return 'already created';
    const client = new KcAdminClient({
      baseUrl: `http://127.0.0.1:${state.ports.httpPort}`,
      realmName: 'master',
    });
    try {
      await client.auth({
        grantType: 'password',
        clientId: 'admin-cli',
        username: 'admin',
        password: instance.secrets.adminPassword,
      });
    } catch (error) {
      if (isAuthRejection(error))
        throw new StepFailure(
          'permanent',
          'The administrator account cannot log in.',
          'first realm: admin login rejected',
        );
      throw error;
    }
    let note = 'realm existed';
    if (!(await client.realms.findOne({ realm: instance.customerNumber }))) {
      try {
        await client.realms.create({ realm: instance.customerNumber, enabled: true });
        note = 'realm created';
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    state.firstRealmDone = true;
    writeState(p.state, state);
    return `${instance.customerNumber}: ${note}`;
  }

  // ---- apply ----------------------------------------------------------------------------------------------------

  /** Runs one named step: reports it running, then done with a note, or failed with the reason. */
  function stepper(instance: Pick<DesiredInstance, 'name'>, report: StepReporter) {
    const log = logger.child({ instance: instance.name });
    return async <T>(name: string, work: () => Promise<{ value: T; note: string }>): Promise<T> => {
      await report(name, 'running');
      try {
        const { value, note } = await work();
        await report(name, 'done', note);
        log.info({ step: name, note }, 'step done');
        return value;
      } catch (error) {
        const failure = asStepFailure(error, name);
        await report(name, 'failed', failure.reason);
        log.warn({ step: name, kind: failure.kind, detail: failure.detail }, 'step failed');
        throw failure;
      }
    };
  }

  /** Maps step failures to the contract's outcomes. */
  async function outcomeOf<T>(
    work: () => Promise<T>,
  ): Promise<T | Exclude<ApplyResult, { outcome: 'ready' }>> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof StepFailure)
        return error.kind === 'permanent'
          ? { outcome: 'permanent-error', reason: error.reason, detail: error.detail }
          : { outcome: 'transient-error', message: `${error.reason} ${error.detail}`.trim().slice(0, 4000) };
      return { outcome: 'transient-error', message: (error as Error).message };
    }
  }

  /** The steps of apply; the caller holds the instance's mutex. Throws StepFailure. */
  async function applySteps(
    instance: DesiredInstance,
    report: StepReporter,
  ): Promise<{ outcome: 'ready'; url: string }> {
    const started = Date.now();
    const log = logger.child({ instance: instance.name });
    const step = stepper(instance, report);
    const p = paths(instance.name);
    await step('database', async () => ({ value: null, note: await ensureDatabase(instance) }));
    const { distribution, state } = await step('keycloak-home', async () => {
      const prepared = await prepareHome(instance, p);
      return { value: prepared, note: prepared.note };
    });
    const url = await step('edge-route', async () => {
      const route = await edge.ensureRoute({
        instanceId: instance.instanceId,
        name: instance.name,
        upstreamPort: state.ports.httpPort,
        trustedSources: instance.trustedSources,
        adminSources: instance.adminSources,
      });
      try {
        new URL(route.url);
      } catch {
        throw new StepFailure('transient', 'The edge answered no usable URL.', route.url);
      }
      if (state.url !== route.url) {
        state.url = route.url;
        writeState(p.state, state);
      }
      return { value: route.url, note: route.url };
    });
    await step('keycloak-start', async () => {
      const settings = settingsFor(instance, p, { ...state, url }, distribution);
      const running = findKeycloakProcesses(p.home);
      if (running.length && state.startedHash === settings.hash)
        return { value: null, note: `adopted running process ${running.join(', ')}` };
      let note = '';
      if (running.length) {
        await stopKeycloak(p.home, stopTimeoutMs);
        note = 'restarted with new settings: ';
      }
      const pid = await startProcess(p, state, settings, distribution);
      return { value: null, note: `${note}started (process group ${pid})` };
    });
    await step('keycloak-ready', async () => {
      const waited = await waitForKeycloakReady({
        home: p.home,
        managementPort: state.ports.managementPort,
        timeoutMs: readyTimeoutMs,
      });
      if (waited.outcome === 'ready' && options.testFaults?.failReadiness?.(instance.version))
        throw new StepFailure(
          'transient',
          'Keycloak did not become ready in time.',
          'injected by a test (testFaults.failReadiness)',
        );
      if (waited.outcome === 'ready')
        return {
          value: null,
          note: `ready after ${Math.round((Date.now() - started) / 1000)} s of apply`,
        };
      const tail = `${logTail(p.keycloakLog)}\n${logTail(p.consoleLog, 10)}`;
      throw new StepFailure(
        'transient',
        waited.outcome === 'exited'
          ? 'Keycloak stopped while starting.'
          : 'Keycloak did not become ready in time.',
        tail,
      );
    });
    await step('admin-account', async () => ({
      value: null,
      note: await ensureAdminAccount(instance, state, p),
    }));
    await step('first-realm', async () => ({
      value: null,
      note: await ensureFirstRealm(instance, state, p),
    }));
    log.info({ seconds: Math.round((Date.now() - started) / 1000), url }, 'instance ready');
    return { outcome: 'ready', url };
  }

  async function apply(instance: DesiredInstance, report: StepReporter): Promise<ApplyResult> {
    return outcomeOf(() => serialised(instance.name, () => applySteps(instance, report)));
  }

  // ---- restart --------------------------------------------------------------------------------------------------

  async function restart(instance: DesiredInstance, report: StepReporter): Promise<ApplyResult> {
    return outcomeOf(() =>
      serialised(instance.name, async () => {
        const p = paths(instance.name);
        await stepper(instance, report)('keycloak-stop', async () => ({
          value: null,
          note: await stopKeycloak(p.home, stopTimeoutMs),
        }));
        return applySteps(instance, report);
      }),
    );
  }

  // ---- upgrade --------------------------------------------------------------------------------------------------

  /**
   * Backup (Keycloak stopped, so the copy is consistent), the old home moved aside, the new version applied. If it
   * fails: the new home goes, the old home and the database come back, the old version starts (its steps are
   * reported as rollback-<step>). Progress lives in state.json (`upgrade`), so a retry resumes where a crash left.
   */
  async function upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    report: StepReporter,
  ): Promise<UpgradeResult> {
    return outcomeOf(() =>
      serialised(to.name, async (): Promise<UpgradeResult> => {
        const p = paths(to.name);
        const step = stepper(to, report);
        const previousHome = `${p.home}.previous`;
        const database = instanceDatabaseName(to.name);
        const update = (change: (state: InstanceState) => void) => {
          const state = readState(p.state);
          if (!state)
            throw new StepFailure('permanent', 'The instance has no Keycloak here.', 'no state.json');
          change(state);
          writeState(p.state, state);
          return state;
        };

        // Nothing stops before the new version is at hand.
        await step('upgrade-prepare', async () => {
          await distributionOf(to.version);
          await distributionOf(from.version);
          return { value: null, note: `Keycloak ${to.version} is ready to install` };
        });
        let pending = readState(p.state)?.upgrade;
        if (pending && pending.toVersion !== to.version)
          throw new StepFailure(
            'permanent',
            'Another upgrade of this instance is unfinished; our team has been notified.',
            `state.json has an upgrade to ${pending.toVersion}`,
          );
        if (!pending && homeVersion(p.home) === to.version) {
          // Upgraded already (a crash after the new version came up): converge and report the kept backup.
          const ready = await applySteps(to, report);
          return { outcome: 'ready', url: ready.url, backup: 'taken by the earlier attempt' };
        }
        if (!pending) {
          pending = await step('backup', async () => {
            const stopped = await stopKeycloak(p.home, stopTimeoutMs);
            const backup = await takeDatabaseBackup({
              adminDatabaseUrl: options.adminDatabaseUrl,
              database,
              label: backupLabel(now()),
              dumpDir: path.join(p.dir, 'backups'),
            });
            const state = update((s) => {
              s.upgrade = { fromVersion: from.version, toVersion: to.version, backup, phase: 'upgrading' };
            });
            return {
              value: state.upgrade!,
              note: `Keycloak ${stopped}; ${backup.method === 'pg_dump' ? 'pg_dump' : 'server-side copy'}: ${backupName(backup)}`,
            };
          });
        }
        const backup = backupName(pending.backup);

        if (pending.phase === 'upgrading') {
          try {
            if (!existsSync(previousHome) && homeVersion(p.home) === from.version) {
              await stopKeycloak(p.home, stopTimeoutMs);
              renameSync(p.home, previousHome);
            }
            const ready = await applySteps(to, report);
            await step('upgrade-cleanup', async () => {
              rmSync(previousHome, { recursive: true, force: true });
              update((s) => delete s.upgrade);
              return { value: null, note: `Keycloak ${from.version} home removed; backup kept: ${backup}` };
            });
            return { outcome: 'ready', url: ready.url, backup };
          } catch (error) {
            const failure = asStepFailure(error, 'upgrade');
            // Whatever went wrong with the new version (not ready, would not start, crashed), the old one returns.
            pending = update((s) => {
              s.upgrade = {
                ...pending!,
                phase: 'rolling-back',
                failure: { reason: failure.reason, detail: failure.detail },
              };
            }).upgrade!;
          }
        }

        await step('rollback', async () => {
          await stopKeycloak(p.home, stopTimeoutMs);
          if (existsSync(previousHome)) {
            rmSync(p.home, { recursive: true, force: true });
            renameSync(previousHome, p.home);
          }
          await restoreDatabaseBackup({
            adminDatabaseUrl: options.adminDatabaseUrl,
            database,
            owner: database,
            backup: pending.backup,
          });
          return {
            value: null,
            note: `Keycloak ${from.version} home and the database restored from ${backup}`,
          };
        });
        const rolledBack = await applySteps(from, (name, state, message) =>
          report(`rollback-${name}`, state, message),
        );
        update((s) => delete s.upgrade);
        const failure = pending.failure ?? { reason: 'The upgrade failed.', detail: '' };
        return {
          outcome: 'rolled-back',
          url: rolledBack.url,
          backup,
          reason:
            `Keycloak ${to.version} did not become ready (${failure.reason.replace(/\.$/, '')}). Your instance ` +
            `was rolled back to Keycloak ${from.version} with its data from the backup taken before the ` +
            `upgrade, and runs as before.`,
          detail: failure.detail,
        };
      }),
    );
  }

  // ---- destroy --------------------------------------------------------------------------------------------------

  async function destroy(instance: Pick<DesiredInstance, 'instanceId' | 'name'>, report: StepReporter) {
    await serialised(instance.name, async () => {
      const p = paths(instance.name);
      const step = async (name: string, work: () => Promise<string>) => {
        await report(name, 'running');
        try {
          await report(name, 'done', await work());
        } catch (error) {
          await report(name, 'failed', (error as Error).message);
          throw error;
        }
      };
      await step('keycloak-stop', async () => stopKeycloak(p.home, stopTimeoutMs));
      await step('edge-route', async () => {
        await edge.removeRoute(instance.instanceId);
        return 'removed';
      });
      await step('database', async () => {
        const name = instanceDatabaseName(instance.name);
        return withAdminDb(async (client) => {
          const id = client.escapeIdentifier(name);
          // FORCE: a Keycloak we could not see (another host's?) must not keep the database alive.
          await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
          const backups = await dropDatabaseBackups({
            adminDatabaseUrl: options.adminDatabaseUrl,
            database: name,
          });
          await client.query(`DROP ROLE IF EXISTS ${id}`);
          return `${name} dropped${backups.length ? `, with ${backups.length} backup(s)` : ''}`;
        });
      });
      await step('instance-directory', async () => {
        rmSync(p.dir, { recursive: true, force: true });
        transitions.delete(`${instance.name}/Ready`);
        transitions.delete(`${instance.name}/StorageNearlyFull`);
        return 'removed';
      });
      logger.info({ instance: instance.name }, 'instance destroyed');
    });
  }

  // ---- observe --------------------------------------------------------------------------------------------------

  function condition(
    name: string,
    type: string,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Condition {
    const key = `${name}/${type}`;
    const previous = transitions.get(key);
    const at = previous && previous.status === status ? previous.at : now().toISOString();
    transitions.set(key, { status, at });
    return { type, status, reason, message, lastTransitionTime: at };
  }

  async function observe(
    instance: Pick<DesiredInstance, 'instanceId' | 'name' | 'storageGb'>,
  ): Promise<ObservedInstance> {
    const p = paths(instance.name);
    const state = readState(p.state);
    if (!state || !existsSync(p.home))
      return {
        exists: false,
        ready: false,
        url: null,
        conditions: [
          condition(instance.name, 'Ready', 'False', 'NotProvisioned', 'No Keycloak on this host yet.'),
        ],
        usage: null,
      };
    const running = findKeycloakProcesses(p.home).length > 0;
    const ready = running && (await isKeycloakReady(state.ports.managementPort));
    const conditions = [
      ready
        ? condition(instance.name, 'Ready', 'True', 'Ready', 'Keycloak answers /health/ready.')
        : running
          ? condition(instance.name, 'Ready', 'False', 'Starting', 'Keycloak runs but is not ready yet.')
          : condition(instance.name, 'Ready', 'False', 'ProcessNotRunning', 'No Keycloak process runs.'),
    ];
    const databaseBytes = await withAdminDb(async (client) => {
      const result = await client.query<{ size: string | null }>(
        'SELECT pg_database_size(datname)::text AS size FROM pg_database WHERE datname = $1',
        [instanceDatabaseName(instance.name)],
      );
      return Number(result.rows[0]?.size ?? 0);
    });
    const used = databaseBytes + (await ownedBytes(p.dir));
    const quota = instance.storageGb * 1024 ** 3;
    const percent = Math.round((used / quota) * 100);
    conditions.push(
      used > quota * 0.9
        ? condition(
            instance.name,
            'StorageNearlyFull',
            'True',
            'Above90Percent',
            `${percent}% of ${instance.storageGb} GB used.`,
          )
        : condition(
            instance.name,
            'StorageNearlyFull',
            'False',
            'Below90Percent',
            `${percent}% of ${instance.storageGb} GB used.`,
          ),
    );
    return {
      exists: true,
      ready,
      url: state.url,
      conditions,
      usage: { storageUsedBytes: used, storageQuotaBytes: quota },
    };
  }

  // ---- supervision ----------------------------------------------------------------------------------------------

  async function ensureRunning(
    instance: DesiredInstance,
    ensureOptions: { start?: boolean } = {},
  ): Promise<EnsureRunningResult> {
    return serialised(instance.name, async () => {
      const p = paths(instance.name);
      const state = readState(p.state);
      if (!state || !state.url || !state.startedHash || !existsSync(p.home)) return 'not-provisioned';
      if (findKeycloakProcesses(p.home).length) return 'running';
      if (ensureOptions.start === false) return 'stopped';
      const distribution = await options.distributions.get(instance.version);
      const settings = settingsFor(instance, p, { ...state, url: state.url }, distribution);
      const pid = await startProcess(p, state, settings, distribution);
      logger.warn({ instance: instance.name, pid }, 'Keycloak was not running: started it again');
      return 'started';
    });
  }

  return {
    apply,
    restart,
    upgrade,
    destroy,
    observe,
    ensureRunning,
    processes: (instance) => findKeycloakProcesses(paths(instance.name).home),
    instanceDir: (instance) => paths(instance.name).dir,
  };
}

// ---------------------------------------------------------------------------------------------------------------

export type Supervisor = {
  /** One pass over the desired instances (the timer calls it; tests may too). */
  runOnce(): Promise<Map<string, EnsureRunningResult | 'backing-off' | 'failed'>>;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
};

/**
 * Restarts the Keycloak processes of provisioned local instances that died (crash, OOM kill, host reboot). The
 * caller says which instances should run (the reconciler's desired specs of the local region). An instance that
 * keeps dying is restarted with growing pauses (1, 2, 4 … up to 30 minutes) instead of in a tight loop.
 */
export function superviseLocalInstances(options: {
  driver: Pick<LocalDriver, 'ensureRunning'>;
  desiredInstances: () => Promise<DesiredInstance[]>;
  logger: Logger;
  intervalMs?: number;
  now?: () => number;
}): Supervisor {
  const logger = options.logger.child({ component: 'local-supervisor' });
  const intervalMs = options.intervalMs ?? 15_000;
  const now = options.now ?? Date.now;
  const restarts = new Map<string, { count: number; lastAt: number }>();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function runOnce() {
    const results = new Map<string, EnsureRunningResult | 'backing-off' | 'failed'>();
    let desired: DesiredInstance[];
    try {
      desired = await options.desiredInstances();
    } catch (error) {
      logger.error({ err: error }, 'could not list the desired instances');
      return results;
    }
    for (const instance of desired) {
      const history = restarts.get(instance.name);
      const pausing =
        history !== undefined &&
        now() - history.lastAt < Math.min(30 * 60_000, 60_000 * 2 ** (history.count - 1));
      try {
        // While pausing after a restart we only look, so a healthy instance still reads 'running'.
        const result = await options.driver.ensureRunning(instance, { start: !pausing });
        results.set(instance.name, result === 'stopped' ? 'backing-off' : result);
        if (result === 'started') {
          // A restart within 10 minutes of the last one counts as "keeps dying".
          const recent = history && now() - history.lastAt < 10 * 60_000;
          restarts.set(instance.name, { count: recent ? history.count + 1 : 1, lastAt: now() });
        } else if (history && now() - history.lastAt > 10 * 60_000) restarts.delete(instance.name);
      } catch (error) {
        results.set(instance.name, 'failed');
        logger.error({ err: error, instance: instance.name }, 'could not restart Keycloak');
      }
    }
    return results;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      const pass = runOnce().finally(schedule);
      current = pass.catch(() => undefined);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce: () => {
      const pass = runOnce();
      current = pass.catch(() => undefined);
      return pass;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
