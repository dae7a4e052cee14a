import { randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit-store.js';
import type { StoredInstance } from '../instances/instance-store.js';
import { stableHash } from '../platform/stable-hash.js';
import { answer, concurrency, refuse, type OsbAnswer } from './osb-answers.js';
import type { OsbCaller, OsbContext } from './osb-context.js';
import { OSB_SERVICE_ID, planIdOf, type BindBody } from './osb-schemas.js';
import * as store from './osb-store.js';

/**
 * Bindings: a confidential OIDC client (`osb-<binding id>`, client credentials) in the instance's first realm,
 * created with the instance's admin account; its secret is stored sealed. The same request again answers the
 * same binding; the same id with other attributes (or another plan) is a conflict.
 */
export function createBindings(ctx: OsbContext) {
  const { db, oidcClients, secretBox } = ctx;

  function bindingBody(
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
        client_secret: secretBox.open(sealedSecret),
      },
      endpoints: [{ host: url.hostname, ports: [url.port || '443'] }],
    };
  }

  return {
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
      const instance = await ctx.instanceOf(db.pool, row);
      if (instance.status !== 'running' || row.deprovisionRequestedAt) {
        return concurrency(
          `The service instance is ${row.deprovisionRequestedAt ? 'being deleted' : instance.status}; bind once it runs.`,
        );
      }
      const instancePlan = planIdOf(instance.spec.nodeSize);
      const requestHash = stableHash({
        instance: serviceInstanceId,
        app: body.bind_resource?.app_guid ?? body.app_guid ?? null,
        parameters: body.parameters ?? {},
      });
      const actor = await ctx.actorFor(db.pool, row.organizationId, caller);
      return db.transaction(async (tx) => {
        await store.lockKey(tx, `binding:${bindingId}`);
        const existing = await store.findOsbBinding(tx, bindingId);
        if (existing) {
          if (existing.requestHash !== requestHash || body.plan_id !== instancePlan) {
            return refuse(409, 'A binding with this id exists with other attributes.');
          }
          const target = await oidcClients.target(instance.id);
          return answer(200, bindingBody(instance, target, existing.clientId, existing.sealedSecret));
        }
        if (body.plan_id !== instancePlan) {
          return refuse(
            400,
            `plan_id "${body.plan_id}" is not the plan of the service instance (${instancePlan}).`,
          );
        }
        const clientId = `osb-${bindingId}`;
        const secret = randomBytes(32).toString('base64url');
        const sealedSecret = secretBox.seal(secret);
        const target = await oidcClients.ensureClient(instance.id, clientId, secret);
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
          details: { serviceInstanceId, bindingId, clientId, ...ctx.identityDetails(caller) },
        });
        return answer(201, bindingBody(instance, target, clientId, sealedSecret));
      });
    },

    async fetchBinding(serviceInstanceId: string, bindingId: string): Promise<OsbAnswer> {
      const binding = await store.findOsbBinding(db.pool, bindingId);
      if (!binding || binding.serviceInstanceId !== serviceInstanceId) return refuse(404, 'No such binding.');
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return refuse(404, 'No such binding.');
      const instance = await ctx.instanceOf(db.pool, row);
      const target = await oidcClients.target(instance.id);
      return answer(200, {
        ...bindingBody(instance, target, binding.clientId, binding.sealedSecret),
        parameters: {},
      });
    },

    async unbind(
      caller: OsbCaller,
      serviceInstanceId: string,
      bindingId: string,
      query: { service_id: string; plan_id: string },
    ): Promise<OsbAnswer> {
      if (!ctx.isOurPlan(query.service_id, query.plan_id)) {
        return refuse(
          400,
          `service_id "${query.service_id}" with plan_id "${query.plan_id}" is no plan of ours.`,
        );
      }
      const row = await store.findOsbInstance(db.pool, serviceInstanceId);
      if (!row) return answer(410);
      const actor = await ctx.actorFor(db.pool, row.organizationId, caller);
      return db.transaction(async (tx) => {
        await store.lockKey(tx, `binding:${bindingId}`);
        const binding = await store.findOsbBinding(tx, bindingId);
        if (!binding || binding.serviceInstanceId !== serviceInstanceId) return answer(410);
        const instance = await ctx.instanceOf(tx, row);
        if (instance.status === 'running') await oidcClients.deleteClient(instance.id, binding.clientId);
        await store.deleteOsbBinding(tx, bindingId);
        await recordAudit(tx, actor, {
          action: 'osb.unbind',
          targetType: 'instance',
          targetId: instance.id,
          details: {
            serviceInstanceId,
            bindingId,
            clientId: binding.clientId,
            ...ctx.identityDetails(caller),
          },
        });
        return answer(200);
      });
    },
  };
}
