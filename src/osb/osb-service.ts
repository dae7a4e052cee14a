import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { adminSourcesSchema, trustedSourcesSchema } from '../access/trusted-sources.js';
import { insertOrganization, insertUser } from '../accounts/account-store.js';
import { hashPassword } from '../accounts/password-hashing.js';
import type { Principal } from '../accounts/roles.js';
import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { BillingProfileInput } from '../billing/billing-profile-schemas.js';
import { insertBillingProfile } from '../billing/billing-profile-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import {
  findInstance,
  setDeletionProtection,
  updateInstanceRuntime,
  type StoredInstance,
} from '../instances/instance-store.js';
import {
  createOrderRequestSchema,
  KUBERNETES_ADMIN_SOURCES_REFUSAL,
  restrictsAdminPaths,
  type ChangeOrderRequest,
  type Order,
} from '../orders/order-schemas.js';
import type { OrderService } from '../orders/order-service.js';
import { transitionOrder } from '../orders/order-status.js';
import { findOrderById, type StoredOrder } from '../orders/order-store.js';
import { ConflictError, DomainError, UnprocessableError, ValidationError } from '../platform/errors.js';
import type { SecretBox } from '../platform/secret-box.js';
import { stableHash } from '../platform/stable-hash.js';
import type { InstanceOidcClients } from './instance-oidc-clients.js';
import {
  OSB_SERVICE_ID,
  nodeSizeOfPlan,
  planIdOf,
  provisionParametersSchema,
  updateParametersSchema,
  type BindBody,
  type LastOperation,
  type ProvisionBody,
  type UpdateBody,
} from './osb-schemas.js';
import * as store from './osb-store.js';

/**
 * The broker: Open Service Broker semantics over the same order service as the REST API. Every outcome is an
 * answer value (status and body, as the OSB specification names them); the routes only send it. Domain errors of
 * the order service that mean "refused" are turned into answers here too, so the broker never reports a refusal
 * as a broker failure.
 */
export type OsbAnswer = { status: number; body: Record<string, unknown> };

/** Who asks: the platform's request, with the platform user's identity if the platform sent one. */
export type OsbCaller = {
  requestId: string;
  sourceAddress: string;
  /** X-Broker-API-Originating-Identity, decoded: `platform` and the JSON value (e.g. `{ "user_id": … }`). */
  originatingIdentity: { platform: string; value: unknown } | undefined;
};

const DEPROVISION_OPERATION = 'deprovision';

const answer = (status: number, body: Record<string, unknown> = {}): OsbAnswer => ({ status, body });
const refuse = (status: number, description: string, error?: string): OsbAnswer =>
  answer(status, error ? { error, description } : { description });
const asyncRequired = () =>
  refuse(
    422,
    'Keycloak instances are provisioned, changed and deleted asynchronously; send accepts_incomplete=true.',
    'AsyncRequired',
  );
const concurrency = (description: string) => refuse(422, description, 'ConcurrencyError');
const unfinished = (order: Pick<Order, 'status'>) => order.status === 'new' || order.status === 'processing';

function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = 'parameters'): string {
  return issues
    .map((issue) => {
      const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${where}: ${issue.code === 'unrecognized_keys' ? `unknown ${issue.keys.join(', ')}` : issue.message}`;
    })
    .join('; ');
}

/** A domain refusal of the order service in OSB terms (400 for invalid input, 422 for the instance's state). */
export function answerForDomainError(error: DomainError): OsbAnswer | undefined {
  if (error instanceof ValidationError) {
    return refuse(400, error.errors.map((e) => `${e.path}: ${e.message}`).join('; ') || error.message);
  }
  if (error instanceof ConflictError) return concurrency(error.message);
  if (error instanceof UnprocessableError) return refuse(422, error.message);
  if (error.kind === 'not-found') return refuse(404, error.message);
  return undefined;
}

export function createOsbService(deps: {
  db: Database;
  catalog: Catalog;
  defaultBillingProfile: BillingProfileInput;
  orders: OrderService;
  oidcClients: InstanceOidcClients;
  secretBox: SecretBox;
  logger: Logger;
  now?: () => Date;
}) {
  const { db, catalog, orders } = deps;
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger.child({ component: 'osb' });
  const keycloakVersions = catalog.serviceTypes.find((s) => s.id === 'keycloak')?.versions ?? [];

  const principalOf = (organization: store.OsbOrganization, email: string): Principal => ({
    userId: organization.serviceUserId,
    organizationId: organization.organizationId,
    email,
    role: 'admin',
    via: 'token',
  });

  async function actorFor(organizationId: string, caller: OsbCaller): Promise<SignedInActor> {
    const organization = await store.findOsbOrganizationByOrganizationId(db.pool, organizationId);
    if (!organization) throw new Error(`organization ${organizationId} has no broker mapping`);
    const { rows } = await db.pool.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [
      organization.serviceUserId,
    ]);
    return {
      principal: principalOf(organization, rows[0]!.email),
      label: `osb:${caller.originatingIdentity?.platform ?? 'platform'}`,
      requestId: caller.requestId,
      sourceAddress: caller.sourceAddress,
    };
  }

  /** The platform user behind a request, for the audit log. */
  const identityDetails = (caller: OsbCaller) =>
    caller.originatingIdentity
      ? {
          platform: caller.originatingIdentity.platform,
          originatingIdentity: caller.originatingIdentity.value,
        }
      : {};

  async function audit(
    actor: SignedInActor,
    caller: OsbCaller,
    action: string,
    instanceId: string,
    details: Record<string, unknown>,
  ) {
    await recordAudit(db.pool, actor, {
      action,
      targetType: 'instance',
      targetId: instanceId,
      details: { ...details, ...identityDetails(caller) },
    });
  }

  /** The Keyhouse organisation of a platform organisation, created with its service user on first use. */
  async function organizationFor(
    caller: OsbCaller,
    platformOrganizationId: string,
    platform: string,
    displayName: string | undefined,
  ): Promise<store.OsbOrganization> {
    const existing = await store.findOsbOrganization(db.pool, platformOrganizationId);
    if (existing) return existing;
    // Nobody ever learns this password: the service user cannot sign in.
    const passwordHash = await hashPassword(randomBytes(32).toString('base64url'));
    return db.transaction(async (tx) => {
      await store.lockKey(tx, `organization:${platformOrganizationId}`);
      const raced = await store.findOsbOrganization(tx, platformOrganizationId);
      if (raced) return raced;
      const createdAt = now();
      const organization = await insertOrganization(tx, {
        id: randomUUID(),
        name: (displayName ?? `${platform} organization ${platformOrganizationId}`).slice(0, 120),
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
        platformOrganizationId,
        platform,
        organizationId: organization.id,
        serviceUserId: user.id,
        billingProfileId: profile.id,
      };
      await store.insertOsbOrganization(tx, mapping);
      await recordAudit(
        tx,
        {
          principal: principalOf(mapping, user.email),
          label: `osb:${platform}`,
          requestId: caller.requestId,
          sourceAddress: caller.sourceAddress,
        },
        {
          action: 'osb.organization.create',
          targetType: 'organization',
          targetId: organization.id,
          details: {
            platformOrganizationId,
            customerNumber: organization.customerNumber,
            ...identityDetails(caller),
          },
        },
      );
      return mapping;
    });
  }

  async function instanceOf(row: store.OsbServiceInstance): Promise<StoredInstance> {
    const instance = await findInstance(db.pool, row.organizationId, row.instanceId);
    if (!instance) throw new Error(`service instance ${row.id} lost its instance`);
    return instance;
  }

  async function orderOf(orderId: string): Promise<StoredOrder> {
    const order = await findOrderById(db.pool, orderId);
    if (!order) throw new Error(`order ${orderId} is missing`);
    return order;
  }

  async function runningOrderOf(instanceId: string): Promise<StoredOrder | undefined> {
    const { rows } = await db.pool.query<{ id: string }>(
      `SELECT id FROM orders WHERE instance_id = $1 AND status IN ('new', 'processing')
        ORDER BY created_at DESC LIMIT 1`,
      [instanceId],
    );
    return rows[0] && orderOf(rows[0].id);
  }

  async function placeDelete(row: store.OsbServiceInstance, instance: StoredInstance, caller: OsbCaller) {
    const actor = await actorFor(row.organizationId, caller);
    const placed = await orders.placeChangeOrder(
      actor,
      instance.id,
      { type: 'delete', confirmName: instance.name },
      `osb:${row.id}:deprovision:${row.lastOrderId}`,
    );
    await store.setLastOrder(db.pool, row.id, placed.order.id);
    return placed.order;
  }

  /**
   * Deprovisioning accepted while the create order ran. A create order that has not started is cancelled at once
   * (compare-and-set new → failed, so a worker that picks it up later skips it); one that is processing runs to its
   * end — the driver cannot be interrupted half-way safely — and then the delete order is placed. Called on every
   * last_operation poll, and by the sweep, so it happens even if the platform stops polling.
   */
  async function settleDeprovision(row: store.OsbServiceInstance): Promise<store.OsbServiceInstance> {
    if (!row.deprovisionRequestedAt) return row;
    const last = await orderOf(row.lastOrderId);
    if (last.type === 'delete') return row;
    const system: OsbCaller = {
      requestId: `osb-settle-${randomUUID()}`,
      sourceAddress: 'keyhouse',
      originatingIdentity: undefined,
    };
    if (last.status === 'new' && last.type === 'create') {
      await db.transaction(async (tx) => {
        const cancelled = await transitionOrder(tx, last.id, 'new', 'failed', {
          reason: 'Cancelled: the platform deprovisioned the instance before its provisioning started.',
          operatorDetail: 'osb deprovision during provisioning',
        });
        if (cancelled) await updateInstanceRuntime(tx, last.instanceId, { status: 'failed' });
      });
    }
    const current = await orderOf(row.lastOrderId);
    if (unfinished(current)) return row;
    try {
      await placeDelete(row, await instanceOf(row), system);
    } catch (error) {
      // Another order of the instance runs (e.g. placed through the REST API); the next settle tries again.
      if (error instanceof ConflictError) return row;
      throw error;
    }
    logger.info(
      { serviceInstanceId: row.id },
      'deprovisioning queued behind provisioning: delete order placed',
    );
    return (await store.findOsbInstance(db.pool, row.id))!;
  }

  function lastOperationOf(order: StoredOrder, instance: StoredInstance): LastOperation {
    if (unfinished(order)) {
      const step = order.steps.at(-1);
      const what =
        order.type === 'create'
          ? 'Provisioning'
          : order.type === 'delete'
            ? 'Deleting'
            : `Change (${order.type})`;
      return {
        state: 'in progress',
        description: step ? `${what}: ${step.name} (${step.status})` : `${what}: ${order.status}`,
      };
    }
    if (order.status === 'failed') {
      return { state: 'failed', description: order.failureReason ?? 'The operation failed.' };
    }
    const description =
      order.type === 'create'
        ? `Keycloak is running at ${instance.url}.`
        : order.type === 'delete'
          ? 'The instance is deleted.'
          : `Change (${order.type}) applied.`;
    return { state: 'succeeded', description };
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
      const platformOrganizationId = body.context?.organization_guid ?? body.organization_guid;
      if (!platformOrganizationId) {
        return refuse(400, 'organization_guid (or context.organization_guid) is required.');
      }
      const parameters = provisionParametersSchema(catalog).safeParse(body.parameters ?? {});
      if (!parameters.success) return refuse(400, describeIssues(parameters.error.issues));
      const requestHash = stableHash({
        plan: body.plan_id,
        organization: platformOrganizationId,
        space: body.context?.space_guid ?? body.space_guid ?? null,
        parameters: body.parameters ?? {},
      });

      const existing = await store.findOsbInstance(db.pool, id);
      if (existing) return this.answerRepeatedProvision(existing, requestHash);

      const platform = body.context?.platform ?? caller.originatingIdentity?.platform ?? 'unknown';
      const organization = await organizationFor(
        caller,
        platformOrganizationId,
        platform,
        body.context?.organization_name,
      );
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
        billingProfileId: organization.billingProfileId,
        // Registering the broker is the operator's acceptance of the current terms for the platform's users.
        acceptTerms: { version: catalog.terms.version },
      });
      if (!request.success) return refuse(400, describeIssues(request.error.issues));

      const actor = await actorFor(organization.organizationId, caller);
      let order: Order;
      try {
        order = (await orders.placeOrder(actor, request.data, `osb:${id}`)).order;
      } catch (error) {
        // The same id was provisioned in this organisation with other attributes (a crash before the mapping).
        if (error instanceof UnprocessableError)
          return refuse(409, 'This instance id is in use with other attributes.');
        throw error;
      }
      const outcome = await db.transaction(async (tx) => {
        await store.lockKey(tx, `instance:${id}`);
        const raced = await store.findOsbInstance(tx, id);
        if (raced) return raced;
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
        return undefined;
      });
      if (outcome) return this.answerRepeatedProvision(outcome, requestHash);
      await audit(actor, caller, 'osb.provision', order.instanceId, {
        serviceInstanceId: id,
        orderId: order.id,
        planId: body.plan_id,
      });
      return answer(202, { operation: order.id });
    },

    /** PUT again: 202 while provisioning, 200 once done, 409 with other attributes. */
    async answerRepeatedProvision(row: store.OsbServiceInstance, requestHash: string): Promise<OsbAnswer> {
      if (row.requestHash !== requestHash) {
        return refuse(409, 'A service instance with this id exists with other attributes.');
      }
      const instance = await instanceOf(row);
      const { rows } = await db.pool.query<{ id: string; status: string }>(
        `SELECT id, status FROM orders WHERE instance_id = $1 AND type = 'create'`,
        [instance.id],
      );
      const create = rows[0]!;
      if (instance.status === 'running' && !row.deprovisionRequestedAt) {
        return answer(200, instance.url ? { dashboard_url: `${instance.url}/admin/master/console/` } : {});
      }
      if (instance.status === 'deleting' || instance.status === 'deleted' || row.deprovisionRequestedAt) {
        return refuse(409, 'This service instance was deprovisioned; provision a new one with a new id.');
      }
      return answer(202, { operation: create.id });
    },

    async lastOperation(serviceInstanceId: string, operation: string | undefined): Promise<OsbAnswer> {
      const found = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!found) return answer(410);
      const row = await settleDeprovision(found);
      // Each branch reads the order before its instance: the transaction that makes an order done also writes the
      // instance's URL, so an order read as done is never paired with an instance row from before that commit.
      if (operation === DEPROVISION_OPERATION || (operation === undefined && row.deprovisionRequestedAt)) {
        const last = await orderOf(row.lastOrderId);
        if (last.type !== 'delete') {
          return answer(200, {
            state: 'in progress',
            description: 'Deprovisioning: waiting for the provisioning to stop.',
          });
        }
        return answer(200, lastOperationOf(last, await instanceOf(row)));
      }
      const order = await findOrderById(db.pool, operation ?? row.lastOrderId);
      const instance = await instanceOf(row);
      if (!order || order.instanceId !== instance.id) return refuse(400, `Unknown operation "${operation}".`);
      return answer(200, lastOperationOf(order, instance));
    },

    async fetchInstance(serviceInstanceId: string): Promise<OsbAnswer> {
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such service instance.');
      const instance = await instanceOf(row);
      if (instance.status === 'provisioning' || instance.status === 'deleted' || row.deprovisionRequestedAt) {
        return refuse(
          404,
          `The service instance is ${row.deprovisionRequestedAt ? 'being deleted' : instance.status}.`,
        );
      }
      const running = await runningOrderOf(instance.id);
      if (running)
        return concurrency(`An operation (${running.type}) of this service instance is in progress.`);
      const { spec } = instance;
      return answer(200, {
        service_id: OSB_SERVICE_ID,
        plan_id: planIdOf(spec.nodeSize),
        ...(instance.url ? { dashboard_url: `${instance.url}/admin/master/console/` } : {}),
        parameters: {
          trustedSources: spec.trustedSources,
          adminSources: spec.adminSources,
          storageGb: spec.storageGb,
          region: spec.region,
          zone: spec.zone,
          version: spec.version,
        },
      });
    },

    async update(
      caller: OsbCaller,
      serviceInstanceId: string,
      body: UpdateBody,
      acceptsIncomplete: boolean,
    ): Promise<OsbAnswer> {
      if (!acceptsIncomplete) return asyncRequired();
      if (body.service_id !== OSB_SERVICE_ID) return refuse(400, `Unknown service_id "${body.service_id}".`);
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such service instance.');
      const instance = await instanceOf(row);
      if (row.deprovisionRequestedAt || instance.status === 'deleting' || instance.status === 'deleted') {
        return refuse(422, 'The service instance is being deleted.');
      }
      const parameters = updateParametersSchema(catalog).safeParse(body.parameters ?? {});
      if (!parameters.success) return refuse(400, describeIssues(parameters.error.issues));
      const { spec } = instance;
      const changes: ChangeOrderRequest[] = [];
      if (body.plan_id !== undefined) {
        const nodeSize = nodeSizeOfPlan(catalog, body.plan_id);
        if (!nodeSize) return refuse(400, `Unknown plan_id "${body.plan_id}".`);
        if (nodeSize !== spec.nodeSize) changes.push({ type: 'scale', nodeSize });
      }
      const params = parameters.data;
      if (params.storageGb !== undefined && params.storageGb !== spec.storageGb) {
        changes.push({ type: 'storage', storageGb: params.storageGb });
      }
      if (params.trustedSources !== undefined) {
        const region = catalog.regions.find((r) => r.id === spec.region)!;
        const canonical = trustedSourcesSchema(region).safeParse(params.trustedSources);
        if (!canonical.success)
          return refuse(400, describeIssues(canonical.error.issues, 'parameters.trustedSources'));
        const same = [...canonical.data].sort().join(',') === [...spec.trustedSources].sort().join(',');
        if (!same) changes.push({ type: 'trusted-sources', trustedSources: canonical.data });
      }
      if (params.adminSources !== undefined) {
        const region = catalog.regions.find((r) => r.id === spec.region)!;
        const admins = adminSourcesSchema(region, spec.trustedSources)
          .nullable()
          .safeParse(params.adminSources);
        if (!admins.success)
          return refuse(400, describeIssues(admins.error.issues, 'parameters.adminSources'));
        if (admins.data !== null && !restrictsAdminPaths(region))
          return refuse(400, `parameters.adminSources: ${KUBERNETES_ADMIN_SOURCES_REFUSAL}`);
        if (JSON.stringify(admins.data) !== JSON.stringify(spec.adminSources)) {
          changes.push({ type: 'admin-sources', adminSources: admins.data });
        }
      }
      if (params.version !== undefined && params.version !== spec.version) {
        changes.push({ type: 'upgrade', version: params.version });
      }

      const running = await runningOrderOf(instance.id);
      if (running) {
        // The same update sent again while it runs: its desired spec is already the instance's.
        if (changes.length === 0 && running.id === row.lastOrderId)
          return answer(202, { operation: running.id });
        return concurrency(`Another operation (${running.type}) of this service instance is in progress.`);
      }
      if (changes.length === 0) return answer(200);
      if (changes.length > 1) {
        return refuse(
          422,
          `One change per update: this request asks for ${changes.map((c) => c.type).join(', ')}. ` +
            'Send them as separate updates, each after the previous one has succeeded.',
        );
      }
      const actor = await actorFor(row.organizationId, caller);
      const placed = await orders.placeChangeOrder(actor, instance.id, changes[0]);
      await store.setLastOrder(db.pool, row.id, placed.order.id);
      await audit(actor, caller, 'osb.update', instance.id, {
        serviceInstanceId,
        orderId: placed.order.id,
        change: changes[0]!.type,
      });
      return answer(202, { operation: placed.order.id });
    },

    async deprovision(
      caller: OsbCaller,
      serviceInstanceId: string,
      acceptsIncomplete: boolean,
    ): Promise<OsbAnswer> {
      if (!acceptsIncomplete) return asyncRequired();
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return answer(410);
      const instance = await instanceOf(row);
      if (instance.status === 'deleted') return answer(410);
      const last = await orderOf(row.lastOrderId);
      const accepted = answer(202, { operation: DEPROVISION_OPERATION });
      if (last.type === 'delete' && last.status !== 'failed')
        return last.status === 'done' ? answer(410) : accepted;
      if (row.deprovisionRequestedAt && last.type !== 'delete') return accepted;

      const actor = await actorFor(row.organizationId, caller);
      if (unfinished(last)) {
        if (last.type !== 'create') {
          return concurrency(`Another operation (${last.type}) of this service instance is in progress.`);
        }
        await store.requestDeprovision(db.pool, row.id);
        await audit(actor, caller, 'osb.deprovision', instance.id, {
          serviceInstanceId,
          queuedBehind: last.id,
        });
        await settleDeprovision({ ...row, deprovisionRequestedAt: now().toISOString() });
        return accepted;
      }
      const order = await placeDelete(row, instance, caller);
      await db.pool.query('DELETE FROM osb_service_bindings WHERE service_instance_id = $1', [row.id]);
      await audit(actor, caller, 'osb.deprovision', instance.id, { serviceInstanceId, orderId: order.id });
      return accepted;
    },

    async bind(
      caller: OsbCaller,
      serviceInstanceId: string,
      bindingId: string,
      body: BindBody,
    ): Promise<OsbAnswer> {
      if (body.service_id !== OSB_SERVICE_ID) return refuse(400, `Unknown service_id "${body.service_id}".`);
      if (body.parameters && Object.keys(body.parameters).length > 0) {
        return refuse(
          400,
          `parameters: bindings take none (got ${Object.keys(body.parameters).join(', ')}).`,
        );
      }
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such service instance.');
      const instance = await instanceOf(row);
      if (instance.status !== 'running' || row.deprovisionRequestedAt) {
        return concurrency(
          `The service instance is ${row.deprovisionRequestedAt ? 'being deleted' : instance.status}; bind once it runs.`,
        );
      }
      const requestHash = stableHash({
        instance: serviceInstanceId,
        app: body.bind_resource?.app_guid ?? body.app_guid ?? null,
        parameters: body.parameters ?? {},
      });
      const actor = await actorFor(row.organizationId, caller);
      return db.transaction(async (tx) => {
        await store.lockKey(tx, `binding:${bindingId}`);
        const existing = await store.findOsbBinding(tx, bindingId);
        if (existing) {
          if (existing.requestHash !== requestHash) {
            return refuse(409, 'A binding with this id exists with other attributes.');
          }
          const target = await deps.oidcClients.target(instance.id);
          return answer(200, this.bindingBody(instance, target, existing.clientId, existing.sealedSecret));
        }
        const clientId = `osb-${bindingId}`;
        const secret = randomBytes(32).toString('base64url');
        const sealedSecret = deps.secretBox.seal(secret);
        const target = await deps.oidcClients.ensureClient(instance.id, clientId, secret);
        await store.insertOsbBinding(tx, {
          id: bindingId,
          serviceInstanceId,
          clientId,
          sealedSecret,
          requestHash,
        });
        await recordAudit(tx, actor, {
          action: 'osb.bind',
          targetType: 'instance',
          targetId: instance.id,
          details: { serviceInstanceId, bindingId, clientId, ...identityDetails(caller) },
        });
        return answer(201, this.bindingBody(instance, target, clientId, sealedSecret));
      });
    },

    bindingBody(
      instance: StoredInstance,
      target: { issuer: string; tokenEndpoint: string },
      clientId: string,
      sealedSecret: string,
    ): Record<string, unknown> {
      const url = new URL(instance.url!);
      return {
        credentials: {
          issuer: target.issuer,
          token_endpoint: target.tokenEndpoint,
          client_id: clientId,
          client_secret: deps.secretBox.open(sealedSecret),
        },
        endpoints: [{ host: url.hostname, ports: [url.port || '443'] }],
      };
    },

    async fetchBinding(serviceInstanceId: string, bindingId: string): Promise<OsbAnswer> {
      const binding = await store.findOsbBinding(db.pool, bindingId);
      if (!binding || binding.serviceInstanceId !== serviceInstanceId) return refuse(404, 'No such binding.');
      const row = (await store.findOsbInstance(db.pool, serviceInstanceId))!;
      const instance = await instanceOf(row);
      const target = await deps.oidcClients.target(instance.id);
      return answer(200, {
        ...this.bindingBody(instance, target, binding.clientId, binding.sealedSecret),
        parameters: {},
      });
    },

    async unbind(caller: OsbCaller, serviceInstanceId: string, bindingId: string): Promise<OsbAnswer> {
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return answer(410);
      const actor = await actorFor(row.organizationId, caller);
      return db.transaction(async (tx) => {
        await store.lockKey(tx, `binding:${bindingId}`);
        const binding = await store.findOsbBinding(tx, bindingId);
        if (!binding || binding.serviceInstanceId !== serviceInstanceId) return answer(410);
        const instance = await instanceOf(row);
        if (instance.status === 'running') await deps.oidcClients.deleteClient(instance.id, binding.clientId);
        await store.deleteOsbBinding(tx, bindingId);
        await recordAudit(tx, actor, {
          action: 'osb.unbind',
          targetType: 'instance',
          targetId: instance.id,
          details: { serviceInstanceId, bindingId, clientId: binding.clientId, ...identityDetails(caller) },
        });
        return answer(200);
      });
    },

    /** Places the delete orders of deprovisionings that wait for their provisioning (see settleDeprovision). */
    async sweepPendingDeprovisions(): Promise<number> {
      let settled = 0;
      for (const id of await store.listPendingDeprovisions(db.pool)) {
        const row = await store.findOsbInstance(db.pool, id);
        if (row && (await settleDeprovision(row)).lastOrderId !== row.lastOrderId) settled++;
      }
      return settled;
    },
  };
}
export type OsbService = ReturnType<typeof createOsbService>;

/**
 * Runs the broker's sweep on a timer (and once at start), so a deprovisioning queued behind a provisioning
 * happens even when the platform stops polling. Returns a stop function for the composition root.
 */
export function startDeprovisionSweep(
  osb: OsbService,
  logger: Logger,
  intervalMs = 15_000,
): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = osb
      .sweepPendingDeprovisions()
      .catch((error: unknown) => logger.error({ err: error }, 'osb deprovision sweep failed'));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
