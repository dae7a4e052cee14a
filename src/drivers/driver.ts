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
  /** The trusted sources that may also use /admin/ and the admin REST API (canonical, within trustedSources). */
  adminSources: string[];
  region: string;
  zone: string;
  /** Generated and stored (encrypted) by the reconciler before the first apply, so a retry reuses them. */
  secrets: InstanceSecrets;
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

/** An upgrade ends on the new version, or back on the old one with its data as before (`backup` names the copy). */
export type UpgradeResult =
  | { outcome: 'ready'; url: string; backup: string }
  /** The new version did not become ready; the old one runs again on the restored backup. */
  | { outcome: 'rolled-back'; url: string; backup: string; reason: string; detail: string }
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
  upgrade(from: DesiredInstance, to: DesiredInstance, report: StepReporter): Promise<UpgradeResult>;
  /** Removes everything of the instance (process, route, database, role, backups, files); safe to repeat. */
  destroy(instance: Pick<DesiredInstance, 'instanceId' | 'name'>, report: StepReporter): Promise<void>;
};
