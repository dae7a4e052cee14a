import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isTrustedAddress } from '../access/trusted-sources.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import type { DesiredInstance, Driver } from '../drivers/driver.js';
import {
  countActiveInstances,
  findInstanceForProvisioning,
  storeSecretsOnce,
  updateInstanceRuntime,
  type ProvisioningView,
} from '../instances/instance-store.js';
import { recordOrderStep } from '../orders/order-steps.js';
import { findOrderById, type StoredOrder } from '../orders/order-store.js';
import { transitionOrder } from '../orders/order-status.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { EdgeCheck } from './verify-through-edge.js';

/**
 * The provisioning reconciler: makes the world match what an order asked for, and moves the order through its life
 * cycle. Level-triggered: whatever a crash left behind, running it again converges (the driver's apply is
 * idempotent, secrets are stored before use, status changes are compare-and-set).
 */
export type ReconcileOutcome =
  | { outcome: 'done' }
  | { outcome: 'failed'; reason: string }
  /** Transient: run again later (the queue retries with back-off). */
  | { outcome: 'retry'; message: string }
  /** The region is full; the order stays `new`. */
  | { outcome: 'waiting'; message: string }
  | { outcome: 'skipped'; why: string };

export type InstanceSecrets = DesiredInstance['secrets'];

export type ReconcilerDeps = {
  db: Database;
  catalog: Catalog;
  /** The driver of a region's backend; undefined when this deployment has none for it. */
  driverFor(driver: 'local' | 'kubernetes'): Driver | undefined;
  secretBox: SecretBox;
  logger: Logger;
  /** Logs in as the customer's admin through the edge. */
  verifyThroughEdge(options: { url: string; username: string; password: string }): Promise<EdgeCheck>;
};

const EDGE_PROBE_ADDRESSES = ['127.0.0.1', '::1'];

export function createReconciler(deps: ReconcilerDeps) {
  const { db, catalog } = deps;
  const logger = deps.logger.child({ component: 'reconciler' });

  async function secretsOf(instance: ProvisioningView): Promise<InstanceSecrets> {
    let sealed = instance.sealedSecrets;
    if (!sealed) {
      // Generated once and stored before first use, so a retry after a crash sets the same passwords.
      const fresh: InstanceSecrets = {
        adminPassword: randomBytes(24).toString('base64url'),
        databasePassword: randomBytes(24).toString('base64url'),
      };
      sealed = await storeSecretsOnce(db.pool, instance.id, deps.secretBox.seal(JSON.stringify(fresh)));
    }
    return JSON.parse(deps.secretBox.open(sealed)) as InstanceSecrets;
  }

  async function fail(order: StoredOrder, reason: string, operatorDetail: string): Promise<ReconcileOutcome> {
    logger.warn({ orderId: order.id, instanceId: order.instanceId, reason, operatorDetail }, 'order failed');
    await db.transaction(async (tx) => {
      const from = (await findOrderById(tx, order.id))?.status;
      if (from !== 'new' && from !== 'processing') return;
      await transitionOrder(tx, order.id, from, 'failed', { reason, operatorDetail });
      if (order.type === 'create') await updateInstanceRuntime(tx, order.instanceId, { status: 'failed' });
    });
    return { outcome: 'failed', reason };
  }

  /** new → processing, unless the region is full (then the order waits in `new`). */
  async function start(
    order: StoredOrder,
    instance: ProvisioningView,
  ): Promise<ReconcileOutcome | undefined> {
    if (order.status !== 'new') return undefined;
    const region = catalog.regions.find((r) => r.id === instance.spec.region)!;
    if (order.type === 'create') {
      const active = await countActiveInstances(db.pool, region.id, instance.id);
      if (active >= region.capacity.maxInstances) {
        const message = `Region ${region.name} is full (${active} of ${region.capacity.maxInstances} instances); your order waits for capacity.`;
        await recordOrderStep(db.pool, order.id, 'waiting-for-capacity', 'running', message);
        return { outcome: 'waiting', message };
      }
    }
    await transitionOrder(db.pool, order.id, 'new', 'processing');
    if (order.steps.some((s) => s.name === 'waiting-for-capacity')) {
      await recordOrderStep(db.pool, order.id, 'waiting-for-capacity', 'done', 'capacity available');
    }
    return undefined;
  }

  async function finish(
    order: StoredOrder,
    instance: ProvisioningView,
    url: string,
    secrets: InstanceSecrets,
  ) {
    const report = (state: 'running' | 'done' | 'failed', message?: string) =>
      recordOrderStep(db.pool, order.id, 'verify', state, message);
    await report('running');
    if (EDGE_PROBE_ADDRESSES.some((address) => isTrustedAddress(address, instance.spec.trustedSources))) {
      const check = await deps.verifyThroughEdge({
        url,
        username: instance.adminUsername,
        password: secrets.adminPassword,
      });
      if (!check.ok) {
        await report('failed', check.message);
        return { outcome: 'retry' as const, message: check.message };
      }
      await report('done', 'the admin logged in through the edge');
    } else {
      // The edge refuses this host too, as the customer's allowlist says: the driver's login on the instance itself
      // is the check we can make.
      await report(
        'done',
        'this host is not a trusted source; login verified on the instance behind the edge',
      );
    }
    await db.transaction(async (tx) => {
      if (await transitionOrder(tx, order.id, 'processing', 'done')) {
        await updateInstanceRuntime(tx, instance.id, { status: 'running', url });
      }
    });
    return { outcome: 'done' as const };
  }

  return {
    /**
     * Works on one order. `lastAttempt` turns a transient error into a failure (the queue will not retry again).
     * Never throws for expected outcomes; unexpected errors propagate to the queue, which retries.
     */
    async reconcile(orderId: string, options: { lastAttempt: boolean }): Promise<ReconcileOutcome> {
      const order = await findOrderById(db.pool, orderId);
      if (!order) return { outcome: 'skipped', why: 'no such order' };
      if (order.status === 'done' || order.status === 'failed')
        return { outcome: 'skipped', why: order.status };
      const instance = (await findInstanceForProvisioning(db.pool, order.instanceId))!;
      const region = catalog.regions.find((r) => r.id === instance.spec.region);
      const driver = region && deps.driverFor(region.driver);
      if (!region || !driver) {
        return fail(
          order,
          'This region cannot provision instances at the moment. Our team has been notified.',
          `no driver for region ${instance.spec.region}`,
        );
      }

      const waiting = await start(order, instance);
      if (waiting) return waiting;

      const secrets = await secretsOf(instance);
      const nodeSize = catalog.nodeSizes.find((n) => n.id === instance.spec.nodeSize)!;
      const desired: DesiredInstance = {
        instanceId: instance.id,
        name: instance.name,
        customerNumber: instance.customerNumber,
        version: instance.spec.version,
        nodeSize: { id: nodeSize.id, vcpu: nodeSize.vcpu, memoryGb: nodeSize.memoryGb },
        storageGb: instance.spec.storageGb,
        trustedSources: instance.spec.trustedSources,
        region: instance.spec.region,
        zone: instance.spec.zone,
        secrets,
      };
      const result = await driver.apply(desired, (name, state, message) =>
        recordOrderStep(db.pool, order.id, name, state, message),
      );
      switch (result.outcome) {
        case 'ready': {
          const finished = await finish(order, instance, result.url, secrets);
          if (finished.outcome === 'retry' && options.lastAttempt) {
            return fail(
              order,
              'Your instance started but could not be reached through its address.',
              finished.message,
            );
          }
          return finished;
        }
        case 'transient-error':
          if (options.lastAttempt) {
            return fail(order, 'Provisioning did not complete after several attempts.', result.message);
          }
          logger.info({ orderId, message: result.message }, 'transient provisioning error; will retry');
          return { outcome: 'retry', message: result.message };
        case 'permanent-error':
          return fail(order, result.reason, result.detail);
        default:
          return result satisfies never;
      }
    },
  };
}
export type Reconciler = ReturnType<typeof createReconciler>;
