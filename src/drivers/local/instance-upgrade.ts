import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import type { ChangeRoom, DesiredInstance, StepReporter, UpgradeResult } from '../driver.js';
import { asStepFailure, StepFailure, type stepper } from '../driver-steps.js';
import type { InstanceBackups } from './instance-backups.js';
import { instanceDatabaseName } from './instance-database.js';
import { readState, slotHome, writeState, type InstancePaths, type InstanceState } from './instance-files.js';
import { homeVersion } from './keycloak-home.js';
import { message } from '../../platform/messages.js';
import { stopKeycloak, stopNote } from './keycloak-process.js';
import { sha256OfFile, swapInRestored } from './postgres-dump.js';
import { isPatchUpgrade } from '../../orders/order-schemas.js';
import type { RollingVerdict } from './update-compatibility.js';

/**
 * An upgrade of a local instance, one of two ways. A patch release that Keycloak itself says can run beside the
 * old one (update-compatibility.ts), with room for a second Keycloak: backup while the old one serves, the new
 * version started beside it and switched to at the edge (keycloak-switch.ts), no downtime; if the new one does not
 * become ready, the old one simply serves on. Otherwise: backup (Keycloak stopped, so nothing written after it
 * could be lost by a rollback), the old home moved aside, the new version applied; if that fails, the new home
 * goes, the old home and the database come back, the old version starts (its steps are reported as
 * rollback-<step>). Progress lives in state.json (`upgrade`), so a retry resumes where a crash left. The caller
 * holds the instance's mutex; throws StepFailure.
 */
export async function upgradeInstance(options: {
  from: DesiredInstance;
  to: DesiredInstance;
  /** The control plane's name for the backup this upgrade takes first (src/backups). */
  backupId: string;
  backups: InstanceBackups;
  report: StepReporter;
  paths: InstancePaths;
  step: ReturnType<typeof stepper>;
  /** The built distribution of a version (throws StepFailure when it cannot be had). */
  distributionOf(version: string): Promise<unknown>;
  /**
   * The apply steps, for the new version and, on rollback, the old one; `besideUpgrade`: the running Keycloak's
   * home keeps its version and the new one starts beside it.
   */
  applySteps(
    instance: DesiredInstance,
    report: StepReporter,
    mode?: { besideUpgrade?: boolean },
  ): Promise<{ outcome: 'ready'; url: string }>;
  /** Room for a second Keycloak (the control plane's, narrowed by this host's memory); none: in place. */
  room?: ChangeRoom;
  /** Keycloak's own rolling-update check of the running `from` against `to` (update-compatibility.ts). */
  checkRolling(): Promise<RollingVerdict>;
  adminDatabaseUrl: string;
  stopTimeoutMs: number;
}): Promise<UpgradeResult> {
  const { from, to, report, paths: p, step, applySteps, stopTimeoutMs } = options;
  const previousHome = `${p.home}.previous`;
  const database = instanceDatabaseName(to.name);
  const update = (change: (state: InstanceState) => void) => {
    const state = readState(p.state);
    if (!state) throw new StepFailure('permanent', message('failure.noKeycloakHere'), 'no state.json');
    change(state);
    writeState(p.state, state);
    return state;
  };

  /** A patch release, room, a finished first start, and Keycloak's yes: the new version starts beside the old. */
  async function mayRunBeside(): Promise<boolean> {
    const state = readState(p.state);
    if (!isPatchUpgrade(from.version, to.version) || !state?.adminAccountDone || !state.firstRealmDone)
      return false;
    if (!options.room?.secondInstance) {
      await report('restart-in-place', 'done', options.room?.why ?? message('step.roomNotOffered'));
      return false;
    }
    return step('upgrade-compatibility', async () => {
      const verdict = await options.checkRolling();
      return { value: verdict.rolling, note: verdict.note };
    });
  }

  async function upgradeBeside(resumed: InstanceState['upgrade']): Promise<UpgradeResult> {
    const switching =
      resumed ??
      (await step('backup', async () => {
        // Taken while the old version serves (pg_dump reads one snapshot). A rolling update never restores it:
        // the customer's copy from before the upgrade, kept like any pre-upgrade backup.
        const backup = await options.backups.takeForUpgrade(p, to.name, options.backupId);
        const state = update((s) => {
          s.upgrade = { fromVersion: from.version, toVersion: to.version, backup, phase: 'switching' };
        });
        return { value: state.upgrade!, note: options.backups.describe(backup) };
      }));
    try {
      const ready = await applySteps(to, report, { besideUpgrade: true });
      await step('upgrade-cleanup', async () => {
        update((s) => delete s.upgrade);
        const file = switching.backup.location;
        return { value: null, note: message('step.upgradeSwitched', { version: to.version, file }) };
      });
      return { outcome: 'ready', url: ready.url, backup: switching.backup };
    } catch (error) {
      const state = readState(p.state);
      // Once the edge sends requests to the new version, going back is no longer "nothing happened": the order's
      // next pass finishes the switch instead.
      if (!state || state.standby?.routed || homeVersion(slotHome(p.dir, state.slot ?? 'a')) === to.version)
        throw error;
      const failure = asStepFailure(error, 'upgrade');
      update((s) => delete s.upgrade);
      return {
        outcome: 'rolled-back',
        url: state.url ?? '',
        backup: switching.backup,
        reason: message('failure.upgradeBesideNotReady', { version: to.version, previous: from.version }),
        detail: `${failure.reason} ${failure.detail}`.trim(),
      };
    }
  }

  // Nothing stops before the new version is at hand.
  await step('upgrade-prepare', async () => {
    await options.distributionOf(to.version);
    await options.distributionOf(from.version);
    return { value: null, note: message('step.upgradePrepared', { version: to.version }) };
  });
  let pending = readState(p.state)?.upgrade;
  if (pending && pending.toVersion !== to.version)
    throw new StepFailure(
      'permanent',
      message('failure.upgradeUnfinished'),
      `state.json has an upgrade to ${pending.toVersion}`,
    );
  if (!pending && homeVersion(p.home) === to.version) {
    // Upgraded already (a crash after the new version came up): converge and report the kept backup.
    const ready = await applySteps(to, report);
    const file = options.backups.backupFile(p, options.backupId);
    const sha256 = await sha256OfFile(file);
    const backup = {
      location: file,
      sizeBytes: statSync(file).size,
      sha256,
      durationMs: 0,
      postgresMajor: 0,
    };
    return { outcome: 'ready', url: ready.url, backup };
  }
  if (pending?.phase === 'switching' || (!pending && (await mayRunBeside()))) return upgradeBeside(pending);
  if (!pending) {
    pending = await step('backup', async () => {
      // Stopped first, so that nothing written after the backup would be lost by a rollback.
      const stopped = await stopKeycloak(p.home, stopTimeoutMs);
      const backup = await options.backups.takeForUpgrade(p, to.name, options.backupId);
      const state = update((s) => {
        s.upgrade = { fromVersion: from.version, toVersion: to.version, backup, phase: 'upgrading' };
      });
      return {
        value: state.upgrade!,
        note: [stopNote(stopped), options.backups.describe(backup)],
      };
    });
  }
  const backupFile = pending.backup.location;

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
        return {
          value: null,
          note: message('step.upgradeCleanedUp', { version: from.version, file: backupFile }),
        };
      });
      return { outcome: 'ready', url: ready.url, backup: pending.backup };
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
    await options.backups.restoreDatabase(database, {
      id: options.backupId,
      location: pending.backup.location,
      sha256: pending.backup.sha256,
    });
    await swapInRestored({ adminDatabaseUrl: options.adminDatabaseUrl, database });
    return {
      value: null,
      note: message('step.rolledBack', { version: from.version, file: backupFile }),
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
    backup: pending.backup,
    reason: message('failure.upgradeRolledBack', { version: to.version, previous: from.version }),
    // Why the new version failed is the operator's: the customer's reason says what runs now.
    detail: `${failure.reason} ${failure.detail}`.trim(),
  };
}
