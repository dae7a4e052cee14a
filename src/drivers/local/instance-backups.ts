import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BackupRef, BackupResult, DesiredInstance, StepReporter, TakenBackup } from '../driver.js';
import { outcomeOf, StepFailure, type stepper } from '../driver-steps.js';
import { instanceDatabaseName } from './instance-database.js';
import { readState, writeState, type InstancePaths } from './instance-files.js';
import { message } from '../../platform/messages.js';
import { stopKeycloak, stopNote } from './keycloak-process.js';
import { dumpDatabase, restoreIntoScratch, swapInRestored, type DumpResult } from './postgres-dump.js';

/**
 * The local driver's backups (src/backups' one mechanism on this host): dump files in `<backupsDir>/<name>/<id>.dump`
 * through postgres-dump.ts, taken while Keycloak runs, and the restore in place (beside the live database, then
 * swapped in while Keycloak is stopped). A backup's `location` is its file; only files of the backup folder are read
 * or removed, whatever a location says.
 */
export function createInstanceBackups(options: {
  adminDatabaseUrl: string;
  backupsDir: string;
  logger: Logger;
}) {
  const { adminDatabaseUrl, backupsDir } = options;

  function backupFile(p: InstancePaths, backupId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(backupId))
      throw new StepFailure('permanent', message('failure.backupIdInvalid'), backupId);
    return path.join(p.backups, `${backupId}.dump`);
  }

  function checkedLocation(location: string): string {
    const resolved = path.resolve(location);
    if (!resolved.startsWith(`${path.resolve(backupsDir)}${path.sep}`) || !resolved.endsWith('.dump'))
      throw new StepFailure('permanent', message('failure.backupNotHere'), location);
    return resolved;
  }

  const taken = (dump: DumpResult, location: string): TakenBackup => ({ location, ...dump });

  async function dumpInto(p: InstancePaths, database: string, file: string): Promise<DumpResult> {
    mkdirSync(p.backups, { recursive: true, mode: 0o700 });
    try {
      return await dumpDatabase({ adminDatabaseUrl, database, file });
    } catch (error) {
      throw new StepFailure('transient', 'The backup could not be taken.', (error as Error).message);
    }
  }

  /** Restores `from` as the database `database` (which must not be served: scratch first, then one rename). */
  async function restoreDatabase(database: string, from: BackupRef) {
    await restoreIntoScratch({
      adminDatabaseUrl,
      database,
      owner: database,
      file: checkedLocation(from.location),
      sha256: from.sha256,
    }).catch((error: Error) => {
      throw new StepFailure('transient', 'The backup could not be restored.', error.message);
    });
  }

  return {
    backupFile,
    checkedLocation,
    describe: (backup: TakenBackup) =>
      message('step.backupFile', {
        file: backup.location,
        kib: Math.round(backup.sizeBytes / 1024),
        sha256: backup.sha256.slice(0, 12),
      }),

    /** A backup taken for an upgrade, under its id (the caller stopped Keycloak). Throws StepFailure. */
    async takeForUpgrade(p: InstancePaths, name: string, backupId: string): Promise<TakenBackup> {
      const file = backupFile(p, backupId);
      return taken(await dumpInto(p, instanceDatabaseName(name), file), file);
    },

    /** A consistent backup while Keycloak runs. */
    async backup(p: InstancePaths, name: string, backupId: string): Promise<BackupResult> {
      return outcomeOf(async () => {
        const file = backupFile(p, backupId);
        const dump = await dumpInto(p, instanceDatabaseName(name), file);
        options.logger.info(
          { instance: name, backupId, bytes: dump.sizeBytes, ms: dump.durationMs },
          'backup taken',
        );
        return { outcome: 'done' as const, ...taken(dump, file) };
      });
    },

    /** A new instance's database from a backup of another instance (the name holds only a whole database). */
    async restoreNew(name: string, from: BackupRef): Promise<{ backupId: string }> {
      const database = instanceDatabaseName(name);
      await restoreDatabase(database, from);
      await swapInRestored({ adminDatabaseUrl, database });
      return { backupId: from.id };
    },

    /** Replaces the instance's database with the backup's, the live one as it was until the restored one is whole. */
    restoreDatabase,

    /**
     * Restore in place (the caller holds the instance's mutex): restored beside the live database while Keycloak
     * keeps serving it; then Keycloak stops, the restored database takes the name in one transaction, a temporary
     * admin is to be bootstrapped (the backup's master realm has its own admin), and `applySteps` converges the
     * instance as after any apply. Progress lives in state.json. Throws StepFailure.
     */
    async restoreInPlace(args: {
      instance: DesiredInstance;
      from: BackupRef;
      paths: InstancePaths;
      step: ReturnType<typeof stepper>;
      report: StepReporter;
      stopTimeoutMs: number;
      applySteps(instance: DesiredInstance, report: StepReporter): Promise<{ outcome: 'ready'; url: string }>;
    }): Promise<{ outcome: 'ready'; url: string }> {
      const { instance, from, paths: p, step } = args;
      const database = instanceDatabaseName(instance.name);
      const state = readState(p.state);
      if (!state) throw new StepFailure('permanent', message('failure.noKeycloakHere'), 'no state.json');
      if (state.restore && state.restore.backupId !== from.id)
        throw new StepFailure(
          'permanent',
          message('failure.restoreUnfinished'),
          `state.json has a restore of ${state.restore.backupId}`,
        );
      if (state.restore?.phase !== 'swapped') {
        await step('restore-database', async () => {
          await restoreDatabase(database, from);
          state.restore = { backupId: from.id, phase: 'restoring' };
          writeState(p.state, state);
          return { value: null, note: message('step.restoredBeside', { backup: from.id }) };
        });
        await step('restore-switch', async () => {
          const stopped = await stopKeycloak(p.home, args.stopTimeoutMs);
          const swapped = await swapInRestored({ adminDatabaseUrl, database });
          state.restore = { backupId: from.id, phase: 'swapped' };
          state.adminAccountDone = false;
          state.bootstrapAdmin = {
            username: 'keyhouse-bootstrap',
            password: randomBytes(24).toString('base64url'),
          };
          state.bootstrapAdminBy = 'command';
          writeState(p.state, state);
          return {
            value: null,
            note: [
              stopNote(stopped),
              message(swapped === 'swapped' ? 'step.restoredSwapped' : 'step.restoredAlreadySwapped'),
            ],
          };
        });
      }
      const ready = await args.applySteps(instance, args.report);
      const done = readState(p.state)!;
      delete done.restore;
      writeState(p.state, done);
      return ready;
    },

    async remove(location: string) {
      rmSync(checkedLocation(location), { force: true });
    },

    async read(location: string) {
      return createReadStream(checkedLocation(location));
    },
  };
}
export type InstanceBackups = ReturnType<typeof createInstanceBackups>;
