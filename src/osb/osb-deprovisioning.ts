import type { Logger } from 'pino';
import { message } from '../platform/messages.js';
import { updateInstanceRuntime } from '../instances/instance-store.js';
import { transitionOrder } from '../orders/order-status.js';
import { ConflictError } from '../platform/errors.js';
import { answer, asyncRequired, concurrency, refuse, unfinished, type OsbAnswer } from './osb-answers.js';
import type { OsbCaller, OsbContext } from './osb-context.js';
import * as store from './osb-store.js';

/** The operation a deprovision answers with; last_operation accepts it beside the order ids. */
export const DEPROVISION_OPERATION = 'deprovision';

/**
 * DELETE /v2/service_instances/:id — a delete order. Accepted during provisioning too: a create order that has not
 * started is cancelled at once (compare-and-set new → failed, so a worker that picks it up later skips it); one
 * that is processing runs to its end — the driver cannot be interrupted half-way safely — and then the delete
 * order is placed, on the next last_operation poll or by the sweep, so it happens even if the platform stops
 * polling.
 */
export function createDeprovisioning(ctx: OsbContext) {
  const { db, orders } = ctx;

  async function settleDeprovision(row: store.OsbServiceInstance): Promise<store.OsbServiceInstance> {
    if (!row.deprovisionRequestedAt) return row;
    const last = await ctx.orderOf(db.pool, row.lastOrderId);
    if (last.type === 'delete') return row;
    if (last.status === 'new' && last.type === 'create') {
      await db.transaction(async (tx) => {
        const cancelled = await transitionOrder(tx, last.id, 'new', 'failed', {
          reason: message('failure.cancelledByPlatform'),
          operatorDetail: 'osb deprovision during provisioning',
        });
        if (cancelled) await updateInstanceRuntime(tx, last.instanceId, { status: 'failed' });
      });
    }
    const current = await ctx.orderOf(db.pool, row.lastOrderId);
    if (unfinished(current)) return row;
    let placed: Awaited<ReturnType<OsbContext['placeDelete']>>;
    try {
      placed = await db.transaction(async (tx) =>
        ctx.placeDelete(tx, row, await ctx.instanceOf(tx, row), ctx.systemCaller()),
      );
    } catch (error) {
      // Another order of the instance runs (e.g. placed through the REST API); the next settle tries again.
      if (error instanceof ConflictError) return row;
      throw error;
    }
    orders.wake(placed.order);
    ctx.logger.info(
      { serviceInstanceId: row.id },
      'deprovisioning queued behind provisioning: delete order placed',
    );
    return (await store.findOsbInstance(db.pool, row.id))!;
  }

  return {
    settleDeprovision,

    async deprovision(
      caller: OsbCaller,
      serviceInstanceId: string,
      query: { service_id: string; plan_id: string; accepts_incomplete?: 'true' | 'false' },
    ): Promise<OsbAnswer> {
      if (query.accepts_incomplete !== 'true') return asyncRequired();
      if (!ctx.isOurPlan(query.service_id, query.plan_id)) {
        return refuse(
          400,
          `service_id "${query.service_id}" with plan_id "${query.plan_id}" is no plan of ours.`,
        );
      }
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return answer(410);
      const instance = await ctx.instanceOf(db.pool, row);
      if (instance.status === 'deleted') return answer(410);
      const last = await ctx.orderOf(db.pool, row.lastOrderId);
      const accepted = answer(202, { operation: DEPROVISION_OPERATION });
      if (last.type === 'delete' && last.status !== 'failed')
        return last.status === 'done' ? answer(410) : accepted;
      if (row.deprovisionRequestedAt && last.type !== 'delete') return accepted;

      if (unfinished(last)) {
        if (last.type !== 'create') {
          return concurrency(`Another operation (${last.type}) of this service instance is in progress.`);
        }
        await db.transaction(async (tx) => {
          await store.requestDeprovision(tx, row.id);
          const actor = await ctx.actorFor(tx, row.organizationId, caller);
          await ctx.audit(tx, actor, caller, 'osb.deprovision', instance.id, {
            serviceInstanceId,
            queuedBehind: last.id,
          });
        });
        await settleDeprovision({ ...row, deprovisionRequestedAt: ctx.now().toISOString() });
        return accepted;
      }
      const { order } = await db.transaction(async (tx) => {
        const placed = await ctx.placeDelete(tx, row, instance, caller);
        await store.deleteOsbBindingsOfInstance(tx, row.id);
        await ctx.audit(tx, placed.actor, caller, 'osb.deprovision', instance.id, {
          serviceInstanceId,
          orderId: placed.order.id,
        });
        return placed;
      });
      orders.wake(order);
      return accepted;
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

/**
 * Runs the broker's sweep on a timer (and once at start), so a deprovisioning queued behind a provisioning
 * happens even when the platform stops polling. Returns a stop function for the composition root.
 */
export function startDeprovisionSweep(
  osb: { sweepPendingDeprovisions(): Promise<number> },
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
