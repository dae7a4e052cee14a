import type { Queryable } from '../db/database.js';
import type { MeteredRecord } from './metering.js';

/**
 * Persistence of usage records (migration 005). Written only by the reconciler, inside the transaction that makes
 * an order DONE, so a record's start and end are the moments a size became effective (PostgreSQL's `now()` of that
 * transaction).
 */
export type UsageSize = {
  nodeSize: string;
  storageGb: number;
  /** Nightly backups kept (src/backups): those beyond the catalog's included ones are billed like storage. */
  backupRetention: number;
};

/** Opens the instance's record (create). */
export async function openUsageRecord(
  tx: Queryable,
  instanceId: string,
  orderId: string,
  size: UsageSize,
): Promise<void> {
  await tx.query(
    `INSERT INTO usage_records (instance_id, billing_profile_id, node_size, storage_gb, order_id, started_at,
                                backup_retention)
     SELECT id, billing_profile_id, $2, $3, $4, now(), $5 FROM instances WHERE id = $1`,
    [instanceId, size.nodeSize, size.storageGb, orderId, size.backupRetention],
  );
}

/** Closes the open record (delete); true when there was one. */
export async function closeUsageRecord(tx: Queryable, instanceId: string): Promise<boolean> {
  const result = await tx.query(
    'UPDATE usage_records SET ended_at = now() WHERE instance_id = $1 AND ended_at IS NULL',
    [instanceId],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Closes the open record and opens the next one at the same instant (scale, storage), if the size changed. */
export async function switchUsageRecord(
  tx: Queryable,
  instanceId: string,
  orderId: string,
  size: UsageSize,
): Promise<void> {
  const { rows } = await tx.query<{ node_size: string; storage_gb: number; backup_retention: number }>(
    `SELECT node_size, storage_gb, backup_retention FROM usage_records
      WHERE instance_id = $1 AND ended_at IS NULL FOR UPDATE`,
    [instanceId],
  );
  const open = rows[0];
  if (
    open &&
    open.node_size === size.nodeSize &&
    open.storage_gb === size.storageGb &&
    open.backup_retention === size.backupRetention
  )
    return;
  await closeUsageRecord(tx, instanceId);
  await openUsageRecord(tx, instanceId, orderId, size);
}

/**
 * The complete record history of every instance billed to the profile that may have run in [from, to): metering
 * needs an instance's first record (billing starts after provisioning) even when it lies before the window.
 */
export async function listUsageRecords(
  db: Queryable,
  billingProfileId: string,
  window: { from: number; to: number },
): Promise<MeteredRecord[]> {
  const { rows } = await db.query<{
    instance_id: string;
    name: string;
    node_size: string;
    storage_gb: number;
    backup_retention: number;
    started_ms: string;
    ended_ms: string | null;
  }>(
    `SELECT u.instance_id, i.name, u.node_size, u.storage_gb, u.backup_retention,
            floor(extract(epoch FROM u.started_at) * 1000)::bigint::text AS started_ms,
            floor(extract(epoch FROM u.ended_at) * 1000)::bigint::text AS ended_ms
       FROM usage_records u JOIN instances i ON i.id = u.instance_id
      WHERE u.billing_profile_id = $1
        AND u.instance_id IN (
          SELECT instance_id FROM usage_records
           WHERE billing_profile_id = $1
             AND started_at < to_timestamp($3::double precision / 1000)
             AND (ended_at IS NULL OR ended_at >= to_timestamp($2::double precision / 1000) - interval '1 hour'))
      ORDER BY u.instance_id, u.started_at, u.id`,
    [billingProfileId, window.from, window.to],
  );
  return rows.map((row) => ({
    instanceId: row.instance_id,
    instanceName: row.name,
    nodeSize: row.node_size,
    storageGb: row.storage_gb,
    backupRetention: row.backup_retention,
    startedAt: Number(row.started_ms),
    endedAt: row.ended_ms === null ? null : Number(row.ended_ms),
  }));
}
