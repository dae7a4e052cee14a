import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { findUser, insertOrganization, insertUser } from '../accounts/account-store.js';
import { hashPassword } from '../accounts/password-hashing.js';
import type { Principal, SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { BillingProfileInput } from '../billing/billing-profile-schemas.js';
import { insertBillingProfile } from '../billing/billing-profile-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database, Queryable } from '../db/database.js';
import { findInstance, type StoredInstance } from '../instances/instance-store.js';
import type { Order } from '../orders/order-schemas.js';
import type { OrderService } from '../orders/order-service.js';
import { findOrderById, type StoredOrder } from '../orders/order-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { InstanceOidcClients } from './instance-oidc-clients.js';
import { nodeSizeOfPlan, OSB_SERVICE_ID, type OriginatingIdentity } from './osb-schemas.js';
import * as store from './osb-store.js';

/**
 * What every use case of the broker shares: its dependencies, who acts for a platform organisation, the audit
 * trail with the platform user behind a request, and lookups that must not miss. The use cases live beside it
 * (osb-provisioning.ts, osb-instances.ts, osb-updates.ts, osb-deprovisioning.ts, osb-bindings.ts).
 */
export type OsbDependencies = {
  db: Database;
  catalog: Catalog;
  defaultBillingProfile: BillingProfileInput;
  orders: OrderService;
  oidcClients: InstanceOidcClients;
  secretBox: SecretBox;
  logger: Logger;
  now?: () => Date;
};

/** Who asks: the platform's request, with the platform user's identity if the platform sent one. */
export type OsbCaller = {
  requestId: string;
  sourceAddress: string;
  /** X-Broker-API-Originating-Identity, decoded: `platform` and the JSON object (e.g. `{ "user_id": … }`). */
  originatingIdentity: OriginatingIdentity | undefined;
};

/** The platform organisation a provision request names. */
export type PlatformOrganization = { id: string; platform: string; displayName: string | undefined };

export function createOsbContext(deps: OsbDependencies) {
  const { db, catalog } = deps;
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger.child({ component: 'osb' });

  const principalOf = (organization: store.OsbOrganization, email: string): Principal => ({
    userId: organization.serviceUserId,
    organizationId: organization.organizationId,
    email,
    role: 'admin',
    via: 'token',
  });

  /** The platform user behind a request, for the audit log. */
  const identityDetails = (caller: OsbCaller) =>
    caller.originatingIdentity
      ? {
          platform: caller.originatingIdentity.platform,
          originatingIdentity: caller.originatingIdentity.value,
        }
      : {};

  /** The broker's service user of a Keyhouse organisation, acting for the platform. */
  async function actorFor(tx: Queryable, organizationId: string, caller: OsbCaller): Promise<SignedInActor> {
    const organization = await store.findOsbOrganizationByOrganizationId(tx, organizationId);
    if (!organization) throw new Error(`organization ${organizationId} has no broker mapping`);
    const user = await findUser(tx, organization.serviceUserId);
    if (!user) throw new Error(`the service user of organization ${organizationId} is missing`);
    return {
      principal: principalOf(organization, user.email),
      label: `osb:${caller.originatingIdentity?.platform ?? 'platform'}`,
      requestId: caller.requestId,
      sourceAddress: caller.sourceAddress,
    };
  }

  return {
    ...deps,
    now,
    logger,
    identityDetails,

    actorFor,

    async audit(
      tx: Queryable,
      actor: SignedInActor,
      caller: OsbCaller,
      action: string,
      instanceId: string,
      details: Record<string, unknown>,
    ): Promise<void> {
      await recordAudit(tx, actor, {
        action,
        targetType: 'instance',
        targetId: instanceId,
        details: { ...details, ...identityDetails(caller) },
      });
    },

    /**
     * The service user's password hash for an organisation that does not exist yet, made before the transaction
     * that may create it (argon2 takes a while); undefined when it exists. Nobody ever learns the password.
     */
    async passwordHashIfNew(platformOrganizationId: string): Promise<string | undefined> {
      if (await store.findOsbOrganization(db.pool, platformOrganizationId)) return undefined;
      return hashPassword(randomBytes(32).toString('base64url'));
    },

    /** The Keyhouse organisation of a platform organisation, created in `tx` with its service user on first use. */
    async organizationIn(
      tx: Queryable,
      caller: OsbCaller,
      platformOrganization: PlatformOrganization,
      passwordHash: string | undefined,
    ): Promise<store.OsbOrganization> {
      await store.lockKey(tx, `organization:${platformOrganization.id}`);
      const existing = await store.findOsbOrganization(tx, platformOrganization.id);
      if (existing) return existing;
      if (passwordHash === undefined) throw new Error(`organization ${platformOrganization.id} vanished`);
      const createdAt = now();
      const organization = await insertOrganization(tx, {
        id: randomUUID(),
        name: (
          platformOrganization.displayName ??
          `${platformOrganization.platform} organization ${platformOrganization.id}`
        ).slice(0, 120),
        createdAt,
      });
      const user = await insertUser(tx, {
        id: randomUUID(),
        organizationId: organization.id,
        email: `osb-broker.${organization.customerNumber}@keyhouse.invalid`,
        passwordHash,
        role: 'admin',
        createdAt,
      });
      const profile = await insertBillingProfile(tx, organization.id, deps.defaultBillingProfile);
      const mapping: store.OsbOrganization = {
        platformOrganizationId: platformOrganization.id,
        platform: platformOrganization.platform,
        organizationId: organization.id,
        serviceUserId: user.id,
        billingProfileId: profile.id,
      };
      await store.insertOsbOrganization(tx, mapping);
      await recordAudit(
        tx,
        {
          principal: principalOf(mapping, user.email),
          label: `osb:${platformOrganization.platform}`,
          requestId: caller.requestId,
          sourceAddress: caller.sourceAddress,
        },
        {
          action: 'osb.organization.create',
          targetType: 'organization',
          targetId: organization.id,
          details: {
            platformOrganizationId: platformOrganization.id,
            customerNumber: organization.customerNumber,
            ...identityDetails(caller),
          },
        },
      );
      return mapping;
    },

    async instanceOf(tx: Queryable, row: store.OsbServiceInstance): Promise<StoredInstance> {
      const instance = await findInstance(tx, row.organizationId, row.instanceId);
      if (!instance) throw new Error(`service instance ${row.id} lost its instance`);
      return instance;
    },

    async orderOf(tx: Queryable, orderId: string): Promise<StoredOrder> {
      const order = await findOrderById(tx, orderId);
      if (!order) throw new Error(`order ${orderId} is missing`);
      return order;
    },

    /** Whether `service_id` and `plan_id` name our service and one of its plans (deprovision, unbind). */
    isOurPlan: (serviceId: string, planId: string) =>
      serviceId === OSB_SERVICE_ID && nodeSizeOfPlan(catalog, planId) !== undefined,

    /** The delete order of a service instance, placed in `tx`; the mapping then points at it. */
    async placeDelete(
      tx: pg.PoolClient,
      row: store.OsbServiceInstance,
      instance: StoredInstance,
      caller: OsbCaller,
    ): Promise<{ actor: SignedInActor; order: Order }> {
      const actor = await actorFor(tx, row.organizationId, caller);
      const placed = await deps.orders.placeChangeOrder(
        actor,
        instance.id,
        { type: 'delete', confirmName: instance.name },
        `osb:${row.id}:deprovision:${row.lastOrderId}`,
        tx,
      );
      await store.setLastOrder(tx, row.id, placed.order.id);
      return { actor, order: placed.order };
    },

    /** A caller for the broker's own work (the deprovision sweep), without a platform request behind it. */
    systemCaller: (): OsbCaller => ({
      requestId: `osb-settle-${randomUUID()}`,
      sourceAddress: 'keyhouse',
      originatingIdentity: undefined,
    }),
  };
}
export type OsbContext = ReturnType<typeof createOsbContext>;
