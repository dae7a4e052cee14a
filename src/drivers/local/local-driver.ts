import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { isTrustedAddress } from '../../access/trusted-sources.js';
import type { Config } from '../../config/config-schema.js';
import type { ObservedInstance } from '../../instances/instance-schemas.js';
import { createKeyedMutex } from '../../platform/file-lock.js';
import type { UpstreamObservation } from '../../edge/edge-upstream.js';
import type {
  AdminLoginCheck,
  ApplyResult,
  BackupRef,
  ChangeRoom,
  DesiredInstance,
  Driver,
  StepReporter,
  UpgradeResult,
} from '../driver.js';
import { outcomeOf, StepFailure, stepper } from '../driver-steps.js';
import { handOverAdmin } from '../keycloak/admin-handover.js';
import { ensureFirstRealm } from '../keycloak/first-realm.js';
import { verifyAdminLogin } from '../keycloak/login-check.js';
import { createInstanceDatabases, instanceDatabaseName } from './instance-database.js';
import {
  defaultInstancesDir,
  instancePaths,
  otherSlot,
  readState,
  slotHome,
  writeState,
  type InstancePaths,
  type InstanceState,
  type Slot,
} from './instance-files.js';
import { createInstanceObservation } from './instance-observation.js';
import { upgradeInstance } from './instance-upgrade.js';
import { createInstanceBackups } from './instance-backups.js';
import { runCommand } from '../../platform/process-runner.js';
import { renderKeycloakSettings, type InstancePorts, type KeycloakSettings } from './keycloak-config.js';
import {
  DistributionUnavailableError,
  keycloakProcessEnv,
  type KeycloakDistribution,
} from './keycloak-distribution.js';
import { prepareHome } from './keycloak-home.js';
import { availableMemoryMb, hostRoom, switchBeside } from './keycloak-switch.js';
import {
  findKeycloakProcesses,
  logTail,
  spawnKeycloak,
  stopKeycloak,
  waitForKeycloakReady,
} from './keycloak-process.js';

/**
 * The `local` region's driver: one Keycloak process per instance on this host, each with its own PostgreSQL database
 * and role in the server Keyhouse uses (instance-database.ts), its own home (a hard-linked copy of the built
 * distribution, keycloak-home.ts) under `<dataDir>/instances/<name>` (instance-files.ts), and loopback ports behind
 * the edge. Every step checks what exists before it acts, so `apply` heals any partial state a crash left behind,
 * and Keycloak processes run detached: they keep serving while Keyhouse restarts, and the next apply adopts them
 * instead of starting twins. The Keycloak work any backend needs (admin handover, first realm, login check) is the
 * shared module's (../keycloak/).
 */

/** What the local driver needs from the edge (adapted by the local backend to src/edge). */
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
  /** Whether this host's edge sends the instance's requests to `upstreamPort` only (old workers gone). */
  observeUpstream(instanceId: string, upstreamPort: number): Promise<UpstreamObservation>;
  /** The certificate authority of the edge's instance certificates (PEM), for the login check. */
  caPem: string;
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
  /** Where the dumps go, one folder per instance; default `<dataDir>/backups` (outside the storage quota). */
  backupsDir?: string;
  /** From start to /health/ready; a first start creates the schema (about a minute on 2 vCPUs). */
  readyTimeoutMs?: number;
  /** SIGTERM to SIGKILL. */
  stopTimeoutMs?: number;
  /** How long a switch waits for the edge to stop sending requests to the old Keycloak (default 120 s). */
  drainTimeoutMs?: number;
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

/** The edge listens on this host: the login check goes through it when the customer trusts this host. */
const EDGE_PROBE_ADDRESSES = ['127.0.0.1', '::1'];

export function createLocalDriver(options: LocalDriverOptions): LocalDriver {
  const { config, edge } = options;
  const logger = options.logger.child({ component: 'local-driver' });
  const instancesDir = options.instancesDir ?? defaultInstancesDir(config.dataDir);
  const readyTimeoutMs = options.readyTimeoutMs ?? 5 * 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  const maxHeapMb = options.maxHeapMb ?? 1024;
  const now = options.now ?? (() => new Date());
  const serialised = createKeyedMutex();
  const databases = createInstanceDatabases(options.adminDatabaseUrl);
  const observation = createInstanceObservation({ databases, now });
  const backupsDir = options.backupsDir ?? path.join(config.dataDir, 'backups');
  const paths = (name: string) => instancePaths(instancesDir, name, backupsDir);
  const backups = createInstanceBackups({ adminDatabaseUrl: options.adminDatabaseUrl, backupsDir, logger });
  /** Keycloak's own HTTP port on loopback: the admin API the driver and the shared Keycloak module use. */
  const adminApiUrl = (state: InstanceState) => `http://127.0.0.1:${state.ports.httpPort}`;
  const customerAdmin = (instance: DesiredInstance) => ({
    username: instance.adminUsername,
    password: instance.secrets.adminPassword,
  });

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

  function settingsFor(
    instance: DesiredInstance,
    p: InstancePaths,
    state: { ports: InstancePorts; url: string },
    distribution: KeycloakDistribution,
  ): KeycloakSettings {
    const database = instanceDatabaseName(instance.name);
    return renderKeycloakSettings({
      instance,
      ports: state.ports,
      publicUrl: state.url,
      database: { ...databases.server, name: database, user: database },
      logFile: p.keycloakLog,
      javaHome: distribution.javaHome,
      maxHeapMb,
    });
  }

  /** Writes the settings into `home` and starts Keycloak there (detached); answers the wrapper's pid. */
  async function spawnIn(
    p: InstancePaths,
    home: string,
    slot: Slot,
    settings: KeycloakSettings,
    distribution: KeycloakDistribution,
    extraEnv: Record<string, string> = {},
  ): Promise<number> {
    const confFile = path.join(home, 'conf', 'keycloak.conf');
    writeFileSync(confFile, settings.conf);
    // The file came from the distribution as 0644; it now holds the database password.
    chmodSync(confFile, 0o600);
    return spawnKeycloak({
      home,
      cwd: p.dir,
      consoleLog: p.consoleLog,
      pidFile: slot === 'a' ? p.pid : `${p.pid.replace(/\.pid$/, '')}-b.pid`,
      env: keycloakProcessEnv(distribution.javaHome, { ...settings.env, ...extraEnv }),
    });
  }

  async function startProcess(
    p: InstancePaths,
    state: InstanceState,
    settings: KeycloakSettings,
    distribution: KeycloakDistribution,
  ): Promise<number> {
    if (state.bootstrapAdmin && !state.adminAccountDone && state.bootstrapAdminBy === 'command') {
      await bootstrapAdminByCommand(p, state.bootstrapAdmin, settings, distribution);
      state.bootstrapAdminBy = 'start';
      writeState(p.state, state);
    }
    // Only acts when the master realm is created (first start on an empty database); harmless afterwards.
    const bootstrap: Record<string, string> =
      state.bootstrapAdmin && !state.adminAccountDone
        ? {
            KC_BOOTSTRAP_ADMIN_USERNAME: state.bootstrapAdmin.username,
            KC_BOOTSTRAP_ADMIN_PASSWORD: state.bootstrapAdmin.password,
          }
        : {};
    const pid = await spawnIn(p, p.home, state.slot ?? 'a', settings, distribution, bootstrap);
    state.startedHash = settings.hash;
    writeState(p.state, state);
    return pid;
  }

  /**
   * Creates the temporary admin in a database that has its master realm already (a restored backup), with Keycloak
   * stopped: `kc.sh bootstrap-admin user` on the instance's own configuration. The admin hand-over then works as
   * on a first start: the customer's admin gets the instance's password, the temporary one goes.
   */
  async function bootstrapAdminByCommand(
    p: InstancePaths,
    admin: { username: string; password: string },
    settings: KeycloakSettings,
    distribution: KeycloakDistribution,
  ) {
    const result = await runCommand(
      path.join(p.home, 'bin', 'kc.sh'),
      [
        'bootstrap-admin',
        'user',
        '--optimized',
        '--username:env',
        'KEYHOUSE_BOOTSTRAP_USERNAME',
        '--password:env',
        'KEYHOUSE_BOOTSTRAP_PASSWORD',
      ],
      {
        cwd: p.dir,
        env: keycloakProcessEnv(distribution.javaHome, {
          ...settings.env,
          KEYHOUSE_BOOTSTRAP_USERNAME: admin.username,
          KEYHOUSE_BOOTSTRAP_PASSWORD: admin.password,
        }),
      },
    );
    // A second run after a crash finds the user there: Keycloak says so, and the hand-over can go on.
    if (result.code !== 0 && !/already exists/i.test(result.tail))
      throw new StepFailure('transient', 'The temporary admin could not be created.', result.tail);
  }

  // ---- apply ----------------------------------------------------------------------------------------------------

  /**
   * The steps of apply; the caller holds the instance's mutex. Throws StepFailure. A running Keycloak whose
   * settings changed (or any, with `force`) is replaced beside itself when `room` allows (keycloak-switch.ts),
   * else stopped and started again.
   */
  async function applySteps(
    instance: DesiredInstance,
    report: StepReporter,
    mode: { force?: boolean; room?: ChangeRoom; restartId?: string } = {},
  ): Promise<{ outcome: 'ready'; url: string }> {
    const started = Date.now();
    const log = logger.child({ instance: instance.name });
    const step = stepper(log, report);
    const p = paths(instance.name);
    await step('database', async () => ({
      value: null,
      note: await databases.ensure(
        { name: instance.name, databasePassword: instance.secrets.databasePassword },
        instance.restoreFrom && (() => backups.restoreNew(instance.name, instance.restoreFrom!)),
      ),
    }));
    const { distribution, state } = await step('keycloak-home', async () => {
      const distribution = await distributionOf(instance.version);
      const prepared = await prepareHome({
        version: instance.version,
        name: instance.name,
        paths: p,
        distribution,
        instancesDir,
        portRange: config.keycloak.portRange,
        stopTimeoutMs,
        serialised,
        restored: Boolean(instance.restoreFrom),
      });
      return { value: { distribution, state: prepared.state }, note: prepared.note };
    });
    const url = await step('edge-route', async () => {
      // A switch that moved the route already keeps it on the new Keycloak (a pass after a crash).
      const upstreamPort = state.standby?.routed ? state.standby.ports.httpPort : state.ports.httpPort;
      const route = await edge.ensureRoute({
        instanceId: instance.instanceId,
        name: instance.name,
        upstreamPort,
        trustedSources: instance.trustedSources,
        adminSources: instance.adminSources,
      });
      if (!URL.canParse(route.url))
        throw new StepFailure('transient', 'The edge answered no usable URL.', route.url);
      if (state.url !== route.url) {
        state.url = route.url;
        writeState(p.state, state);
      }
      return { value: route.url, note: route.url };
    });
    const settings = settingsFor(instance, p, { ...state, url }, distribution);
    const running = findKeycloakProcesses(p.home);
    const replace = running.length > 0 && (mode.force === true || state.startedHash !== settings.hash);
    const handedOver = state.adminAccountDone && state.firstRealmDone;
    const room = hostRoom(
      mode.room ?? { secondInstance: false, why: 'no room was offered for a second Keycloak' },
      availableMemoryMb(),
    );
    if (state.standby || (replace && handedOver && room.secondInstance)) {
      await switchBeside({
        instance,
        paths: p,
        state,
        url,
        distribution,
        step,
        instancesDir,
        portRange: config.keycloak.portRange,
        serialised,
        stopTimeoutMs,
        readyTimeoutMs,
        drainTimeoutMs,
        settingsFor: (ports) => settingsFor(instance, p, { ports, url }, distribution),
        start: (home, next, slot) => spawnIn(p, home, slot, next, distribution),
        route: async (upstreamPort) => {
          await edge.ensureRoute({
            instanceId: instance.instanceId,
            name: instance.name,
            upstreamPort,
            trustedSources: instance.trustedSources,
            adminSources: instance.adminSources,
          });
        },
        observeUpstream: (upstreamPort) => edge.observeUpstream(instance.instanceId, upstreamPort),
        restartId: mode.restartId,
      });
    } else {
      if (replace) {
        await report(
          'restart-in-place',
          'done',
          room.secondInstance ? 'the first start is not finished' : room.why,
        );
      }
      await step('keycloak-start', async () => {
        if (running.length && !replace)
          return { value: null, note: `adopted running process ${running.join(', ')}` };
        let note = '';
        if (running.length) {
          await stopKeycloak(p.home, stopTimeoutMs);
          note = 'restarted with new settings: ';
        }
        // Written with the start: a retry of this restart order does not restart again.
        if (mode.restartId) state.restartedFor = mode.restartId;
        const pid = await startProcess(p, state, settings, distribution);
        return { value: null, note: `${note}started (process group ${pid})` };
      });
    }
    // A home of the other slot holds no Keycloak once a switch is over (one left by a crash is stopped).
    const stray = slotHome(p.dir, otherSlot(state.slot ?? 'a'));
    if (findKeycloakProcesses(stray).length) {
      const stopped = await stopKeycloak(stray, stopTimeoutMs);
      log.warn({ home: stray, stopped }, 'stopped a Keycloak left in the inactive slot');
    }
    await step('keycloak-ready', async () => {
      const waited = await waitForKeycloakReady({
        home: slotHome(p.dir, state.slot ?? 'a'),
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
    await step('admin-account', async () => {
      if (state.adminAccountDone) return { value: null, note: 'already handed over' };
      const note = await handOverAdmin({
        baseUrl: adminApiUrl(state),
        temporaryAdmin: state.bootstrapAdmin,
        customerAdmin: customerAdmin(instance),
        diagnostics: p.keycloakLog,
      });
      state.adminAccountDone = true;
      state.bootstrapAdmin = null;
      writeState(p.state, state);
      return { value: null, note };
    });
    await step('first-realm', async () => {
      if (state.firstRealmDone) return { value: null, note: 'already created' };
      const note = await ensureFirstRealm({
        baseUrl: adminApiUrl(state),
        customerAdmin: customerAdmin(instance),
        realm: instance.customerNumber,
      });
      state.firstRealmDone = true;
      writeState(p.state, state);
      return { value: null, note };
    });
    log.info({ seconds: Math.round((Date.now() - started) / 1000), url }, 'instance ready');
    return { outcome: 'ready', url };
  }

  async function apply(
    instance: DesiredInstance,
    report: StepReporter,
    room?: ChangeRoom,
  ): Promise<ApplyResult> {
    return outcomeOf(() => serialised(instance.name, () => applySteps(instance, report, { room })));
  }

  async function restart(
    instance: DesiredInstance,
    report: StepReporter,
    room?: ChangeRoom,
    restartId?: string,
  ): Promise<ApplyResult> {
    return outcomeOf(() =>
      serialised(instance.name, async () => {
        const p = paths(instance.name);
        const state = readState(p.state);
        // A retry of a restart whose new Keycloak already runs converges without restarting again.
        if (restartId && state?.restartedFor === restartId) return applySteps(instance, report, { room });
        const offered = hostRoom(
          room ?? { secondInstance: false, why: 'no room was offered for a second Keycloak' },
          availableMemoryMb(),
        );
        if (!state?.standby && !(state?.adminAccountDone && state.firstRealmDone && offered.secondInstance)) {
          await report(
            'restart-in-place',
            'done',
            offered.secondInstance ? 'the first start is not finished' : offered.why,
          );
          await stepper(logger.child({ instance: instance.name }), report)('keycloak-stop', async () => ({
            value: null,
            note: await stopKeycloak(p.home, stopTimeoutMs),
          }));
        }
        return applySteps(instance, report, { force: true, room, restartId });
      }),
    );
  }

  async function upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    backupId: string,
    report: StepReporter,
  ): Promise<UpgradeResult> {
    return outcomeOf(() =>
      serialised(to.name, () =>
        upgradeInstance({
          from,
          to,
          backupId,
          backups,
          report,
          paths: paths(to.name),
          step: stepper(logger.child({ instance: to.name }), report),
          distributionOf,
          applySteps,
          adminDatabaseUrl: options.adminDatabaseUrl,
          stopTimeoutMs,
        }),
      ),
    );
  }

  async function verify(instance: DesiredInstance, url: string): Promise<AdminLoginCheck> {
    if (!EDGE_PROBE_ADDRESSES.some((address) => isTrustedAddress(address, instance.trustedSources))) {
      // The edge refuses this host too, as the customer's allowlist says: the admin's login on the instance
      // itself (the admin-account step) is the check we can make.
      return {
        ok: true,
        note: 'this host is not a trusted source; login verified on the instance behind the edge',
      };
    }
    const check = await verifyAdminLogin({
      url,
      connectTo: '127.0.0.1',
      ca: edge.caPem,
      ...customerAdmin(instance),
    });
    return check.ok ? { ok: true, note: 'the admin logged in through the edge' } : check;
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
      await step('keycloak-stop', async () => {
        // Both slots: a switch may have been cut short with a Keycloak in each.
        const stopped = [];
        for (const slot of ['a', 'b'] as const)
          stopped.push(`${slot}: ${await stopKeycloak(slotHome(p.dir, slot), stopTimeoutMs)}`);
        return stopped.join(', ');
      });
      await step('edge-route', async () => {
        await edge.removeRoute(instance.instanceId);
        return 'removed';
      });
      await step('database', () => databases.drop(instance.name));
      await step('instance-directory', async () => {
        rmSync(p.dir, { recursive: true, force: true });
        rmSync(p.backups, { recursive: true, force: true });
        observation.forget(instance.name);
        return 'removed';
      });
      logger.info({ instance: instance.name }, 'instance destroyed');
    });
  }

  // ---- backups (src/backups) ------------------------------------------------------------------------------------

  async function restore(
    instance: DesiredInstance,
    from: BackupRef,
    report: StepReporter,
  ): Promise<ApplyResult> {
    return outcomeOf(() =>
      serialised(instance.name, () =>
        backups.restoreInPlace({
          instance,
          from,
          paths: paths(instance.name),
          step: stepper(logger.child({ instance: instance.name }), report),
          report,
          stopTimeoutMs,
          applySteps,
        }),
      ),
    );
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
      // A switch cut short by a crash: the order's next pass finishes it; the new one may serve meanwhile.
      if (state.standby && findKeycloakProcesses(slotHome(p.dir, state.standby.slot)).length)
        return 'running';
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
    verifyAdminLogin: verify,
    backup: (instance, backupId) => backups.backup(paths(instance.name), instance.name, backupId),
    restore,
    removeBackup: async (instance, location) => {
      paths(instance.name);
      await backups.remove(location);
    },
    readBackup: async (instance, location) => {
      paths(instance.name);
      return backups.read(location);
    },
    observe: (instance): Promise<ObservedInstance> => observation.observe(instance, paths(instance.name)),
    ensureRunning,
    processes: (instance) => findKeycloakProcesses(paths(instance.name).home),
    instanceDir: (instance) => paths(instance.name).dir,
  };
}
