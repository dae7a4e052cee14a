import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type {
  BackupRef,
  BackupResult,
  Driver,
  InstanceRef,
  StepReporter,
  TakenBackup,
} from '../drivers/driver.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import { message, renderStepMessage, type CodedMessage, type StepMessage } from '../platform/messages.js';
import { backupPolicyOf, type BackupKind } from './backup-schemas.js';
import {
  backupsInUse,
  deleteExpiredBackup,
  ensureBackup,
  failBackup,
  findBackupById,
  findBackupInstance,
  finishBackup,
  listBackups,
  listExpiringBackups,
  markExpiring,
  startBackup,
  type StoredBackup,
} from './backup-store.js';
import { backupsToExpire } from './retention.js';

/**
 * Takes backups through the region's driver and keeps their records: the one path for nightly backups (a job per
 * instance and night), on-demand ones (a `backup` order) and the ones before an upgrade or a restore (steps of
 * those orders). Also removes the backups that retention lets go, in two steps (mark, then remove file and row)
 * so that a crash in between is finished by the next pass.
 */
export type BackupInstance = { id: string; name: string; spec: InstanceSpec };
/** How the driver names the instance: the region says which cluster (or host) holds its backups. */
const refOf = (instance: BackupInstance): InstanceRef => ({
  instanceId: instance.id,
  name: instance.name,
  region: instance.spec.region,
});

export type BackupOutcome =
  | { outcome: 'done'; backup: StoredBackup }
  | { outcome: 'retry'; message: string }
  /** `reason` is for the customer: coded wherever its words are ours. */
  | { outcome: 'failed'; reason: StepMessage; detail: string };

export function createBackupRunner(deps: {
  db: Database;
  logger: Logger;
  now: () => Date;
  driverFor(instance: BackupInstance): Driver | undefined;
}) {
  const { db } = deps;
  const logger = deps.logger.child({ component: 'backups' });

  /** Records the driver's answer; a failure is a condition on the instance and an error in the provider's log. */
  async function settle(
    backup: StoredBackup,
    instance: BackupInstance,
    result: BackupResult,
    lastAttempt: boolean,
  ): Promise<BackupOutcome> {
    switch (result.outcome) {
      case 'done': {
        const { outcome: _outcome, ...taken } = result;
        await finishBackup(db.pool, backup.id, taken);
        const stored = (await findBackupById(db.pool, backup.id))!;
        if (stored.kind === 'nightly') await expire(instance);
        return { outcome: 'done', backup: stored };
      }
      // A backend whose backup still runs (an operator's Backup object): look again later, like a transient error.
      case 'progressing':
      case 'transient-error':
        if (!lastAttempt) return { outcome: 'retry', message: result.message };
        return fail(backup, instance, message('failure.backupGaveUp'), result.message);
      case 'permanent-error':
        return fail(backup, instance, result.reason, result.detail);
      default:
        return result satisfies never;
    }
  }

  async function fail(
    backup: StoredBackup,
    instance: BackupInstance,
    reason: StepMessage,
    detail: string,
  ): Promise<BackupOutcome> {
    await failBackup(db.pool, backup.id, { reason: renderStepMessage(reason), operatorDetail: detail });
    logger.error(
      {
        instanceId: instance.id,
        instance: instance.name,
        backupId: backup.id,
        kind: backup.kind,
        reason: renderStepMessage(reason),
        detail,
      },
      'backup failed',
    );
    return { outcome: 'failed', reason, detail };
  }

  /** Takes the backup the row names (pending or interrupted); a done one is answered as it is. */
  async function take(
    backup: StoredBackup,
    instance: BackupInstance,
    options: { lastAttempt: boolean },
  ): Promise<BackupOutcome> {
    if (backup.status === 'done') return { outcome: 'done', backup };
    if (backup.status === 'failed' || backup.status === 'expiring')
      return {
        outcome: 'failed',
        reason: backup.failureReason ?? message('failure.backupFailed'),
        detail: backup.status,
      };
    const driver = deps.driverFor(instance);
    if (!driver)
      return fail(backup, instance, message('failure.backupsUnavailable'), `no driver for ${instance.name}`);
    const started = await startBackup(db.pool, backup.id);
    if (!started) return take((await findBackupById(db.pool, backup.id))!, instance, options);
    const result = await driver.backup(refOf(instance), backup.id);
    return settle(started, instance, result, options.lastAttempt);
  }

  /** Removes what retention lets go (and finishes removals a crash interrupted). */
  async function expire(instance: BackupInstance): Promise<string[]> {
    const backups = await listBackups(db.pool, instance.id);
    const ids = backupsToExpire(backups, {
      retention: backupPolicyOf(instance.spec).retention,
      now: deps.now().getTime(),
      inUse: await backupsInUse(db.pool, instance.id),
    });
    for (const id of ids) await markExpiring(db.pool, id);
    await removeExpiring(instance);
    return ids;
  }

  async function removeExpiring(only?: BackupInstance) {
    for (const backup of await listExpiringBackups(db.pool)) {
      if (only && backup.instanceId !== only.id) continue;
      const instance = only ?? (await findBackupInstance(db.pool, backup.instanceId))!;
      const driver = deps.driverFor(instance);
      if (!driver) continue;
      if (backup.location) await driver.removeBackup(refOf(instance), backup.location);
      await deleteExpiredBackup(db.pool, backup.id);
      logger.info(
        { instanceId: backup.instanceId, backupId: backup.id, kind: backup.kind },
        'backup removed',
      );
    }
  }

  return {
    take,
    expire,
    /**
     * A backup that belongs to an order (on-demand, pre-restore), reported as that order's step `step`: created
     * once per order and kind, so a retried order takes it at most once.
     */
    async forOrder(
      order: { id: string; instanceId: string },
      instance: BackupInstance,
      kind: Exclude<BackupKind, 'nightly' | 'pre-upgrade'>,
      report: StepReporter,
      options: { lastAttempt: boolean },
    ): Promise<BackupOutcome> {
      const step = kind === 'on-demand' ? 'backup' : `${kind}-backup`;
      const { backup } = await ensureBackup(db.pool, {
        id: randomUUID(),
        instanceId: instance.id,
        kind,
        orderId: order.id,
        keycloakVersion: instance.spec.version,
      });
      await report(step, 'running');
      const outcome = await take(backup, instance, options);
      if (outcome.outcome === 'done')
        await report(
          step,
          'done',
          message('step.backupTaken', { backup: outcome.backup.id, bytes: outcome.backup.sizeBytes ?? 0 }),
        );
      else await report(step, 'failed', outcome.outcome === 'retry' ? outcome.message : outcome.reason);
      return outcome;
    },

    /** The pre-upgrade backup's record: created before the driver's upgrade, which takes it under this id. */
    async beforeUpgrade(
      order: { id: string },
      instance: BackupInstance,
      fromVersion: string,
    ): Promise<string> {
      const { backup } = await ensureBackup(db.pool, {
        id: randomUUID(),
        instanceId: instance.id,
        kind: 'pre-upgrade',
        orderId: order.id,
        keycloakVersion: fromVersion,
      });
      await startBackup(db.pool, backup.id);
      return backup.id;
    },

    async afterUpgrade(backupId: string, taken: TakenBackup | { failed: string }) {
      if ('failed' in taken)
        await failBackup(db.pool, backupId, {
          reason: 'The upgrade failed before its backup.',
          operatorDetail: taken.failed,
        });
      else await finishBackup(db.pool, backupId, taken);
    },

    /** A done backup as the driver reads it, or why it cannot be restored. */
    async restorable(backupId: string): Promise<BackupRef | { missing: CodedMessage }> {
      const backup = await findBackupById(db.pool, backupId);
      if (!backup || backup.status !== 'done' || !backup.location || !backup.sha256)
        return { missing: message('failure.backupGone', { backup: backupId }) };
      return { id: backup.id, location: backup.location, sha256: backup.sha256 };
    },

    /** Finishes removals that a crash interrupted. */
    removeExpiring: () => removeExpiring(),
  };
}
export type BackupRunner = ReturnType<typeof createBackupRunner>;
