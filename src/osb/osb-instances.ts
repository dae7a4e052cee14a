import type { StoredInstance } from '../instances/instance-store.js';
import { findOrderById, findRunningOrder, type StoredOrder } from '../orders/order-store.js';
import { answer, concurrency, refuse, unfinished, type OsbAnswer } from './osb-answers.js';
import type { OsbContext } from './osb-context.js';
import { DEPROVISION_OPERATION } from './osb-deprovisioning.js';
import { nodeSizeOfPlan, OSB_SERVICE_ID, planIdOf, type LastOperation } from './osb-schemas.js';
import * as store from './osb-store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** GET /v2/service_instances/:id and its last_operation: what the platform polls and fetches. */
export function createInstanceQueries(
  ctx: OsbContext,
  settleDeprovision: (row: store.OsbServiceInstance) => Promise<store.OsbServiceInstance>,
) {
  const { db, catalog } = ctx;

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
    async lastOperation(
      serviceInstanceId: string,
      query: { service_id?: string; plan_id?: string; operation?: string },
    ): Promise<OsbAnswer> {
      if (query.service_id !== undefined && query.service_id !== OSB_SERVICE_ID) {
        return refuse(400, `Unknown service_id "${query.service_id}".`);
      }
      if (query.plan_id !== undefined && !nodeSizeOfPlan(catalog, query.plan_id)) {
        return refuse(400, `Unknown plan_id "${query.plan_id}".`);
      }
      const { operation } = query;
      // Our operations are order ids and "deprovision"; anything else was never handed out.
      if (operation !== undefined && operation !== DEPROVISION_OPERATION && !UUID.test(operation)) {
        return refuse(400, `Unknown operation "${operation}".`);
      }
      const found = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!found) return answer(410);
      const row = await settleDeprovision(found);
      // Each branch reads the order before its instance: the transaction that makes an order done also writes the
      // instance's URL, so an order read as done is never paired with an instance row from before that commit.
      if (operation === DEPROVISION_OPERATION || (operation === undefined && row.deprovisionRequestedAt)) {
        const last = await ctx.orderOf(db.pool, row.lastOrderId);
        if (last.type !== 'delete') {
          return answer(200, {
            state: 'in progress',
            description: 'Deprovisioning: waiting for the provisioning to stop.',
          });
        }
        return answer(200, lastOperationOf(last, await ctx.instanceOf(db.pool, row)));
      }
      const order = await findOrderById(db.pool, operation ?? row.lastOrderId);
      const instance = await ctx.instanceOf(db.pool, row);
      if (!order || order.instanceId !== instance.id) return refuse(400, `Unknown operation "${operation}".`);
      return answer(200, lastOperationOf(order, instance));
    },

    async fetchInstance(serviceInstanceId: string): Promise<OsbAnswer> {
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such service instance.');
      const instance = await ctx.instanceOf(db.pool, row);
      if (instance.status === 'provisioning' || instance.status === 'deleted' || row.deprovisionRequestedAt) {
        return refuse(
          404,
          `The service instance is ${row.deprovisionRequestedAt ? 'being deleted' : instance.status}.`,
        );
      }
      const running = await findRunningOrder(db.pool, instance.id);
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
  };
}
