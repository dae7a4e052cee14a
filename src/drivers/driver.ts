import type { Readable } from 'node:stream';
import type { LogEntry, LogPage } from '../instances/instance-log-schemas.js';
import type { ObservedInstance } from '../instances/instance-schemas.js';
import type { InstanceSecrets } from '../instances/instance-secrets.js';
import type { CodedMessage, StepMessage } from '../platform/messages.js';
import type { AdminApiAddress } from './keycloak/admin-api.js';
import type { ThemeRef } from '../themes/theme-schemas.js';

/**
 * The contract between the provisioning reconciler and a region's backend. Drivers are level-triggered and
 * idempotent: `apply` converges the world to the desired spec from whatever state it finds (a crash at any point is
 * healed by calling it again), `destroy` is safe to repeat, `observe` only looks. An apply that has to wait for its
 * backend answers `progressing` instead of blocking, and is called again after the seconds it names.
 *
 * Where a second driver plugs in:
 * 1. `src/drivers/<backend>/` implements `Driver` (the local one: `src/drivers/local/local-driver.ts`). The
 *    Keycloak work that does not depend on the backend (customer's admin replacing the temporary one, first realm,
 *    the login check, OIDC clients) is in `src/drivers/keycloak/`; step reporting and the mapping of failures to
 *    outcomes in `driver-steps.ts`.
 * 2. A `start<Backend>Backend()` beside it starts the driver with whatever background work the backend needs (the
 *    local one: `local/local-backend.ts`, with its supervisor and observer; `instance-observer.ts` and
 *    `desiredInstancesIn` serve any backend).
 * 3. `src/app.ts` starts it when a region of the configuration names its key (`driver:` of a region, see
 *    `DriverKey` in driver-registry.ts) and puts its driver into the registry. The worker role and the reconciler
 *    need no change: they look a region's driver up by that key.
 */

export type DesiredInstance = {
  instanceId: string;
  /** DNS label, unique: kc-xxxxxxxx. Used for host name, database, role and directory names. */
  name: string;
  /** The first realm is named after it, e.g. kd500001. */
  customerNumber: string;
  /** The customer's permanent admin of the master realm (it replaces Keycloak's temporary bootstrap admin). */
  adminUsername: string;
  version: string;
  nodeSize: { id: string; vcpu: number; memoryGb: number };
  storageGb: number;
  /** Canonical CIDRs, already validated. */
  trustedSources: string[];
  /** The trusted sources that may also use /admin/ and the admin REST API (canonical, within trustedSources). */
  adminSources: string[];
  region: string;
  zone: string;
  /** The customer's login themes to deploy, by name and uploaded version (the driver fetches the archives). */
  themes: ThemeRef[];
  /**
   * The customer's own host name (src/domains): the edge serves it beside the instance's own with its certificate,
   * and Keycloak answers as it (its `hostname`). Null: the instance's own host name.
   */
  customHostname: string | null;
  /** Generated and stored (encrypted) by the reconciler before the first apply, so a retry reuses them. */
  secrets: InstanceSecrets;
  /** A new instance restored from a backup (of another instance): its database starts as that backup. */
  restoreFrom?: BackupRef;
  /**
   * A warm-pool member (src/warm-pool): apply stops at a ready Keycloak with its temporary admin. The hand-over
   * (customer's admin, first realm) is the apply of the order that claims it.
   */
  warm?: true;
};

/** What names an instance in its backend: the region says which cluster (or host) it is in. */
export type InstanceRef = Pick<DesiredInstance, 'instanceId' | 'name' | 'region'>;

export type StepState = 'running' | 'done' | 'failed';
/**
 * Records progress on the order; names are stable identifiers such as "database", "keycloak-start". A note is
 * coded (src/platform/messages.ts, `step.*`: code and parameters, one or more parts) wherever its words are ours,
 * so the portal can show it in the reader's language; the API keeps its English text. Plain text is for what
 * needs no translation (a URL) or is not ours (an error's own words).
 */
export type StepReporter = (name: string, state: StepState, message?: StepMessage) => Promise<void>;

export type ApplyResult =
  | { outcome: 'ready'; url: string }
  /**
   * Applied, not ready yet (an operator still rolls it out): look again in `retryAfterSeconds` (1 to 3600). The
   * reconciler calls the same method again then, without counting an attempt; the driver decides when waiting
   * has become an error.
   */
  | { outcome: 'progressing'; message: string; retryAfterSeconds: number }
  /** Worth retrying with back-off (a port race, a slow start, the database briefly away). */
  | { outcome: 'transient-error'; message: string }
  /**
   * Retrying will not help; `reason` is for the customer (coded wherever its words are ours, so the portal says it
   * in the reader's language), `detail` for the operator.
   */
  | { outcome: 'permanent-error'; reason: StepMessage; detail: string };

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
  | { outcome: 'rolled-back'; url: string; backup: TakenBackup; reason: StepMessage; detail: string }
  | Exclude<ApplyResult, { outcome: 'ready' }>;

/** Removing an instance: done, or (a backend that deletes asynchronously) asked for, look again in N seconds. */
export type DestroyResult =
  | { outcome: 'done' }
  /** Deletion asked for and under way (e.g. a namespace being emptied): call `destroy` again after the seconds. */
  | { outcome: 'progressing'; message: string; retryAfterSeconds: number };

/** The login check before DONE: `note` says how the admin's login was verified. */
export type AdminLoginCheck = { ok: true; note: StepMessage } | { ok: false; message: string };

/** Whose log to read; the instance's secrets are cut out of every entry (a guard beside Keycloak logging none). */
export type LogTarget = Pick<DesiredInstance, 'instanceId' | 'name' | 'region' | 'secrets'>;
/** Entries from `since` on, containing `search` (any case): the newest `limit` of them. */
export type LogRead = { since: Date; search?: string; limit: number };

/**
 * An instance's Keycloak log as a backend keeps it (local: its log files; Kubernetes: the pod's log). Apart from
 * the Driver because it only looks: any role reads it (the API answers customers and operators) without running
 * the backend. Each backend's source is made in src/drivers/instance-logs.ts.
 */
export type InstanceLogSource = {
  /** The newest `limit` entries from `since` on that contain `search`, oldest first. */
  readLog(instance: LogTarget, query: LogRead): Promise<LogPage>;
  /** The entries written from now on, in batches as they come, until `signal` aborts. */
  followLog(instance: LogTarget, signal: AbortSignal): AsyncIterable<LogEntry[]>;
};

/**
 * Whether the region has room for a second Keycloak of the instance while a change replaces the running one (the
 * new one starts beside the old one, takes over at the edge, the old one stops: no downtime). Without room a
 * driver stops and starts, and says so on the order (step `restart-in-place`, with `why`).
 */
export type ChangeRoom = { secondInstance: true } | { secondInstance: false; why: CodedMessage };

export type Driver = {
  observe(
    instance: Pick<DesiredInstance, 'instanceId' | 'name' | 'storageGb' | 'region'>,
  ): Promise<ObservedInstance>;
  /**
   * Converges to the spec; replaces Keycloak only when something it was started with changed (e.g. node size):
   * beside the running one when `room` allows, else by stop and start.
   */
  apply(instance: DesiredInstance, report: StepReporter, room?: ChangeRoom): Promise<ApplyResult>;
  /**
   * A forced restart, also when nothing changed. `token` is stable per restart order (its id), so a retried or
   * resumed restart order does not restart twice: a backend that restarts by declaration (Kubernetes: a pod-template
   * annotation) rolls once per token; one that replaces processes (local: a new Keycloak beside the old one when
   * `room` allows) converges once the new Keycloak for that token runs.
   */
  restart(
    instance: DesiredInstance,
    report: StepReporter,
    token: string,
    room?: ChangeRoom,
  ): Promise<ApplyResult>;
  /**
   * From `from.version` to `to.version` (everything else equal): a database backup first, kept afterwards; when the
   * new version does not become ready, the old version and the backed-up data come back. Safe to call again after a
   * crash at any point: it resumes the upgrade or the rollback it finds. A backend may run a patch release beside
   * the old one when `room` allows and Keycloak says a rolling update is possible (the old one then serves on
   * until the switch, and no data needs to come back).
   */
  upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    /** Stable per upgrade order: the pre-upgrade backup's id (a retried order takes its backup once). */
    backupId: string,
    report: StepReporter,
    room?: ChangeRoom,
  ): Promise<UpgradeResult>;
  /**
   * The last gate before DONE, after a ready apply, restart or upgrade: the customer's admin logs in at `url` the
   * way the customer will (the shared Keycloak module's login check), or as close to it as the customer's trusted
   * sources let the control plane come. Only looks.
   */
  verifyAdminLogin(instance: DesiredInstance, url: string): Promise<AdminLoginCheck>;
  /**
   * Where the control plane reaches the instance's admin API (the hand-over, the broker's OIDC clients): not
   * through the customer's allowlist. The reconciler records it on the instance when an order is DONE, so the API
   * role (the broker) needs no backend of its own. Null while the instance has no admin API yet.
   */
  locateAdminApi(instance: InstanceRef): Promise<AdminApiAddress | null>;
  /**
   * A consistent backup of the instance's database while Keycloak runs (no downtime), named `backupId`. Safe to
   * call again after a crash: a partial attempt leaves nothing that looks like a backup.
   */
  backup(instance: InstanceRef, backupId: string): Promise<BackupResult>;
  /**
   * Restore in place: the instance's database becomes the backup's, and Keycloak runs on it. The current database
   * serves until the backup is fully restored beside it; a crash at any point resumes or leaves the old one.
   */
  restore(instance: DesiredInstance, from: BackupRef, report: StepReporter): Promise<ApplyResult>;
  /** Removes a backup (retention); safe to repeat. */
  removeBackup(instance: InstanceRef, location: string): Promise<void>;
  /** The backup's bytes, for the encrypted download. */
  readBackup(instance: InstanceRef, location: string): Promise<Readable>;
  /**
   * Removes everything of the instance (process, route, database, role, backups, files); safe to repeat. Answers
   * `done` only when nothing is left; `progressing` while the backend is still removing it.
   */
  destroy(instance: InstanceRef, report: StepReporter): Promise<DestroyResult>;
};
