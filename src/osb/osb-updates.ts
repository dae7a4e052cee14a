import { adminSourcesSchema, trustedSourcesSchema } from '../access/trusted-sources.js';
import { restrictsAdminPaths, type ChangeOrderRequest } from '../orders/order-schemas.js';
import { findRunningOrder } from '../orders/order-store.js';
import { renderMessage } from '../platform/messages.js';
import { answer, asyncRequired, concurrency, describeIssues, refuse, type OsbAnswer } from './osb-answers.js';
import type { OsbCaller, OsbContext } from './osb-context.js';
import { nodeSizeOfPlan, OSB_SERVICE_ID, updateParametersSchema, type UpdateBody } from './osb-schemas.js';
import * as store from './osb-store.js';

/**
 * PATCH /v2/service_instances/:id — a new plan is a scale order; `storageGb` a storage order (grow only);
 * `trustedSources` a trusted-sources order; `adminSources` an admin-sources order; `version` an upgrade order. One change per request, so the platform
 * can follow it; the order, the mapping's last operation and the audit event are written in one transaction.
 */
export function createUpdates(ctx: OsbContext) {
  const { db, catalog, orders } = ctx;

  return {
    async update(
      caller: OsbCaller,
      serviceInstanceId: string,
      body: UpdateBody,
      acceptsIncomplete: boolean,
    ): Promise<OsbAnswer> {
      if (!acceptsIncomplete) return asyncRequired();
      if (body.service_id !== OSB_SERVICE_ID) return refuse(400, `Unknown service_id "${body.service_id}".`);
      if (body.maintenance_info) {
        return refuse(
          422,
          'The plans of this broker have no maintenance_info; send none.',
          'MaintenanceInfoConflict',
        );
      }
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such service instance.');
      const instance = await ctx.instanceOf(db.pool, row);
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
        if (!canonical.success) {
          return refuse(400, describeIssues(canonical.error.issues, 'parameters.trustedSources'));
        }
        const same = [...canonical.data].sort().join(',') === [...spec.trustedSources].sort().join(',');
        if (!same) changes.push({ type: 'trusted-sources', trustedSources: canonical.data });
      }
      if (params.adminSources !== undefined) {
        const region = catalog.regions.find((r) => r.id === spec.region)!;
        const admins = adminSourcesSchema(region, spec.trustedSources)
          .nullable()
          .safeParse(params.adminSources);
        if (!admins.success) {
          return refuse(400, describeIssues(admins.error.issues, 'parameters.adminSources'));
        }
        // Kubernetes regions cannot hold /admin/ to narrower sources than the logins (order-schemas.ts).
        if (admins.data !== null && !restrictsAdminPaths(region)) {
          return refuse(400, `parameters.adminSources: ${renderMessage('sources.adminNotOnKubernetes')}`);
        }
        if (JSON.stringify(admins.data) !== JSON.stringify(spec.adminSources)) {
          changes.push({ type: 'admin-sources', adminSources: admins.data });
        }
      }
      if (params.version !== undefined && params.version !== spec.version) {
        changes.push({ type: 'upgrade', version: params.version });
      }

      const running = await findRunningOrder(db.pool, instance.id);
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
      const change = changes[0]!;
      const order = await db.transaction(async (tx) => {
        const actor = await ctx.actorFor(tx, row.organizationId, caller);
        const placed = await orders.placeChangeOrder(actor, instance.id, change, undefined, tx);
        await store.setLastOrder(tx, row.id, placed.order.id);
        await ctx.audit(tx, actor, caller, 'osb.update', instance.id, {
          serviceInstanceId,
          orderId: placed.order.id,
          change: change.type,
        });
        return placed.order;
      });
      orders.wake(order);
      return answer(202, { operation: order.id });
    },
  };
}
