import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { BackupRunner } from './backup-runner.js';
import { backupPolicyOf } from './backup-schemas.js';
import {
  ensureBackup,
  findBackupById,
  findBackupInstance,
  listRunningInstances,
  listUnfinishedNightlyBackups,
} from './backup-store.js';
import { formatLocalDate, latestBackupNight, maintenanceWindowAt } from './backup-windows.js';
import { nextPatchVersion, spreadMinutes } from './schedule-rules.js';

/**
 * The schedules of backups and patches, as durable pg-boss jobs:
 *
 * - `backup-planner`, a pg-boss schedule every minute (one job per minute across all Keyhouse processes): for
 *   every running instance whose backup window has begun and whose night has no backup yet, it inserts the
 *   night's backup (unique per instance and night: never twice) and queues a `backup-nightly` job for it. It looks
 *   only at the latest night whose window has begun, so after downtime the missed night is caught up once (a
 *   backup taken late, at restart), not once per missed night. It also re-queues nightly backups a crash left
 *   unfinished, finishes interrupted removals, and places patch upgrades in maintenance windows.
 * - `backup-nightly`: takes one backup (retried with back-off; the last attempt records the failure).
 *
 * The planner reads the time from the injected clock, so tests move the night without waiting for it.
 */
const PLANNER = 'backup-planner';
const NIGHTLY = 'backup-nightly';
const NIGHTLY_RETRY = { retryLimit: 4, retryDelay: 60, retryBackoff: true, expireInMinutes: 120 } as const;

type NightlyJob = { backupId: string };

export type BackupScheduler = {
  /** One planner pass at the injected clock's time (the schedule runs it every minute). */
  tick(): Promise<{ queued: string[]; patchOrders: string[] }>;
  stop(): Promise<void>;
};

export async function startBackupScheduler(options: {
  databaseUrl: string;
  db: Database;
  catalog: Catalog;
  logger: Logger;
  now: () => Date;
  runner: BackupRunner;
  /** Places the upgrade order of a patch in a maintenance window (the order service's). */
  placeMaintenanceUpgrade(
    instance: { id: string; organizationId: string },
    version: string,
    windowStart: string,
  ): Promise<{ id: string } | undefined>;
  /** Off in tests that drive `tick` themselves. */
  schedule?: boolean;
}): Promise<BackupScheduler> {
  const { db, runner, now } = options;
  const logger = options.logger.child({ component: 'backup-scheduler' });
  const boss = new PgBoss({ connectionString: options.databaseUrl, max: 2, schema: 'pgboss' });
  boss.on('error', (error) => logger.error({ err: error }, 'backup queue error'));
  await boss.start();
  await boss.createQueue(NIGHTLY, { name: NIGHTLY, policy: 'short', ...NIGHTLY_RETRY });
  await boss.createQueue(PLANNER, { name: PLANNER, policy: 'singleton' });

  const enqueue = async (backupId: string) => {
    await boss.send(NIGHTLY, { backupId } satisfies NightlyJob, { singletonKey: backupId, ...NIGHTLY_RETRY });
  };

  await boss.work<NightlyJob>(
    NIGHTLY,
    { batchSize: 1, pollingIntervalSeconds: 2, includeMetadata: true },
    async ([job]) => {
      if (!job) return;
      const backup = await findBackupById(db.pool, job.data.backupId);
      const instance = backup && (await findBackupInstance(db.pool, backup.instanceId));
      if (!backup || !instance) return;
      const outcome = await runner.take(backup, instance, { lastAttempt: job.retryCount >= job.retryLimit });
      // Thrown so that pg-boss retries with back-off.
      if (outcome.outcome === 'retry') throw new Error(outcome.message);
    },
  );

  async function planNightly(at: number): Promise<string[]> {
    const queued: string[] = [];
    for (const instance of await listRunningInstances(db.pool)) {
      const policy = backupPolicyOf(instance.spec);
      const { night, window } = latestBackupNight(policy, at);
      if (window.start < Date.parse(instance.runningSince)) continue;
      if (at < window.start + spreadMinutes(instance.id) * 60_000) continue;
      const { backup, created } = await ensureBackup(db.pool, {
        id: randomUUID(),
        instanceId: instance.id,
        kind: 'nightly',
        night: formatLocalDate(night),
        keycloakVersion: instance.spec.version,
      });
      if (created) {
        await enqueue(backup.id);
        queued.push(backup.id);
      }
    }
    // Re-queue what a crash left pending or running; the singleton key keeps one job per backup.
    for (const backup of await listUnfinishedNightlyBackups(db.pool)) await enqueue(backup.id);
    return queued;
  }

  async function planPatches(at: number): Promise<string[]> {
    const placed: string[] = [];
    for (const instance of await listRunningInstances(db.pool)) {
      const window = maintenanceWindowAt(backupPolicyOf(instance.spec), at);
      if (!window) continue;
      const version = nextPatchVersion(options.catalog, instance.spec.serviceType, instance.spec.version);
      if (!version) continue;
      const order = await options.placeMaintenanceUpgrade(
        instance,
        version,
        new Date(window.start).toISOString(),
      );
      if (order) {
        logger.info(
          { instanceId: instance.id, version, orderId: order.id },
          'patch upgrade placed in its window',
        );
        placed.push(order.id);
      }
    }
    return placed;
  }

  async function tick() {
    const at = now().getTime();
    const queued = await planNightly(at);
    await runner.removeExpiring();
    const patchOrders = await planPatches(at);
    return { queued, patchOrders };
  }

  if (options.schedule !== false) {
    await boss.schedule(PLANNER, '* * * * *');
    await boss.work(PLANNER, { pollingIntervalSeconds: 10 }, async () => {
      await tick();
    });
  }

  return {
    tick,
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
