import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import {
  adminApiAddressSchema,
  type AdminApiAddress,
  type Condition,
  type InstanceSpec,
  type ObservedInstance,
} from './instance-schemas.js';

export type InstanceStatus = 'provisioning' | 'running' | 'failed' | 'deleting' | 'deleted';

export type StoredInstance = {
  id: string;
  organizationId: string;
  name: string;
  status: InstanceStatus;
  spec: InstanceSpec;
  billingProfileId: string;
  url: string | null;
  adminUsername: string;
  deletionProtection: boolean;
  conditions: Condition[];
  usage: ObservedInstance['usage'];
  createdAt: string;
  updatedAt: string;
};

type InstanceRow = {
  id: string;
  organization_id: string;
  name: string;
  status: InstanceStatus;
  spec: InstanceSpec;
  billing_profile_id: string;
  url: string | null;
  admin_username: string;
  deletion_protection: boolean;
  conditions: Condition[];
  usage: ObservedInstance['usage'];
  created_at: string;
  updated_at: string;
};

const toInstance = (row: InstanceRow): StoredInstance => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  status: row.status,
  spec: row.spec,
  billingProfileId: row.billing_profile_id,
  url: row.url,
  adminUsername: row.admin_username,
  deletionProtection: row.deletion_protection,
  conditions: row.conditions,
  usage: row.usage,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export async function insertInstance(
  db: Queryable,
  instance: Pick<StoredInstance, 'id' | 'organizationId' | 'name' | 'spec' | 'billingProfileId'>,
): Promise<StoredInstance> {
  const { rows } = await db.query<InstanceRow>(
    `INSERT INTO instances (id, organization_id, name, status, spec, billing_profile_id)
     VALUES ($1, $2, $3, 'provisioning', $4, $5) RETURNING *`,
    [
      instance.id,
      instance.organizationId,
      instance.name,
      JSON.stringify(instance.spec),
      instance.billingProfileId,
    ],
  );
  return toInstance(rows[0]!);
}

export async function findInstance(
  db: Queryable,
  organizationId: string,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<StoredInstance | undefined> {
  const { rows } = await db.query<InstanceRow>(
    `SELECT * FROM instances WHERE organization_id = $1 AND id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [organizationId, id],
  );
  return rows[0] && toInstance(rows[0]);
}

/** What the reconciler needs of an instance, across organisations (workers act for every tenant). */
export type ProvisioningView = StoredInstance & { customerNumber: string; sealedSecrets: string | null };

export async function findInstanceForProvisioning(
  db: Queryable,
  instanceId: string,
): Promise<ProvisioningView | undefined> {
  const { rows } = await db.query<InstanceRow & { customer_number: string; secrets: string | null }>(
    `SELECT i.*, o.customer_number FROM instances i JOIN organizations o ON o.id = i.organization_id WHERE i.id = $1`,
    [instanceId],
  );
  const row = rows[0];
  return row && { ...toInstance(row), customerNumber: row.customer_number, sealedSecrets: row.secrets };
}

/** Stores generated secrets once; a concurrent or repeated attempt keeps the first ones. Answers the stored value. */
export async function storeSecretsOnce(db: Queryable, instanceId: string, sealed: string): Promise<string> {
  const { rows } = await db.query<{ secrets: string }>(
    `UPDATE instances SET secrets = COALESCE(secrets, $2) WHERE id = $1 RETURNING secrets`,
    [instanceId, sealed],
  );
  return rows[0]!.secrets;
}

export type InstanceRuntime = {
  status?: InstanceStatus;
  url?: string | null;
  /** Where the control plane reaches its admin API (recorded by the worker from the driver). */
  adminApi?: AdminApiAddress | null;
  conditions?: Condition[];
  usage?: ObservedInstance['usage'];
};

export async function updateInstanceRuntime(db: Queryable, instanceId: string, runtime: InstanceRuntime) {
  await db.query(
    `UPDATE instances SET
       status = COALESCE($2, status),
       url = CASE WHEN $3::boolean THEN $4 ELSE url END,
       conditions = COALESCE($5::jsonb, conditions),
       usage = CASE WHEN $6::boolean THEN $7::jsonb ELSE usage END,
       admin_api = CASE WHEN $8::boolean THEN $9::jsonb ELSE admin_api END,
       updated_at = now()
     WHERE id = $1`,
    [
      instanceId,
      runtime.status ?? null,
      runtime.url !== undefined,
      runtime.url ?? null,
      runtime.conditions ? JSON.stringify(runtime.conditions) : null,
      runtime.usage !== undefined,
      runtime.usage === undefined ? null : JSON.stringify(runtime.usage),
      runtime.adminApi !== undefined,
      runtime.adminApi ? JSON.stringify(runtime.adminApi) : null,
    ],
  );
}

/** Where the control plane reaches the instance's admin API; null before its first DONE order. */
export async function findInstanceAdminApi(
  db: Queryable,
  instanceId: string,
): Promise<AdminApiAddress | null> {
  const { rows } = await db.query<{ admin_api: unknown }>('SELECT admin_api FROM instances WHERE id = $1', [
    instanceId,
  ]);
  const stored = rows[0]?.admin_api;
  return stored ? adminApiAddressSchema.parse(stored) : null;
}

/**
 * Serialises the capacity checks of a region until the transaction ends: whoever counts the region's instances and
 * then takes a place holds it, so two workers never both see the last free place.
 */
export async function lockRegionCapacity(tx: Queryable, region: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('region-capacity:' || $1, 0))`, [region]);
}

/** Instances a region counts against its capacity: running ones, and those an order is provisioning. */
export async function countActiveInstances(
  db: Queryable,
  region: string,
  excluding: string,
): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM instances i
      WHERE i.spec->>'region' = $1 AND i.id <> $2
        AND (i.status = 'running'
             OR EXISTS (SELECT 1 FROM orders o WHERE o.instance_id = i.id AND o.status = 'processing'))`,
    [region, excluding],
  );
  return rows[0]!.count;
}

/**
 * Orders of the region other than `excludingOrder`, of the given types, that are processing: each may run a second
 * Keycloak beside an instance's first while it switches, so each holds room for one.
 */
export async function countSwitchesInProgress(
  db: Queryable,
  region: string,
  excludingOrder: string,
  types: readonly string[],
): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM orders o JOIN instances i ON i.id = o.instance_id
      WHERE i.spec->>'region' = $1 AND o.id <> $2 AND o.status = 'processing' AND o.type = ANY($3::text[])`,
    [region, excludingOrder, types],
  );
  return rows[0]!.count;
}

export async function listInstances(
  db: Queryable,
  organizationId: string,
  page: PageQuery,
): Promise<Page<StoredInstance>> {
  const after = page.cursor;
  const { rows } = await db.query<InstanceRow>(
    `SELECT * FROM instances
      WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [organizationId, after?.createdAt ?? null, after?.id ?? null, page.limit + 1],
  );
  return toPage(rows.map(toInstance), page.limit);
}

/** The sealed secrets of an own instance, for the audited reveal. */
export async function findSealedSecrets(
  db: Queryable,
  organizationId: string,
  id: string,
): Promise<string | null> {
  const { rows } = await db.query<{ secrets: string | null }>(
    'SELECT secrets FROM instances WHERE organization_id = $1 AND id = $2',
    [organizationId, id],
  );
  return rows[0]?.secrets ?? null;
}

/** Instances that should be running in a region (for the supervisor and the usage observer). */
export async function listInstancesToRun(db: Queryable, region: string): Promise<ProvisioningView[]> {
  const { rows } = await db.query<InstanceRow & { customer_number: string; secrets: string | null }>(
    `SELECT i.*, o.customer_number FROM instances i JOIN organizations o ON o.id = i.organization_id
      WHERE i.spec->>'region' = $1 AND i.status = 'running'`,
    [region],
  );
  return rows.map((row) => ({
    ...toInstance(row),
    customerNumber: row.customer_number,
    sealedSecrets: row.secrets,
  }));
}

/** The desired spec, as the last accepted order asked for it. */
export async function setInstanceSpec(db: Queryable, instanceId: string, spec: InstanceSpec): Promise<void> {
  await db.query('UPDATE instances SET spec = $2, updated_at = now() WHERE id = $1', [
    instanceId,
    JSON.stringify(spec),
  ]);
}

export async function setDeletionProtection(
  db: Queryable,
  instanceId: string,
  enabled: boolean,
): Promise<void> {
  await db.query('UPDATE instances SET deletion_protection = $2, updated_at = now() WHERE id = $1', [
    instanceId,
    enabled,
  ]);
}
