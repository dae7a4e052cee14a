import type { Queryable } from '../db/database.js';
import type { InstanceSpec } from '../orders/order-schemas.js';

export type InstanceStatus = 'provisioning' | 'running' | 'failed' | 'deleting' | 'deleted';

export type StoredInstance = {
  id: string;
  organizationId: string;
  name: string;
  status: InstanceStatus;
  spec: InstanceSpec;
  billingProfileId: string;
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
