import { spreadMinutes } from './schedule-rules.js';
import type { BackupPolicy } from './backup-schemas.js';

/**
 * How backups map onto CloudNativePG (postgresql.cnpg.io/v1) in Kubernetes regions: pure object builders, validated
 * against the operator's CRDs (test: cloudnative-pg.test.ts). The Kubernetes driver writes them with server-side
 * apply into the instance's namespace, beside its `Cluster`.
 *
 * - Nightly: one `ScheduledBackup` per instance, its cron in the instance's time zone (`CRON_TZ=`, understood by the
 *   operator's cron parser, robfig/cron v3; six fields, seconds first) at the same minute of the backup window the
 *   local planner would use. A `backup-policy` order re-applies it.
 * - On-demand, pre-upgrade and pre-restore: one `Backup` per Keyhouse backup, named after its id, so a retried order
 *   finds its own object instead of taking a second backup (the spec is immutable anyway).
 * - Restore into a new instance: the new `Cluster` bootstraps with `recovery` from the source's backups in the
 *   object store (the barman-cloud plugin, through an `externalClusters` entry naming the source cluster's server),
 *   at the source backup's `backupID`. A restore in place is the same into a fresh cluster of the instance, which
 *   replaces the old one only when it is ready (the local driver's scratch-and-swap, with clusters).
 */
export const CNPG_API_VERSION = 'postgresql.cnpg.io/v1';

/** How a region backs up: CNPG's volume snapshots, or a plugin (barman-cloud to an object store). */
export type CnpgBackupMethod =
  { method: 'volumeSnapshot' } | { method: 'plugin'; plugin: string; parameters: Record<string, string> };

export type CnpgPlacement = {
  namespace: string;
  /** The instance's CNPG `Cluster`. */
  cluster: string;
  labels: Record<string, string>;
};

type CnpgObject = {
  apiVersion: typeof CNPG_API_VERSION;
  kind: 'ScheduledBackup' | 'Backup';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
};

const methodSpec = (method: CnpgBackupMethod) =>
  method.method === 'volumeSnapshot'
    ? { method: 'volumeSnapshot' }
    : { method: 'plugin', pluginConfiguration: { name: method.plugin } };

/** The nightly schedule: `CRON_TZ=<zone> <second> <minute> <hour> * * *`. */
export function nightlySchedule(instanceId: string, policy: BackupPolicy): string {
  return `CRON_TZ=${policy.timeZone} 0 ${spreadMinutes(instanceId)} ${policy.backupWindow.startHour} * * *`;
}

export function scheduledBackupObject(
  placement: CnpgPlacement,
  instanceId: string,
  policy: BackupPolicy,
  method: CnpgBackupMethod,
): CnpgObject {
  return {
    apiVersion: CNPG_API_VERSION,
    kind: 'ScheduledBackup',
    metadata: {
      name: `${placement.cluster}-nightly`,
      namespace: placement.namespace,
      labels: placement.labels,
    },
    spec: {
      cluster: { name: placement.cluster },
      schedule: nightlySchedule(instanceId, policy),
      // The Backups it creates belong to it: deleting the instance's namespace takes them along.
      backupOwnerReference: 'self',
      immediate: false,
      online: true,
      ...methodSpec(method),
    },
  };
}

/** A backup that belongs to an order (on-demand, pre-upgrade, pre-restore), named after Keyhouse's backup id. */
export function backupObject(
  placement: CnpgPlacement,
  backupId: string,
  method: CnpgBackupMethod,
): CnpgObject {
  return {
    apiVersion: CNPG_API_VERSION,
    kind: 'Backup',
    metadata: { name: `kh-${backupId}`, namespace: placement.namespace, labels: placement.labels },
    spec: { cluster: { name: placement.cluster }, online: true, ...methodSpec(method) },
  };
}

/**
 * The part of a new `Cluster` spec that restores it from a backup of another instance's cluster (restore into a new
 * instance): `bootstrap.recovery` at the backup's id, from the source's server in the object store.
 */
export function recoveryBootstrap(options: {
  sourceCluster: string;
  backupId: string;
  database: string;
  owner: string;
  method: Extract<CnpgBackupMethod, { method: 'plugin' }>;
}) {
  return {
    bootstrap: {
      recovery: {
        source: 'origin',
        database: options.database,
        owner: options.owner,
        recoveryTarget: { backupID: options.backupId },
      },
    },
    externalClusters: [
      {
        name: 'origin',
        plugin: {
          name: options.method.plugin,
          parameters: { ...options.method.parameters, serverName: options.sourceCluster },
        },
      },
    ],
  };
}
