import { setDeletionProtection } from '../instances/instance-store.js';
import { createOrderRequestSchema, type Order } from '../orders/order-schemas.js';
import { findCreateOrder } from '../orders/order-store.js';
import { UnprocessableError } from '../platform/errors.js';
import { stableHash } from '../platform/stable-hash.js';
import { answer, asyncRequired, describeIssues, refuse, type OsbAnswer } from './osb-answers.js';
import type { OsbCaller, OsbContext } from './osb-context.js';
import {
  nodeSizeOfPlan,
  OSB_SERVICE_ID,
  provisionParametersSchema,
  type ProvisionBody,
} from './osb-schemas.js';
import * as store from './osb-store.js';

/** Stands in for the organisation's billing profile while the order request is checked, before any write. */
const BILLING_PROFILE_TO_BE_CHOSEN = '00000000-0000-4000-8000-000000000000';

/**
 * PUT /v2/service_instances/:id — a create order in the Keyhouse organisation of the platform organisation.
 * Everything is checked before anything is written; then organisation (on first use), order, job, the instance
 * mapping and the audit event are written in one transaction, so a refusal leaves nothing behind and nothing can
 * fail after the commit.
 */
export function createProvisioning(ctx: OsbContext) {
  const { db, catalog, orders } = ctx;
  const keycloakVersions = catalog.serviceTypes.find((s) => s.id === 'keycloak')?.versions ?? [];

  /** PUT again: 202 while provisioning, 200 once done, 409 with other attributes. */
  async function answerRepeatedProvision(
    row: store.OsbServiceInstance,
    requestHash: string,
  ): Promise<OsbAnswer> {
    if (row.requestHash !== requestHash) {
      return refuse(409, 'A service instance with this id exists with other attributes.');
    }
    const instance = await ctx.instanceOf(db.pool, row);
    if (instance.status === 'running' && !row.deprovisionRequestedAt) {
      return answer(200, instance.url ? { dashboard_url: `${instance.url}/admin/master/console/` } : {});
    }
    if (instance.status === 'deleting' || instance.status === 'deleted' || row.deprovisionRequestedAt) {
      return refuse(409, 'This service instance was deprovisioned; provision a new one with a new id.');
    }
    const create = await findCreateOrder(db.pool, instance.id);
    if (!create) throw new Error(`instance ${instance.id} has no create order`);
    return answer(202, { operation: create.id });
  }

  return {
    async provision(
      caller: OsbCaller,
      id: string,
      body: ProvisionBody,
      acceptsIncomplete: boolean,
    ): Promise<OsbAnswer> {
      if (!acceptsIncomplete) return asyncRequired();
      if (body.service_id !== OSB_SERVICE_ID) return refuse(400, `Unknown service_id "${body.service_id}".`);
      const nodeSize = nodeSizeOfPlan(catalog, body.plan_id);
      if (!nodeSize) return refuse(400, `Unknown plan_id "${body.plan_id}".`);
      if (body.maintenance_info) {
        return refuse(
          422,
          'The plans of this broker have no maintenance_info; send none.',
          'MaintenanceInfoConflict',
        );
      }
      const parameters = provisionParametersSchema(catalog).safeParse(body.parameters ?? {});
      if (!parameters.success) return refuse(400, describeIssues(parameters.error.issues));
      const params = parameters.data;
      const request = createOrderRequestSchema(catalog).safeParse({
        serviceType: 'keycloak',
        version: params.version ?? keycloakVersions.at(-1),
        nodeSize,
        storageGb: params.storageGb ?? catalog.storage.minGb,
        trustedSources: params.trustedSources,
        adminSources: params.adminSources,
        region: params.region ?? catalog.regions[0]!.id,
        zone: params.zone,
        billingProfileId: BILLING_PROFILE_TO_BE_CHOSEN,
        // Registering the broker is the operator's acceptance of the current terms for the platform's users.
        acceptTerms: { version: catalog.terms.version },
      });
      if (!request.success) return refuse(400, describeIssues(request.error.issues));

      const platformOrganization = {
        id: body.context?.organization_guid ?? body.organization_guid,
        platform: body.context?.platform ?? caller.originatingIdentity?.platform ?? 'unknown',
        displayName: body.context?.organization_name,
      };
      const requestHash = stableHash({
        plan: body.plan_id,
        organization: platformOrganization.id,
        space: body.context?.space_guid ?? body.space_guid,
        parameters: body.parameters ?? {},
      });
      const existing = await store.findOsbInstance(db.pool, id);
      if (existing) return answerRepeatedProvision(existing, requestHash);

      const passwordHash = await ctx.passwordHashIfNew(platformOrganization.id);
      let outcome: { order: Order } | { raced: store.OsbServiceInstance };
      try {
        outcome = await db.transaction(async (tx) => {
          await store.lockKey(tx, `instance:${id}`);
          const raced = await store.findOsbInstance(tx, id);
          if (raced) return { raced };
          const organization = await ctx.organizationIn(tx, caller, platformOrganization, passwordHash);
          const actor = await ctx.actorFor(tx, organization.organizationId, caller);
          const { order } = await orders.placeOrder(
            actor,
            { ...request.data, billingProfileId: organization.billingProfileId },
            `osb:${id}`,
            tx,
          );
          await store.insertOsbInstance(tx, {
            id,
            instanceId: order.instanceId,
            organizationId: organization.organizationId,
            requestHash,
            parameters: body.parameters ?? {},
            lastOrderId: order.id,
          });
          // The platform manages the life cycle: its deprovision must not be refused by deletion protection.
          await setDeletionProtection(tx, order.instanceId, false);
          await ctx.audit(tx, actor, caller, 'osb.provision', order.instanceId, {
            serviceInstanceId: id,
            orderId: order.id,
            planId: body.plan_id,
          });
          return { order };
        });
      } catch (error) {
        // The same id was provisioned in this organisation with other attributes.
        if (error instanceof UnprocessableError) {
          return refuse(409, 'This instance id is in use with other attributes.');
        }
        throw error;
      }
      if ('raced' in outcome) return answerRepeatedProvision(outcome.raced, requestHash);
      orders.wake(outcome.order);
      return answer(202, { operation: outcome.order.id });
    },
  };
}
