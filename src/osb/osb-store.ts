import type { Queryable } from '../db/database.js';

/** SQL of the broker's own tables (migration 006). Every function takes a Queryable (pool or transaction). */

export type OsbOrganization = {
  platformOrganizationId: string;
  platform: string;
  organizationId: string;
  serviceUserId: string;
  billingProfileId: string;
};

export type OsbServiceInstance = {
  id: string;
  instanceId: string;
  organizationId: string;
  requestHash: string;
  parameters: Record<string, unknown>;
  lastOrderId: string;
  deprovisionRequestedAt: string | null;
};

export type OsbBinding = {
  id: string;
  serviceInstanceId: string;
  clientId: string;
  sealedSecret: string;
  requestHash: string;
};

/** Serialises work on one key (an organisation, instance or binding id) until the transaction ends. */
export async function lockKey(tx: Queryable, key: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`osb:${key}`]);
}

export async function findOsbOrganization(
  db: Queryable,
  platformOrganizationId: string,
): Promise<OsbOrganization | undefined> {
  const { rows } = await db.query<OsbOrganization>(
    `SELECT platform_organization_id AS "platformOrganizationId", platform, organization_id AS "organizationId",
            service_user_id AS "serviceUserId", billing_profile_id AS "billingProfileId"
       FROM osb_organizations WHERE platform_organization_id = $1`,
    [platformOrganizationId],
  );
  return rows[0];
}

export async function insertOsbOrganization(db: Queryable, organization: OsbOrganization): Promise<void> {
  await db.query(
    `INSERT INTO osb_organizations (platform_organization_id, platform, organization_id, service_user_id, billing_profile_id)
     VALUES ($1, $2, $3, $4, $5)`,
    [
      organization.platformOrganizationId,
      organization.platform,
      organization.organizationId,
      organization.serviceUserId,
      organization.billingProfileId,
    ],
  );
}

/** The broker's service user of an organisation that owns `instanceId`'s service instance. */
export async function findOsbOrganizationByOrganizationId(
  db: Queryable,
  organizationId: string,
): Promise<OsbOrganization | undefined> {
  const { rows } = await db.query<OsbOrganization>(
    `SELECT platform_organization_id AS "platformOrganizationId", platform, organization_id AS "organizationId",
            service_user_id AS "serviceUserId", billing_profile_id AS "billingProfileId"
       FROM osb_organizations WHERE organization_id = $1`,
    [organizationId],
  );
  return rows[0];
}

const INSTANCE_COLUMNS = `id, instance_id AS "instanceId", organization_id AS "organizationId",
  request_hash AS "requestHash", parameters, last_order_id AS "lastOrderId",
  deprovision_requested_at AS "deprovisionRequestedAt"`;

export async function findOsbInstance(db: Queryable, id: string): Promise<OsbServiceInstance | undefined> {
  const { rows } = await db.query<OsbServiceInstance>(
    `SELECT ${INSTANCE_COLUMNS} FROM osb_service_instances WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function insertOsbInstance(
  db: Queryable,
  instance: Omit<OsbServiceInstance, 'deprovisionRequestedAt'>,
): Promise<void> {
  await db.query(
    `INSERT INTO osb_service_instances (id, instance_id, organization_id, request_hash, parameters, last_order_id)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      instance.id,
      instance.instanceId,
      instance.organizationId,
      instance.requestHash,
      JSON.stringify(instance.parameters),
      instance.lastOrderId,
    ],
  );
}

export async function setLastOrder(db: Queryable, id: string, orderId: string): Promise<void> {
  await db.query('UPDATE osb_service_instances SET last_order_id = $2 WHERE id = $1', [id, orderId]);
}

export async function requestDeprovision(db: Queryable, id: string): Promise<void> {
  await db.query(
    'UPDATE osb_service_instances SET deprovision_requested_at = COALESCE(deprovision_requested_at, now()) WHERE id = $1',
    [id],
  );
}

/** Service instances whose deprovisioning waits for their create order, oldest first. */
export async function listPendingDeprovisions(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM osb_service_instances s JOIN orders o ON o.id = s.last_order_id
      WHERE s.deprovision_requested_at IS NOT NULL AND o.type <> 'delete'
      ORDER BY s.deprovision_requested_at`,
  );
  return rows.map((row) => row.id);
}

const BINDING_COLUMNS = `id, service_instance_id AS "serviceInstanceId", client_id AS "clientId",
  sealed_secret AS "sealedSecret", request_hash AS "requestHash"`;

export async function findOsbBinding(db: Queryable, id: string): Promise<OsbBinding | undefined> {
  const { rows } = await db.query<OsbBinding>(
    `SELECT ${BINDING_COLUMNS} FROM osb_service_bindings WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function insertOsbBinding(db: Queryable, binding: OsbBinding): Promise<void> {
  await db.query(
    `INSERT INTO osb_service_bindings (id, service_instance_id, client_id, sealed_secret, request_hash)
     VALUES ($1, $2, $3, $4, $5)`,
    [binding.id, binding.serviceInstanceId, binding.clientId, binding.sealedSecret, binding.requestHash],
  );
}

export async function deleteOsbBinding(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM osb_service_bindings WHERE id = $1', [id]);
}

/** The bindings of a service instance being deprovisioned: their clients go with the instance. */
export async function deleteOsbBindingsOfInstance(db: Queryable, serviceInstanceId: string): Promise<void> {
  await db.query('DELETE FROM osb_service_bindings WHERE service_instance_id = $1', [serviceInstanceId]);
}
