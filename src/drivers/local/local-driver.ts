import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { isTrustedAddress } from '../../access/trusted-sources.js';
import type { Config } from '../../config/config-schema.js';
import type { ObservedInstance } from '../../instances/instance-schemas.js';
import type { ThemeRef } from '../../themes/theme-schemas.js';
import { createKeyedMutex } from '../../platform/file-lock.js';
import type { UpstreamObservation } from '../../edge/edge-upstream.js';
import { message, type CodedMessage, type StepMessage } from '../../platform/messages.js';
import type {
  AdminLoginCheck,
  ApplyResult,
  BackupRef,
  ChangeRoom,
  DesiredInstance,
  DestroyResult,
  Driver,
  StepReporter,
  UpgradeResult,
} from '../driver.js';
import { outcomeOf, StepFailure, stepper } from '../driver-steps.js';
import type { AdminApiAddress } from '../keycloak/admin-api.js';
import { handOverAdmin } from '../keycloak/admin-handover.js';
import { ensureFirstRealm } from '../keycloak/first-realm.js';
import { warmUpAdminApi } from '../keycloak/warm-up.js';
import { verifyAdminLogin } from '../keycloak/login-check.js';
import { createInstanceDatabases, instanceDatabaseName } from './instance-database.js';
import { createSchemaTemplates } from './schema-template.js';
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
import { deployedThemes, syncThemes, themesNeedRestart } from './instance-themes.js';
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
import { homeHasCurrentBuild, homeVersion, prepareHome } from './keycloak-home.js';
import { availableMemoryMb, hostRoom, switchBeside } from './keycloak-switch.js';
import { checkRollingUpdate, type RollingVerdict } from './update-compatibility.js';
import {
  findKeycloakProcesses,
  logTail,
  spawnKeycloak,
  stopKeycloak,
  stopNote,
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
    /** Served beside the instance's own name with the certificate stored for it (src/domains). */
    customHostname: string | null;
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
  /** The archive of an uploaded theme version (the control plane stores them). */
  themeArchive: (instanceId: string, theme: ThemeRef) => Promise<Buffer | undefined>;
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
   * tests of upgrades: the new version really starts, and migrates the database or starts beside the old one,
   * before the "failure").
   */
  testFaults?: LocalDriverTestFaults;
};

export type LocalDriverTestFaults = { failReadiness?(version: string): boolean };

export type EnsureRunningResult = 'running' | 'started' | 'stopped' | 'not-provisioned';

export type LocalDriver = Omit<Driver, 'destroy'> & {
  /** Everything of a local instance is on this host: its name is enough (the region is not needed). */
  destroy(
    instance: Pick<DesiredInstance, 'instanceId' | 'name'>,
    report: StepReporter,
  ): Promise<DestroyResult>;
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
  /**
   * Keycloak's management interface (health, /metrics) on loopback, where Prometheus scrapes it; null before the
   * instance's first apply chose its ports. Never routed through the edge.
   */
  managementEndpoint(instance: Pick<DesiredInstance, 'name'>): { host: string; port: number } | null;
  /** The size of the instance's database in bytes (0 when it does not exist). */
  databaseBytes(instance: Pick<DesiredInstance, 'name'>): Promise<number>;
  /** Makes the schema template of `version` on the instances' database server unless it is there. */
  prepareSchemaTemplate(version: string): Promise<void>;
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
  const databases = createInstanceDatabases(options.adminDatabaseUrl, logger);
  const schemaTemplates = createSchemaTemplates({
    adminDatabaseUrl: options.adminDatabaseUrl,
    distributions: options.distributions,
    workDir: instancesDir,
    logger,
  });
  const observation = createInstanceObservation({ databases, now });
  const backupsDir = options.backupsDir ?? path.join(config.dataDir, 'backups');
  const paths = (name: string) => instancePaths(instancesDir, name, backupsDir);
  const backups = createInstanceBackups({ adminDatabaseUrl: options.adminDatabaseUrl, backupsDir, logger });
  /** Keycloak's own HTTP port on loopback: the admin API the driver, the shared Keycloak module and the broker use. */
  const adminApiOf = (state: InstanceState): AdminApiAddress => ({
    url: `http://127.0.0.1:${state.ports.httpPort}`,
  });
  const customerAdmin = (instance: DesiredInstance) => ({
    username: instance.adminUsername,
    password: instance.secrets.adminPassword,
  });

  async function distributionOf(version: string): Promise<KeycloakDistribution> {
    try {
      return await options.distributions.get(version);
    } catch (error) {
      const detail = (error as Error).message;
      if (error instanceof DistributionUnavailableError)
        throw new StepFailure('permanent', message('failure.versionCannotRun', { version }), detail);
      throw new StepFailure('transient', message('failure.versionNotReadyYet', { version }), detail);
    }
  }

  /** `home`: the one Keycloak runs from (the active slot's, or the other one's while it switches). */
  function settingsFor(
    instance: DesiredInstance,
    p: InstancePaths,
    state: { ports: InstancePorts; url: string },
    distribution: KeycloakDistribution,
    home = p.home,
  ): KeycloakSettings {
    const database = instanceDatabaseName(instance.name);
    // A custom domain is served on the instance's own edge port; Keycloak's links and issuer follow it.
    const publicUrl = new URL(state.url);
    if (instance.customHostname) publicUrl.hostname = instance.customHostname;
    return renderKeycloakSettings({
      instance,
      ports: state.ports,
      publicUrl: publicUrl.origin,
      database: { ...databases.server, name: database, user: database },
      logFile: p.keycloakLog,
      javaHome: distribution.javaHome,
      maxHeapMb,
      responseTimeBuckets: homeHasCurrentBuild(home),
    });
  }

  /** The instance's `conf/keycloak.conf` in `home`: what every `kc.sh` command there reads (start, bootstrap-admin). */
  function writeConf(home: string, settings: KeycloakSettings): void {
    const confFile = path.join(home, 'conf', 'keycloak.conf');
    writeFileSync(confFile, settings.conf);
    // The file came from the distribution as 0644; it now holds the database password.
    chmodSync(confFile, 0o600);
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
    writeConf(home, settings);
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
      // The command connects to the instance's database with the home's configuration: written first.
      writeConf(p.home, settings);
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
      throw new StepFailure('transient', message('failure.temporaryAdminNotCreated'), result.tail);
  }

  // ---- apply ----------------------------------------------------------------------------------------------------

  /** The instance's edge route but its upstream port: the same for the edge-route step and a switch. */
  const routeOf = (instance: DesiredInstance) => ({
    instanceId: instance.instanceId,
    name: instance.name,
    trustedSources: instance.trustedSources,
    adminSources: instance.adminSources,
    customHostname: instance.customHostname,
  });

  /** The instance's themes into `home`; nothing to do (and no themes folder made) where there are none. */
  async function syncThemesInto(instance: DesiredInstance, home: string) {
    if (!instance.themes.length && !deployedThemes(home).length) return { notes: [], restart: false };
    return syncThemes({
      home,
      themes: instance.themes,
      archiveOf: (theme) => options.themeArchive(instance.instanceId, theme),
    });
  }

  /**
   * The steps of apply; the caller holds the instance's mutex. Throws StepFailure. A running Keycloak whose
   * settings or cached themes changed (or any, with `force`) is replaced beside itself when `room` allows
   * (keycloak-switch.ts), else stopped and started again. `refreshBuild`: a restart in place also makes a home
   * built with older build options again (prepareHome); a switch always makes the new home with today's.
   * `besideUpgrade`: a patch upgrade that Keycloak allows as a rolling update (instance-upgrade.ts): the running
   * Keycloak's home keeps its version, and the new version starts beside it and takes over.
   */
  async function applySteps(
    instance: DesiredInstance,
    report: StepReporter,
    mode: {
      force?: boolean;
      room?: ChangeRoom;
      restartId?: string;
      refreshBuild?: boolean;
      besideUpgrade?: boolean;
    } = {},
  ): Promise<{ outcome: 'ready'; url: string }> {
    const started = Date.now();
    const log = logger.child({ instance: instance.name });
    const step = stepper(log, report);
    const p = paths(instance.name);
    // With nothing running there is nothing to keep serving: the new version goes into the home as usual.
    const runningVersion = homeVersion(p.home);
    const keepRunningHome =
      mode.besideUpgrade === true &&
      runningVersion !== null &&
      runningVersion !== instance.version &&
      findKeycloakProcesses(p.home).length > 0;
    await step('database', async () => ({
      value: null,
      note: await databases.ensure(
        { name: instance.name, databasePassword: instance.secrets.databasePassword },
        {
          restore: instance.restoreFrom && (() => backups.restoreNew(instance.name, instance.restoreFrom!)),
          template: schemaTemplates.of(instance.version),
        },
      ),
    }));
    const { distribution, state } = await step('keycloak-home', async () => {
      const distribution = await distributionOf(instance.version);
      const prepared = await prepareHome({
        ...(keepRunningHome
          ? { version: runningVersion, distribution: await distributionOf(runningVersion) }
          : { version: instance.version, distribution }),
        name: instance.name,
        paths: p,
        instancesDir,
        portRange: config.keycloak.portRange,
        stopTimeoutMs,
        serialised,
        refreshBuild: mode.refreshBuild,
        restored: Boolean(instance.restoreFrom),
      });
      return { value: { distribution, state: prepared.state }, note: prepared.note };
    });
    const url = await step('edge-route', async () => {
      // A switch that moved the route already keeps it on the new Keycloak (a pass after a crash).
      const upstreamPort = state.standby?.routed ? state.standby.ports.httpPort : state.ports.httpPort;
      const route = await edge.ensureRoute({ ...routeOf(instance), upstreamPort });
      if (!URL.canParse(route.url))
        throw new StepFailure('transient', message('failure.edgeNoUrl'), route.url);
      if (state.url !== route.url) {
        state.url = route.url;
        writeState(p.state, state);
      }
      return { value: route.url, note: route.url };
    });
    const running = findKeycloakProcesses(p.home);
    const settings = settingsFor(instance, p, { ...state, url }, distribution);
    // Keycloak caches themes: a replaced or removed one needs a new Keycloak (a new one it finds by itself).
    const themesStale = running.length > 0 && themesNeedRestart(p.home, instance.themes);
    const replace =
      running.length > 0 &&
      (mode.force === true || keepRunningHome || state.startedHash !== settings.hash || themesStale);
    const handedOver = state.adminAccountDone && state.firstRealmDone;
    // Only orders that may switch offer room; any other apply that has to replace Keycloak restarts it in place.
    const room = mode.room && hostRoom(mode.room, availableMemoryMb());
    if (state.standby || keepRunningHome || (replace && handedOver && room?.secondInstance)) {
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
        settingsFor: (ports, home) => settingsFor(instance, p, { ports, url }, distribution, home),
        // The themes go into the home that will serve; the running one keeps what it serves until the switch.
        prepare: (home) => syncThemesInto(instance, home),
        start: (home, next, slot) => spawnIn(p, home, slot, next, distribution),
        route: async (upstreamPort) => {
          await edge.ensureRoute({ ...routeOf(instance), upstreamPort });
        },
        observeUpstream: (upstreamPort) => edge.observeUpstream(instance.instanceId, upstreamPort),
        restartId: mode.restartId,
        failReadiness: options.testFaults?.failReadiness?.(instance.version),
      });
    } else {
      if (replace && room) {
        await report(
          'restart-in-place',
          'done',
          room.secondInstance ? message('step.roomFirstStart') : room.why,
        );
      }
      // Only when there is something to do or undo: most instances never have a theme.
      const themesChanged =
        instance.themes.length || deployedThemes(p.home).length
          ? await step('themes', async () => {
              const synced = await syncThemesInto(instance, p.home);
              const note: CodedMessage[] = synced.notes.length
                ? [...synced.notes, ...(synced.restart ? [message('step.themesRestart')] : [])]
                : [message('step.themesUpToDate')];
              return { value: synced.restart, note };
            })
          : false;
      await step('keycloak-start', async () => {
        if (running.length && !replace && !themesChanged)
          return { value: null, note: message('step.keycloakAdopted', { pids: running.join(', ') }) };
        const restarted = running.length > 0;
        if (restarted) await stopKeycloak(p.home, stopTimeoutMs);
        // Written with the start: a retry of this restart order does not restart again.
        if (mode.restartId) state.restartedFor = mode.restartId;
        const pid = await startProcess(p, state, settings, distribution);
        return {
          value: null,
          note: message(
            !restarted
              ? 'step.keycloakStarted'
              : themesStale || themesChanged
                ? 'step.keycloakRestartedForTheme'
                : 'step.keycloakRestarted',
            { pid },
          ),
        };
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
          message('failure.keycloakNotReadyInTime'),
          'injected by a test (testFaults.failReadiness)',
        );
      if (waited.outcome === 'ready')
        return {
          value: null,
          note: message('step.keycloakReady', { seconds: Math.round((Date.now() - started) / 1000) }),
        };
      const tail = `${logTail(p.keycloakLog)}\n${logTail(p.consoleLog, 10)}`;
      throw new StepFailure(
        'transient',
        message(
          waited.outcome === 'exited'
            ? 'failure.keycloakExitedWhileStarting'
            : 'failure.keycloakNotReadyInTime',
        ),
        tail,
      );
    });
    if (instance.warm) {
      // The hand-over waits for the claiming order; its admin API paths run now, so that they are fast then.
      await step('warm-up', async () => ({
        value: null,
        note: await warmUpAdminApi({ api: adminApiOf(state), temporaryAdmin: state.bootstrapAdmin }),
      }));
      return { outcome: 'ready', url };
    }
    await step('admin-account', async () => {
      if (state.adminAccountDone) return { value: null, note: message('step.adminHandedOver') };
      const note = await handOverAdmin({
        api: adminApiOf(state),
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
      if (state.firstRealmDone) return { value: null, note: message('step.realmAlreadyCreated') };
      const note = await ensureFirstRealm({
        api: adminApiOf(state),
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

  /** `token` (the order's id): a retry after the new Keycloak started converges instead of restarting again. */
  async function restart(
    instance: DesiredInstance,
    report: StepReporter,
    token: string,
    room?: ChangeRoom,
  ): Promise<ApplyResult> {
    return outcomeOf(() =>
      serialised(instance.name, async () => {
        const p = paths(instance.name);
        const state = readState(p.state);
        // A retry of a restart whose new Keycloak already runs converges without restarting again.
        if (state?.restartedFor === token) return applySteps(instance, report, { room });
        const offered = hostRoom(
          room ?? { secondInstance: false, why: message('step.roomNotOffered') },
          availableMemoryMb(),
        );
        if (!state?.standby && !(state?.adminAccountDone && state.firstRealmDone && offered.secondInstance)) {
          await report(
            'restart-in-place',
            'done',
            offered.secondInstance ? message('step.roomFirstStart') : offered.why,
          );
          await stepper(logger.child({ instance: instance.name }), report)('keycloak-stop', async () => ({
            value: null,
            note: stopNote(await stopKeycloak(p.home, stopTimeoutMs)),
          }));
          // Stopped anyway: the home is made again too when it was built with older build options.
          return applySteps(instance, report, { force: true, room, restartId: token, refreshBuild: true });
        }
        return applySteps(instance, report, { force: true, room, restartId: token });
      }),
    );
  }

  async function upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    backupId: string,
    report: StepReporter,
    room?: ChangeRoom,
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
          room: room && hostRoom(room, availableMemoryMb()),
          checkRolling: () => checkRollingBeside(from, to),
          adminDatabaseUrl: options.adminDatabaseUrl,
          stopTimeoutMs,
        }),
      ),
    );
  }

  /** Keycloak's rolling-update check of the running home against the new version with the instance's settings. */
  async function checkRollingBeside(from: DesiredInstance, to: DesiredInstance): Promise<RollingVerdict> {
    const p = paths(to.name);
    const state = readState(p.state);
    if (!state?.url)
      throw new StepFailure('permanent', message('failure.noKeycloakHere'), 'no url in state.json');
    const [fromDistribution, toDistribution] = [
      await distributionOf(from.version),
      await distributionOf(to.version),
    ];
    const verdict = await checkRollingUpdate({
      fromHome: p.home,
      fromJavaHome: fromDistribution.javaHome,
      to: {
        version: to.version,
        distribution: toDistribution,
        conf: settingsFor(to, p, { ports: state.ports, url: state.url }, toDistribution).conf,
      },
      from: from.version,
      dir: p.dir,
    });
    if (!verdict.rolling)
      logger.info({ instance: to.name, detail: verdict.detail }, 'Keycloak allows no rolling update');
    return verdict;
  }

  async function verify(instance: DesiredInstance, url: string): Promise<AdminLoginCheck> {
    if (!EDGE_PROBE_ADDRESSES.some((address) => isTrustedAddress(address, instance.trustedSources))) {
      // The edge refuses this host too, as the customer's allowlist says: the admin's login on the instance
      // itself (the admin-account step) is the check we can make.
      return { ok: true, note: message('step.loginBehindEdge') };
    }
    const check = await verifyAdminLogin({
      url,
      connectTo: '127.0.0.1',
      ca: edge.caPem,
      ...customerAdmin(instance),
    });
    return check.ok ? { ok: true, note: message('step.loginThroughEdge') } : check;
  }

  // ---- destroy --------------------------------------------------------------------------------------------------

  async function destroy(
    instance: Pick<DesiredInstance, 'instanceId' | 'name'>,
    report: StepReporter,
  ): Promise<DestroyResult> {
    return serialised(instance.name, async () => {
      const p = paths(instance.name);
      const step = async (name: string, work: () => Promise<StepMessage>) => {
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
          stopped.push(await stopKeycloak(slotHome(p.dir, slot), stopTimeoutMs));
        return stopNote(
          stopped.find((result) => result === 'killed') ??
            stopped.find((r) => r === 'stopped') ??
            'not-running',
        );
      });
      await step('edge-route', async () => {
        await edge.removeRoute(instance.instanceId);
        return message('step.removed');
      });
      await step('database', () => databases.drop(instance.name));
      await step('instance-directory', async () => {
        rmSync(p.dir, { recursive: true, force: true });
        rmSync(p.backups, { recursive: true, force: true });
        observation.forget(instance.name);
        return message('step.removed');
      });
      logger.info({ instance: instance.name }, 'instance destroyed');
      return { outcome: 'done' as const };
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
    prepareSchemaTemplate: async (version) => {
      await schemaTemplates.of(version).make();
    },
    verifyAdminLogin: verify,
    async locateAdminApi(instance) {
      const state = readState(paths(instance.name).state);
      return state ? adminApiOf(state) : null;
    },
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
    managementEndpoint: (instance) => {
      const state = readState(paths(instance.name).state);
      return state && { host: '127.0.0.1', port: state.ports.managementPort };
    },
    databaseBytes: (instance) => databases.sizeBytes(instance.name),
  };
}
