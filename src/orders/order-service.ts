import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Actor, SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import { backupOrderDetails, restoreFromDetails } from '../backups/backup-orders.js';
import { insertBillingProfile, findBillingProfile } from '../billing/billing-profile-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import { priceDelta, priceOf } from '../catalog/pricing.js';
import type { Database } from '../db/database.js';
import { findInstance, insertInstance, type StoredInstance } from '../instances/instance-store.js';
import { can } from '../accounts/roles.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from '../platform/errors.js';
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
import {
  findOrder,
  findOrderByIdempotencyKey,
  insertOrder,
  listOrders,
  type OrderFilter,
  type StoredOrder,
} from './order-store.js';

export type PlacedOrder = { order: Order; replayed: boolean };

const publicOrder = ({ organizationId: _org, requestHash: _hash, ...order }: StoredOrder): Order => order;

export function createOrderService(deps: {
  db: Database;
  catalog: Catalog;
  /** Called after the commit that accepted an order, to start its processing. */
  onOrderAccepted: (order: Order) => Promise<void>;
}) {
  const { db, catalog } = deps;

  /**
   * Runs `place` at most once per (organisation, Idempotency-Key): the same key with the same request gives the
   * first order back; with another request it is refused. A transaction-scoped advisory lock serialises concurrent
   * duplicates, so 50 parallel retries still yield one order.
   */
  async function once(
    actor: SignedInActor,
    idempotencyKey: string | undefined,
    request: unknown,
    place: (tx: pg.PoolClient, requestHash: string | null) => Promise<StoredOrder>,
  ): Promise<PlacedOrder> {
    const requestHash = idempotencyKey === undefined ? null : stableHash(request);
    const result = await db.transaction(async (tx) => {
      if (idempotencyKey !== undefined) {
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `${actor.principal.organizationId}:${idempotencyKey}`,
        ]);
        const earlier = await findOrderByIdempotencyKey(tx, actor.principal.organizationId, idempotencyKey);
        if (earlier) {
          if (earlier.requestHash !== requestHash) {
            throw new UnprocessableError(
              'This Idempotency-Key was already used for a different request; use a new key for a new order.',
            );
          }
          return { order: earlier, replayed: true };
        }
      }
      return { order: await place(tx, requestHash), replayed: false };
    });
    if (!result.replayed) await deps.onOrderAccepted(publicOrder(result.order));
    return { order: publicOrder(result.order), replayed: result.replayed };
  }

  /**
   * The part of a change order that does not depend on who places it: refusals (one change at a time, a running
   * instance, deletion protection), the new desired spec, the order with its price delta, the audit event.
   */
  async function insertChangeOrder(
    tx: pg.PoolClient,
    actor: Actor,
    instance: StoredInstance,
    change: ChangeOrderRequest,
    keys: { actorUserId: string | null; idempotencyKey: string | null; requestHash: string | null },
  ): Promise<StoredOrder> {
    const organizationId = instance.organizationId;
    const running = await tx.query<{ id: string }>(
      `SELECT id FROM orders WHERE instance_id = $1 AND status IN ('new', 'processing') LIMIT 1`,
      [instance.id],
    );
    if (running.rows[0]) {
      throw new ConflictError('Another order of this instance is still running; wait until it is done.', {
        runningOrder: `/api/v1/orders/${running.rows[0].id}`,
      });
    }
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
    await tx.query('UPDATE instances SET spec = $2, updated_at = now() WHERE id = $1', [
      instance.id,
      JSON.stringify(spec),
    ]);
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
    ): Promise<PlacedOrder> {
      const organizationId = actor.principal.organizationId;
      return once(actor, idempotencyKey, request, async (tx, requestHash) => {
        let billingProfileId: string;
        if (request.billingProfile) {
          billingProfileId = (await insertBillingProfile(tx, organizationId, request.billingProfile)).id;
        } else {
          const profile = await findBillingProfile(tx, organizationId, request.billingProfileId!);
          if (!profile) {
            throw new ValidationError([
              { path: 'billingProfileId', message: 'No billing profile with this id in your organisation.' },
            ]);
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
        };
        const instance = await insertInstance(tx, {
          id: randomUUID(),
          organizationId,
          name: `kc-${randomBytes(4).toString('hex')}`,
          spec,
          billingProfileId,
        });
        const order = await insertOrder(tx, {
          id: randomUUID(),
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
          details: { instanceId: instance.id, instanceName: instance.name, ...spec, price: order.price },
        });
        return order;
      });
    },

    /** A change of an existing instance; at most one runs at a time per instance. */
    placeChangeOrder(
      actor: SignedInActor,
      instanceId: string,
      body: unknown,
      idempotencyKey?: string,
    ): Promise<PlacedOrder> {
      const organizationId = actor.principal.organizationId;
      return once(actor, idempotencyKey, { instanceId, body }, async (tx, requestHash) => {
        const instance = await findInstance(tx, organizationId, instanceId, { forUpdate: true });
        if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
        const parsed = changeOrderRequestSchema(catalog, instance).safeParse(body);
        if (!parsed.success) {
          throw new ValidationError(
            parsed.error.issues.map((issue) => ({
              path: issue.path.join('.') || '(body)',
              message: issue.message,
            })),
          );
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
      });
    },

    /**
     * A patch release applied in the instance's maintenance window (src/backups): an upgrade order placed by the
     * platform, once per window (the window's start is its idempotency key). Answers undefined when the instance
     * is busy with another order or not running: the next pass in the window tries again.
     */
    async placeMaintenanceUpgrade(
      instance: { id: string; organizationId: string },
      version: string,
      windowStart: string,
    ): Promise<Order | undefined> {
      const idempotencyKey = `maintenance:${instance.id}:${windowStart}`;
      const actor: Actor = {
        principal: undefined,
        label: 'system',
        requestId: idempotencyKey,
        sourceAddress: 'keyhouse-worker',
      };
      const placed = await db.transaction(async (tx) => {
        const earlier = await findOrderByIdempotencyKey(tx, instance.organizationId, idempotencyKey);
        if (earlier) return undefined;
        const current = await findInstance(tx, instance.organizationId, instance.id, { forUpdate: true });
        if (!current || current.status !== 'running') return undefined;
        const busy = await tx.query(
          `SELECT 1 FROM orders WHERE instance_id = $1 AND status IN ('new', 'processing')`,
          [current.id],
        );
        if (busy.rowCount) return undefined;
        return insertChangeOrder(
          tx,
          actor,
          current,
          { type: 'upgrade', version },
          { actorUserId: null, idempotencyKey, requestHash: null },
        );
      });
      if (placed) await deps.onOrderAccepted(publicOrder(placed));
      return placed && publicOrder(placed);
    },

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
