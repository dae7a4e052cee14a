import type { Queryable } from '../db/database.js';
import type { TakenBackup } from '../drivers/driver.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import type { BackupKind, BackupStatus } from './backup-schemas.js';

/** Persistence of backups and backup keys (migration 008). Status changes are compare-and-set. */

export type StoredBackup = {
  id: string;
  instanceId: string;
  organizationId: string;
  kind: BackupKind;
  night: string | null;
  orderId: string | null;
  status: BackupStatus;
  keycloakVersion: string;
  postgresMajor: number | null;
  location: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  durationMs: number | null;
  attempts: number;
  failureReason: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

type BackupRow = {
  id: string;
  instance_id: string;
  organization_id: string;
  kind: BackupKind;
  night: string | null;
  order_id: string | null;
  status: BackupStatus;
  keycloak_version: string;
  postgres_major: number | null;
  location: string | null;
  size_bytes: string | null;
  sha256: string | null;
  duration_ms: number | null;
  attempts: number;
  failure_reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

const COLUMNS = `id, instance_id, organization_id, kind, to_char(night, 'YYYY-MM-DD') AS night, order_id, status,
  keycloak_version, postgres_major, location, size_bytes, sha256, duration_ms, attempts, failure_reason, created_at,
  started_at, finished_at`;

const toBackup = (row: BackupRow): StoredBackup => ({
  id: row.id,
  instanceId: row.instance_id,
  organizationId: row.organization_id,
  kind: row.kind,
  night: row.night,
  orderId: row.order_id,
  status: row.status,
  keycloakVersion: row.keycloak_version,
  postgresMajor: row.postgres_major,
  location: row.location,
  sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
  sha256: row.sha256,
  durationMs: row.duration_ms,
  attempts: row.attempts,
  failureReason: row.failure_reason,
  createdAt: row.created_at,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
});

export type NewBackup = {
  id: string;
  instanceId: string;
  kind: BackupKind;
  keycloakVersion: string;
} & ({ kind: 'nightly'; night: string } | { kind: Exclude<BackupKind, 'nightly'>; orderId: string });

/**
 * Inserts the backup unless its night (nightly) or its order (the others) has one already; answers the row that
 * exists afterwards and whether this call created it. This is the "never twice".
 */
export async function ensureBackup(
  db: Queryable,
  backup: NewBackup,
): Promise<{ backup: StoredBackup; created: boolean }> {
  const night = backup.kind === 'nightly' ? backup.night : null;
  const orderId = backup.kind === 'nightly' ? null : backup.orderId;
  const inserted = await db.query<BackupRow>(
    `INSERT INTO backups (id, instance_id, organization_id, kind, night, order_id, status, keycloak_version)
     SELECT $1, i.id, i.organization_id, $3, $4::date, $5, 'pending', $6 FROM instances i WHERE i.id = $2
     ON CONFLICT DO NOTHING
     RETURNING ${COLUMNS}`,
    [backup.id, backup.instanceId, backup.kind, night, orderId, backup.keycloakVersion],
  );
  if (inserted.rows[0]) return { backup: toBackup(inserted.rows[0]), created: true };
  const { rows } = await db.query<BackupRow>(
    `SELECT ${COLUMNS} FROM backups
      WHERE instance_id = $1 AND kind = $2
        AND (($2 = 'nightly' AND night = $3::date) OR ($2 <> 'nightly' AND order_id = $4))`,
    [backup.instanceId, backup.kind, night, orderId],
  );
  if (!rows[0]) throw new Error(`backup of instance ${backup.instanceId} neither inserted nor found`);
  return { backup: toBackup(rows[0]), created: false };
}

export async function findBackupById(db: Queryable, id: string): Promise<StoredBackup | undefined> {
  const { rows } = await db.query<BackupRow>(`SELECT ${COLUMNS} FROM backups WHERE id = $1`, [id]);
  return rows[0] && toBackup(rows[0]);
}

/** A backup of an instance of the organisation (tenants never see each other's). */
export async function findBackup(
  db: Queryable,
  organizationId: string,
  instanceId: string,
  id: string,
): Promise<StoredBackup | undefined> {
  const { rows } = await db.query<BackupRow>(
    `SELECT ${COLUMNS} FROM backups WHERE organization_id = $1 AND instance_id = $2 AND id = $3`,
    [organizationId, instanceId, id],
  );
  return rows[0] && toBackup(rows[0]);
}

/** Every backup of an instance, newest first (at most the retention plus a month of others: a bounded list). */
export async function listBackups(db: Queryable, instanceId: string): Promise<StoredBackup[]> {
  const { rows } = await db.query<BackupRow>(
    `SELECT ${COLUMNS} FROM backups WHERE instance_id = $1 AND status <> 'expiring'
      ORDER BY created_at DESC, id DESC LIMIT 500`,
    [instanceId],
  );
  return rows.map(toBackup);
}

/** pending/running → running, counting the attempt. False when it is done, failed or expiring already. */
export async function startBackup(db: Queryable, id: string): Promise<StoredBackup | undefined> {
  const { rows } = await db.query<BackupRow>(
    `UPDATE backups SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now())
      WHERE id = $1 AND status IN ('pending', 'running')
      RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] && toBackup(rows[0]);
}

export async function finishBackup(db: Queryable, id: string, taken: TakenBackup): Promise<boolean> {
  const result = await db.query(
    `UPDATE backups SET status = 'done', location = $2, size_bytes = $3, sha256 = $4, duration_ms = $5,
            postgres_major = NULLIF($6, 0), finished_at = now(), failure_reason = NULL, operator_detail = NULL
      WHERE id = $1 AND status IN ('pending', 'running')`,
    [id, taken.location, taken.sizeBytes, taken.sha256, Math.round(taken.durationMs), taken.postgresMajor],
  );
  return result.rowCount === 1;
}

export async function failBackup(
  db: Queryable,
  id: string,
  failure: { reason: string; operatorDetail: string },
): Promise<boolean> {
  const result = await db.query(
    `UPDATE backups SET status = 'failed', failure_reason = $2, operator_detail = $3, finished_at = now()
      WHERE id = $1 AND status IN ('pending', 'running')`,
    [id, failure.reason, failure.operatorDetail.slice(0, 4000)],
  );
  return result.rowCount === 1;
}

/**
 * failed → pending for the backups of an order that a provider operator retries (on-demand, pre-restore,
 * pre-upgrade): the next attempt takes them again under the same id instead of finding them failed. A backup
 * that retention is removing stays as it is.
 */
export async function reopenFailedOrderBackups(db: Queryable, orderId: string): Promise<number> {
  const result = await db.query(
    `UPDATE backups SET status = 'pending', failure_reason = NULL, operator_detail = NULL, started_at = NULL,
            finished_at = NULL
      WHERE order_id = $1 AND status = 'failed'`,
    [orderId],
  );
  return result.rowCount ?? 0;
}

/** Nightly backups that are not finished: the sweep enqueues them again after a crash. */
export async function listUnfinishedNightlyBackups(db: Queryable): Promise<StoredBackup[]> {
  const { rows } = await db.query<BackupRow>(
    `SELECT ${COLUMNS} FROM backups WHERE kind = 'nightly' AND status IN ('pending', 'running') ORDER BY created_at`,
  );
  return rows.map(toBackup);
}

/** done/failed → expiring: the first step of removing a backup, so that a crash half-way is finished later. */
export async function markExpiring(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    `UPDATE backups SET status = 'expiring' WHERE id = $1 AND status IN ('done', 'failed')`,
    [id],
  );
  return result.rowCount === 1;
}

export async function listExpiringBackups(db: Queryable): Promise<StoredBackup[]> {
  const { rows } = await db.query<BackupRow>(`SELECT ${COLUMNS} FROM backups WHERE status = 'expiring'`);
  return rows.map(toBackup);
}

export async function deleteExpiredBackup(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM backups WHERE id = $1 AND status = 'expiring'`, [id]);
}

/** The records of a deleted instance's backups (the driver removed their files with the instance). */
export async function deleteInstanceBackups(db: Queryable, instanceId: string): Promise<number> {
  const result = await db.query('DELETE FROM backups WHERE instance_id = $1', [instanceId]);
  return result.rowCount ?? 0;
}

/** Backups that unfinished orders read (restores): retention must leave them alone until those are done. */
export async function backupsInUse(db: Queryable, instanceId: string): Promise<Set<string>> {
  const { rows } = await db.query<{ backup_id: string }>(
    `SELECT COALESCE(details->>'backupId', details->'restoreFrom'->>'backupId') AS backup_id FROM orders
      WHERE status IN ('new', 'processing') AND type IN ('create', 'restore')
        AND COALESCE(details->>'backupId', details->'restoreFrom'->>'backupId') IS NOT NULL
        AND (instance_id = $1 OR details->'restoreFrom'->>'instanceId' = $1::text)`,
    [instanceId],
  );
  return new Set(rows.map((row) => row.backup_id));
}

/** What the scheduler needs of the instances that run. */
export type ScheduledInstance = {
  id: string;
  organizationId: string;
  name: string;
  spec: InstanceSpec;
  /** When its create order was done: no nightly backup is due for a window before that. */
  runningSince: string;
};

export async function listRunningInstances(db: Queryable): Promise<ScheduledInstance[]> {
  const { rows } = await db.query<{
    id: string;
    organization_id: string;
    name: string;
    spec: InstanceSpec;
    running_since: string;
  }>(
    `SELECT i.id, i.organization_id, i.name, i.spec,
            COALESCE((SELECT max(o.updated_at) FROM orders o
                       WHERE o.instance_id = i.id AND o.type = 'create' AND o.status = 'done'), i.created_at)
              AS running_since
       FROM instances i WHERE i.status = 'running' ORDER BY i.created_at`,
  );
  return rows.map((row) => ({
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    spec: row.spec,
    runningSince: row.running_since,
  }));
}

export async function findBackupInstance(
  db: Queryable,
  id: string,
): Promise<{ id: string; name: string; spec: InstanceSpec } | undefined> {
  const { rows } = await db.query<{ id: string; name: string; spec: InstanceSpec }>(
    'SELECT id, name, spec FROM instances WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** The latest finished (done or failed) nightly backup of each instance: its backup condition. */
export async function latestNightlyBackups(
  db: Queryable,
  instanceIds: string[],
): Promise<Map<string, StoredBackup>> {
  if (instanceIds.length === 0) return new Map();
  const { rows } = await db.query<BackupRow>(
    `SELECT DISTINCT ON (instance_id) ${COLUMNS} FROM backups
      WHERE instance_id = ANY($1::uuid[]) AND kind = 'nightly' AND status IN ('done', 'failed')
      ORDER BY instance_id, night DESC, finished_at DESC`,
    [instanceIds],
  );
  return new Map(rows.map((row) => [row.instance_id, toBackup(row)]));
}

// ---- keys ------------------------------------------------------------------------------------------------------

export type StoredBackupKey = {
  armoredKey: string;
  fingerprint: string;
  userIds: string[];
  uploadedAt: string;
};

export async function upsertBackupKey(
  db: Queryable,
  instanceId: string,
  key: { armoredKey: string; fingerprint: string; userIds: string[]; uploadedBy: string | null },
): Promise<StoredBackupKey> {
  const { rows } = await db.query<{
    armored_key: string;
    fingerprint: string;
    user_ids: string[];
    uploaded_at: string;
  }>(
    `INSERT INTO backup_keys (instance_id, armored_key, fingerprint, user_ids, uploaded_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (instance_id) DO UPDATE SET armored_key = $2, fingerprint = $3, user_ids = $4, uploaded_by = $5,
            uploaded_at = now()
     RETURNING armored_key, fingerprint, user_ids, uploaded_at`,
    [instanceId, key.armoredKey, key.fingerprint, key.userIds, key.uploadedBy],
  );
  const row = rows[0]!;
  return {
    armoredKey: row.armored_key,
    fingerprint: row.fingerprint,
    userIds: row.user_ids,
    uploadedAt: row.uploaded_at,
  };
}

export async function findBackupKey(db: Queryable, instanceId: string): Promise<StoredBackupKey | undefined> {
  const { rows } = await db.query<{
    armored_key: string;
    fingerprint: string;
    user_ids: string[];
    uploaded_at: string;
  }>('SELECT armored_key, fingerprint, user_ids, uploaded_at FROM backup_keys WHERE instance_id = $1', [
    instanceId,
  ]);
  const row = rows[0];
  return (
    row && {
      armoredKey: row.armored_key,
      fingerprint: row.fingerprint,
      userIds: row.user_ids,
      uploadedAt: row.uploaded_at,
    }
  );
}
