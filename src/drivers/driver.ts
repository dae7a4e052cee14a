import type { Readable } from 'node:stream';
import type { InstanceSecrets } from '../instances/instance-secrets.js';

/**
 * The contract between the provisioning reconciler and a backend (one file per backend: local-driver.ts,
 * later kubernetes-driver.ts). Drivers are level-triggered and idempotent: `apply` converges the world to the
 * desired spec from whatever state it finds (a crash at any point is healed by calling it again), `destroy` is
 * safe to repeat, `observe` only looks.
 */

export type DesiredInstance = {
  instanceId: string;
  /** DNS label, unique: kc-xxxxxxxx. Used for host name, database, role and directory names. */
  name: string;
  /** The first realm is named after it, e.g. kd500001. */
  customerNumber: string;
  version: string;
  nodeSize: { id: string; vcpu: number; memoryGb: number };
  storageGb: number;
  /** Canonical CIDRs, already validated. */
  trustedSources: string[];
  region: string;
  zone: string;
  /** Generated and stored (encrypted) by the reconciler before the first apply, so a retry reuses them. */
  secrets: InstanceSecrets;
  /** A new instance restored from a backup (of another instance): its database starts as that backup. */
  restoreFrom?: BackupRef;
};

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type Condition = {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
};

export type ObservedInstance = {
  exists: boolean;
  /** Keycloak answers /health/ready. */
  ready: boolean;
  /** https://<name>.<publicHost>:<port>, once an edge route exists. */
  url: string | null;
  conditions: Condition[];
  usage: { storageUsedBytes: number; storageQuotaBytes: number } | null;
};

export type StepState = 'running' | 'done' | 'failed';
/** Records progress on the order; names are stable identifiers such as "database", "keycloak-start". */
export type StepReporter = (name: string, state: StepState, message?: string) => Promise<void>;

export type ApplyResult =
  | { outcome: 'ready'; url: string }
  /** Worth retrying with back-off (a port race, a slow start, the database briefly away). */
  | { outcome: 'transient-error'; message: string }
  /** Retrying will not help; `reason` is for the customer, `detail` for the operator. */
  | { outcome: 'permanent-error'; reason: string; detail: string };

// ---- Backups (src/backups) ------------------------------------------------------------------------------------
// One mechanism for nightly, on-demand, pre-upgrade and pre-restore backups: the control plane names a backup by its
// id, the driver takes it and answers where it is (`location`, the driver's own name for it) and what it is.

/** A taken backup, as the control plane keeps it. */
export type BackupRef = { id: string; location: string; sha256: string };

export type TakenBackup = {
  location: string;
  sizeBytes: number;
  sha256: string;
  durationMs: number;
  postgresMajor: number;
};

export type BackupResult = ({ outcome: 'done' } & TakenBackup) | Exclude<ApplyResult, { outcome: 'ready' }>;

/** An upgrade ends on the new version, or back on the old one with its data as before (`backup` is the copy). */
export type UpgradeResult =
  | { outcome: 'ready'; url: string; backup: TakenBackup }
  /** The new version did not become ready; the old one runs again on the restored backup. */
  | { outcome: 'rolled-back'; url: string; backup: TakenBackup; reason: string; detail: string }
  | Exclude<ApplyResult, { outcome: 'ready' }>;

export type Driver = {
  observe(instance: Pick<DesiredInstance, 'instanceId' | 'name' | 'storageGb'>): Promise<ObservedInstance>;
  /** Converges to the spec; restarts Keycloak only when something it was started with changed (e.g. node size). */
  apply(instance: DesiredInstance, report: StepReporter): Promise<ApplyResult>;
  /** A forced restart (stop, start, ready), also when nothing changed. */
  restart(instance: DesiredInstance, report: StepReporter): Promise<ApplyResult>;
  /**
   * From `from.version` to `to.version` (everything else equal): a database backup first, kept afterwards; when the
   * new version does not become ready, the old version and the backed-up data come back. Safe to call again after a
   * crash at any point: it resumes the upgrade or the rollback it finds.
   */
  upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    backupId: string,
    report: StepReporter,
  ): Promise<UpgradeResult>;
  /**
   * A consistent backup of the instance's database while Keycloak runs (no downtime), named `backupId`. Safe to
   * call again after a crash: a partial attempt leaves nothing that looks like a backup.
   */
  backup(instance: Pick<DesiredInstance, 'instanceId' | 'name'>, backupId: string): Promise<BackupResult>;
  /**
   * Restore in place: the instance's database becomes the backup's, and Keycloak runs on it. The current database
   * serves until the backup is fully restored beside it; a crash at any point resumes or leaves the old one.
   */
  restore(instance: DesiredInstance, from: BackupRef, report: StepReporter): Promise<ApplyResult>;
  /** Removes a backup (retention); safe to repeat. */
  removeBackup(instance: Pick<DesiredInstance, 'name'>, location: string): Promise<void>;
  /** The backup's bytes, for the encrypted download. */
  readBackup(instance: Pick<DesiredInstance, 'name'>, location: string): Promise<Readable>;
  /** Removes everything of the instance (process, route, database, role, backups, files); safe to repeat. */
  destroy(instance: Pick<DesiredInstance, 'instanceId' | 'name'>, report: StepReporter): Promise<void>;
};
