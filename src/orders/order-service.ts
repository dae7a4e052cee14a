import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Actor, SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import { backupOrderDetails, restoreFromDetails } from '../backups/backup-orders.js';
import { insertBillingProfile, findBillingProfile } from '../billing/billing-profile-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import { priceDelta, priceOf } from '../catalog/pricing.js';
import type { Database, Queryable } from '../db/database.js';
import {
  findInstance,
  insertInstance,
  setInstanceSpec,
  storeSecretsOnce,
  type StoredInstance,
} from '../instances/instance-store.js';
import { claimWarmPoolMember } from '../warm-pool/warm-pool-claim.js';
import { can } from '../accounts/roles.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../platform/errors.js';
import { fieldError, fieldErrorsOf } from '../platform/field-errors.js';
import type { PageQuery } from '../platform/pagination.js';
import { stableHash } from '../platform/stable-hash.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import {
  changeOrderRequestSchema,
  specAfter,
  type ChangeOrderRequest,
  type CreateOrderRequest,
  type Order,
} from './order-schemas.js';
import { listThemeVersions } from '../themes/theme-store.js';
import {
  findOrder,
  findOrderByIdempotencyKey,
  findRunningOrder,
  insertOrder,
  listOrders,
  lockIdempotencyKey,
  type OrderFilter,
  type StoredOrder,
} from './order-store.js';

export type PlacedOrder = { order: Order; replayed: boolean };

const publicOrder = ({ organizationId: _org, requestHash: _hash, ...order }: StoredOrder): Order => order;

/** The provisioning queue as the order service uses it (src/provisioning/provisioning-worker.ts). */
export type OrderJobs = {
  /** Queues the order's job in the transaction that accepts the order: both commit, or neither. */
  enqueue(order: Order, tx: Queryable): Promise<void>;
  /** After the commit: the workers need not wait for their next poll. */
  wake(order: Order): void;
};

export function createOrderService(deps: { db: Database; catalog: Catalog; jobs: OrderJobs }) {
  const { db, catalog } = deps;

  /**
   * Runs `place` at most once per (organisation, Idempotency-Key): the same key with the same request gives the
   * first order back; with another request it is refused. A transaction-scoped advisory lock serialises concurrent
   * duplicates, so 50 parallel retries still yield one order. The order's job is queued in the same transaction.
   * Inside a caller's transaction (`outer`) the caller wakes the workers after its commit (`wake`).
   */
  async function once(
    actor: SignedInActor,
    idempotencyKey: string | undefined,
    request: unknown,
    place: (tx: pg.PoolClient, requestHash: string | null) => Promise<StoredOrder>,
    outer: pg.PoolClient | undefined,
  ): Promise<PlacedOrder> {
    const requestHash = idempotencyKey === undefined ? null : stableHash(request);
    const run = async (tx: pg.PoolClient) => {
      if (idempotencyKey !== undefined) {
        await lockIdempotencyKey(tx, actor.principal.organizationId, idempotencyKey);
        const earlier = await findOrderByIdempotencyKey(tx, actor.principal.organizationId, idempotencyKey);
        if (earlier) {
          if (earlier.requestHash !== requestHash) {
            throw new UnprocessableError(
              'This Idempotency-Key was already used for a different request; use a new key for a new order.',
            );
          }
          return { order: publicOrder(earlier), replayed: true };
        }
      }
      const order = publicOrder(await place(tx, requestHash));
      await deps.jobs.enqueue(order, tx);
      return { order, replayed: false };
    };
    const placed = outer ? await run(outer) : await db.transaction(run);
    if (!outer && !placed.replayed) deps.jobs.wake(placed.order);
    return placed;
  }

  /**
   * A change Keyhouse places itself, e.g. a patch upgrade in a maintenance window, or serving a custom domain once
   * its ACME certificate is there: only on a running instance without a running order, and once per
   * `idempotencyKey` when given; otherwise nothing (undefined), and the caller tries again later.
   */
  async function placeSystemChange(
    instance: { id: string; organizationId: string },
    change: ChangeOrderRequest,
    request: { requestId: string; idempotencyKey?: string },
  ): Promise<Order | undefined> {
    const actor: Actor = {
      principal: undefined,
      label: 'system',
      requestId: request.requestId,
      sourceAddress: 'keyhouse-worker',
    };
    const idempotencyKey = request.idempotencyKey ?? null;
    const placed = await db.transaction(async (tx) => {
      if (idempotencyKey && (await findOrderByIdempotencyKey(tx, instance.organizationId, idempotencyKey)))
        return undefined;
      const current = await findInstance(tx, instance.organizationId, instance.id, { forUpdate: true });
      if (!current || current.status !== 'running') return undefined;
      if (await findRunningOrder(tx, current.id)) return undefined;
      const order = publicOrder(
        await insertChangeOrder(tx, actor, current, change, {
          actorUserId: null,
          idempotencyKey,
          requestHash: null,
        }),
      );
      await deps.jobs.enqueue(order, tx);
      return order;
    });
    if (placed) deps.jobs.wake(placed);
    return placed;
  }

  /**
   * The part of a change order that does not depend on who places it: the instance's state (a running instance,
   * deletion protection), the new desired spec, the order with its price delta, the audit event. The caller holds
   * the instance row's lock and has found no running order of the instance.
   */
  async function insertChangeOrder(
    tx: pg.PoolClient,
    actor: Actor,
    instance: StoredInstance,
    change: ChangeOrderRequest,
    keys: { actorUserId: string | null; idempotencyKey: string | null; requestHash: string | null },
  ): Promise<StoredOrder> {
    const organizationId = instance.organizationId;
    if (instance.status === 'failed' && change.type !== 'delete') {
      throw new ConflictError(
        'The instance could not be provisioned; delete it, or open a ticket about its order.',
      );
    }
    if (instance.status !== 'running' && instance.status !== 'failed') {
      throw new ConflictError(`The instance is ${instance.status}; changes are possible once it runs.`);
    }
    if (change.type === 'delete' && instance.deletionProtection) {
      throw new ConflictError(
        'Deletion protection is on for this instance; turn it off first (PATCH /api/v1/instances/{id}).',
      );
    }
    const spec = specAfter(instance.spec, change);
    const before = priceOf(catalog, instance.spec);
    const after =
      change.type === 'delete' ? { ...before, perHour: '0.0000', perMonth: '0.00' } : priceOf(catalog, spec);
    await setInstanceSpec(tx, instance.id, spec);
    const order = await insertOrder(tx, {
      id: randomUUID(),
      organizationId,
      instanceId: instance.id,
      type: change.type,
      spec,
      previousSpec: instance.spec,
      price: after,
      priceDelta: priceDelta(before, after),
      billingProfileId: instance.billingProfileId,
      terms: null,
      actorUserId: keys.actorUserId,
      idempotencyKey: keys.idempotencyKey,
      requestHash: keys.requestHash,
      details: await backupOrderDetails(tx, instance, change),
    });
    await recordAudit(tx, actor, {
      organizationId,
      action: `order.${change.type}`,
      targetType: 'order',
      targetId: order.id,
      details: { instanceId: instance.id, change },
    });
    return order;
  }

  return {
    /** A new instance, as ordered in the wizard ("Jetzt kostenpflichtig bestellen"). */
    placeOrder(
      actor: SignedInActor,
      request: CreateOrderRequest,
      idempotencyKey?: string,
      tx?: pg.PoolClient,
    ): Promise<PlacedOrder> {
      const organizationId = actor.principal.organizationId;
      return once(
        actor,
        idempotencyKey,
        request,
        async (tx, requestHash) => {
          let billingProfileId: string;
          if (request.billingProfile) {
            billingProfileId = (await insertBillingProfile(tx, organizationId, request.billingProfile)).id;
          } else {
            const profile = await findBillingProfile(tx, organizationId, request.billingProfileId!);
            if (!profile) {
              throw new ValidationError([fieldError('billingProfileId', 'billing.profileUnknown')]);
            }
            billingProfileId = profile.id;
          }
          const spec: InstanceSpec = {
            serviceType: request.serviceType,
            version: request.version,
            nodeSize: request.nodeSize,
            storageGb: request.storageGb,
            trustedSources: request.trustedSources,
            adminSources: request.adminSources,
            region: request.region,
            zone: request.zone,
            themes: [],
          };
          const orderId = randomUUID();
          // A ready member of the warm pool becomes this instance (its id, name and secrets), or none does.
          const member = await claimWarmPoolMember(tx, catalog, spec, {
            id: orderId,
            restoring: Boolean(request.restoreFrom),
          });
          const instance = await insertInstance(tx, {
            id: member?.id ?? randomUUID(),
            organizationId,
            name: member?.name ?? `kc-${randomBytes(4).toString('hex')}`,
            spec,
            billingProfileId,
          });
          if (member) await storeSecretsOnce(tx, instance.id, member.sealedSecrets);
          const order = await insertOrder(tx, {
            id: orderId,
            organizationId,
            instanceId: instance.id,
            type: 'create',
            spec,
            price: priceOf(catalog, spec),
            priceDelta: null,
            billingProfileId,
            terms: { version: request.acceptTerms.version, sourceAddress: actor.sourceAddress },
            actorUserId: actor.principal.userId,
            idempotencyKey: idempotencyKey ?? null,
            requestHash,
            details: await restoreFromDetails(tx, catalog, organizationId, request),
          });
          await recordAudit(tx, actor, {
            action: 'order.create',
            targetType: 'order',
            targetId: order.id,
            details: {
              instanceId: instance.id,
              instanceName: instance.name,
              ...spec,
              price: order.price,
              warmPool: member !== undefined,
            },
          });
          return order;
        },
        tx,
      );
    },

    /** A change of an existing instance; at most one runs at a time per instance. */
    placeChangeOrder(
      actor: SignedInActor,
      instanceId: string,
      body: unknown,
      idempotencyKey?: string,
      tx?: pg.PoolClient,
    ): Promise<PlacedOrder> {
      const organizationId = actor.principal.organizationId;
      return once(
        actor,
        idempotencyKey,
        { instanceId, body },
        async (tx, requestHash) => {
          const instance = await findInstance(tx, organizationId, instanceId, { forUpdate: true });
          if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
          // First the running order: the rules below are checked against the instance as it is, and a change that
          // runs now may make a request valid or invalid that was not before (e.g. storage that has just grown).
          const running = await findRunningOrder(tx, instance.id);
          if (running) {
            throw new ConflictError(
              'Another order of this instance is still running; wait until it is done.',
              {
                runningOrder: `/api/v1/orders/${running.id}`,
              },
            );
          }
          const themeVersions = await listThemeVersions(tx, instance.id);
          const parsed = changeOrderRequestSchema(catalog, { ...instance, themeVersions }).safeParse(body);
          if (!parsed.success) {
            throw new ValidationError(fieldErrorsOf(parsed.error.issues));
          }
          const change = parsed.data;
          // Deleting is the managers' (cancelling); every other change is the technicians'. Admins do both.
          const permission = change.type === 'delete' ? 'instances:delete' : 'instances:change';
          if (!can(actor.principal.role, permission)) {
            throw new ForbiddenError(
              `Your role "${actor.principal.role}" may not ${change.type === 'delete' ? 'delete' : 'change'} instances.`,
            );
          }
          return insertChangeOrder(tx, actor, instance, change, {
            actorUserId: actor.principal.userId,
            idempotencyKey: idempotencyKey ?? null,
            requestHash,
          });
        },
        tx,
      );
    },

    /**
     * A patch release applied in the instance's maintenance window (src/backups): an upgrade order placed by the
     * platform, once per window (the window's start is its idempotency key). Answers undefined when the instance
     * is busy with another order or not running: the next pass in the window tries again. The order's job is
     * queued in the same transaction, like every order's.
     */
    placeSystemChange,

    placeMaintenanceUpgrade(
      instance: { id: string; organizationId: string },
      version: string,
      windowStart: string,
    ): Promise<Order | undefined> {
      const idempotencyKey = `maintenance:${instance.id}:${windowStart}`;
      return placeSystemChange(
        instance,
        { type: 'upgrade', version },
        { requestId: idempotencyKey, idempotencyKey },
      );
    },

    /** Wakes the workers for an order placed inside a caller's transaction, once that has committed. */
    wake: (order: Order) => deps.jobs.wake(order),

    async get(organizationId: string, id: string): Promise<Order> {
      const order = await findOrder(db.pool, organizationId, id);
      if (!order) throw new NotFoundError('Order');
      return publicOrder(order);
    },

    async list(organizationId: string, filter: OrderFilter, page: PageQuery) {
      const result = await listOrders(db.pool, organizationId, filter, page);
      return { items: result.items.map(publicOrder), nextCursor: result.nextCursor };
    },
  };
}
export type OrderService = ReturnType<typeof createOrderService>;
