import type { Logger } from 'pino';
import type { Actor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import { closeUsageRecord, openUsageRecord, switchUsageRecord } from '../billing/usage-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database, Queryable } from '../db/database.js';
import type {
  ApplyResult,
  ChangeRoom,
  DesiredInstance,
  DestroyResult,
  Driver,
  StepReporter,
} from '../drivers/driver.js';
import {
  countActiveInstances,
  countSwitchesInProgress,
  findInstanceForProvisioning,
  lockRegionCapacity,
  storeSecretsOnce,
  updateInstanceRuntime,
  type ProvisioningView,
} from '../instances/instance-store.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import { deleteDomain, markDomainActive } from '../domains/domain-store.js';
import { recordOrderStep } from '../orders/order-steps.js';
import { findOrderById, type StoredOrder } from '../orders/order-store.js';
import { transitionOrder } from '../orders/order-status.js';
import {
  message,
  messageParts,
  renderMessage,
  renderStepMessage,
  type CodedMessage,
  type StepMessage,
} from '../platform/messages.js';
import type { SecretBox } from '../platform/secret-box.js';
import {
  generateInstanceSecrets,
  openInstanceSecrets,
  type InstanceSecrets,
  sealInstanceSecrets,
} from '../instances/instance-secrets.js';
import { desiredInstance } from '../drivers/desired-instance.js';
import type { DriverRegistry } from '../drivers/driver-registry.js';
import type { BackupRunner } from '../backups/backup-runner.js';
import { backupPolicyOf } from '../backups/backup-schemas.js';
import { deleteInstanceBackups } from '../backups/backup-store.js';
import type { RealmOutcome, RealmTransfer } from '../backups/realm-transfer.js';
import { countUnclaimedMembers } from '../warm-pool/warm-pool-store.js';
import type { OrderType } from '../orders/order-schemas.js';

/** Change orders whose apply may replace the running Keycloak: beside it (a switch) when the region has room. */
const SWITCHING_ORDER_TYPES = [
  'scale',
  'restart',
  'theme-deploy',
  'theme-remove',
  'custom-domain',
  // A patch release may start beside the running one (a rolling update); a minor upgrade holds no second one, but
  // counting it too only makes the count conservative.
  'upgrade',
] as const satisfies readonly OrderType[];
const isSwitching = (type: OrderType) => (SWITCHING_ORDER_TYPES as readonly OrderType[]).includes(type);

/**
 * The provisioning reconciler: makes the world match what an order asked for, and moves the order through its life
 * cycle. Level-triggered: whatever a crash left behind, running it again converges (the driver's apply is
 * idempotent, secrets are stored before use, status changes are compare-and-set).
 *
 * One reconciler for every order type (switched over exhaustively): create, scale, storage, trusted-sources, admin-sources
 * apply the desired spec; restart forces a restart; upgrade backs up, upgrades and rolls back on failure; delete
 * destroys. The transaction that makes an order DONE also writes its usage record (metering), so billing follows
 * exactly the changes that took effect.
 */
export type ReconcileOutcome =
  | { outcome: 'done' }
  | { outcome: 'failed'; reason: string }
  /** Transient: run again later (the queue retries with back-off). */
  | { outcome: 'retry'; message: string }
  /** The driver applied but waits for its backend: run again after `retryAfterSeconds`, not counted as a retry. */
  | { outcome: 'progressing'; message: string; retryAfterSeconds: number }
  /** The region is full; the order stays `new`. */
  | { outcome: 'waiting'; message: string }
  | { outcome: 'skipped'; why: string };

export type ReconcilerDeps = {
  db: Database;
  catalog: Catalog;
  /** The drivers of the regions' backends that this process runs. */
  drivers: DriverRegistry;
  secretBox: SecretBox;
  logger: Logger;
  /** Backups of backup, restore and upgrade orders (src/backups). */
  backups: BackupRunner;
  /** Realm export and import orders (src/backups). */
  realms: RealmTransfer;
};

/** A create order whose backup to restore is gone: fails the order (thrown from deep inside, caught once). */
class PermanentOrderError extends Error {
  constructor(readonly reason: CodedMessage) {
    super(renderMessage(reason.code, reason.params));
  }
}

/** A reason after another: coded parts joined to it, plain words (a stored backup's English reason) appended. */
function followedBy(first: CodedMessage, reason: StepMessage): StepMessage {
  const parts = messageParts(reason);
  return parts
    ? [first, ...parts]
    : `${renderMessage(first.code, first.params)} ${renderStepMessage(reason)}`;
}

/** The platform itself, in the audit trail of what orders did. */
const systemActor = (orderId: string): Actor => ({
  principal: undefined,
  label: 'system',
  requestId: `order:${orderId}`,
  sourceAddress: 'keyhouse-worker',
});

export function createReconciler(deps: ReconcilerDeps) {
  const { db, catalog } = deps;
  const logger = deps.logger.child({ component: 'reconciler' });

  async function secretsOf(instance: ProvisioningView): Promise<InstanceSecrets> {
    // Generated once and stored before first use, so a retry after a crash sets the same passwords.
    const sealed =
      instance.sealedSecrets ??
      (await storeSecretsOnce(
        db.pool,
        instance.id,
        sealInstanceSecrets(deps.secretBox, generateInstanceSecrets()),
      ));
    return openInstanceSecrets(deps.secretBox, sealed);
  }

  /** Fails the order; `reason` is for the customer, coded wherever its words are ours (stored with its English). */
  async function fail(
    order: StoredOrder,
    reason: StepMessage,
    operatorDetail: string,
  ): Promise<ReconcileOutcome> {
    const text = renderStepMessage(reason);
    logger.warn(
      { orderId: order.id, instanceId: order.instanceId, reason: text, operatorDetail },
      'order failed',
    );
    await db.transaction(async (tx) => {
      const from = (await findOrderById(tx, order.id))?.status;
      if (from !== 'new' && from !== 'processing') return;
      await transitionOrder(tx, order.id, from, 'failed', { reason, operatorDetail });
      // A failed create leaves no instance; a failed delete leaves one that may be half removed: both can be
      // deleted (again). Other failed changes leave the instance running as the driver left it.
      if (order.type === 'create' || order.type === 'delete')
        await updateInstanceRuntime(tx, order.instanceId, { status: 'failed' });
    });
    return { outcome: 'failed', reason: text };
  }

  /**
   * A change that replaces the running Keycloak runs a second one beside it while it switches: the region's
   * capacity must hold it, counting every instance, every unclaimed warm-pool member and every other switch in
   * progress (each may hold a second one). Counted on every pass, conservatively: two switches deciding at once
   * each count the other.
   */
  async function roomForSwitch(order: StoredOrder, instance: ProvisioningView): Promise<ChangeRoom> {
    const region = catalog.regions.find((r) => r.id === instance.spec.region)!;
    const keycloaks =
      (await countActiveInstances(db.pool, region.id, instance.id)) +
      1 +
      (await countUnclaimedMembers(db.pool, region.id)) +
      (await countSwitchesInProgress(db.pool, region.id, order.id, SWITCHING_ORDER_TYPES));
    if (keycloaks + 1 <= region.capacity.maxInstances) return { secondInstance: true };
    return {
      secondInstance: false,
      why: message('step.roomRegionFull', {
        region: region.name,
        count: keycloaks,
        max: region.capacity.maxInstances,
      }),
    };
  }

  /** new → processing, unless the region is full (then the order waits in `new`). */
  async function start(
    order: StoredOrder,
    instance: ProvisioningView,
  ): Promise<ReconcileOutcome | undefined> {
    if (order.status !== 'new') return undefined;
    const region = catalog.regions.find((r) => r.id === instance.spec.region)!;
    // Count and take the place in one transaction under the region's lock: workers starting orders of two
    // instances at once (each under its own instance lock) would otherwise both see the last free place.
    const full = await db.transaction(async (tx) => {
      if (order.type === 'create') {
        await lockRegionCapacity(tx, region.id);
        // Warm-pool members hold capacity too; a claimed one is this instance already (it left the pool).
        const active =
          (await countActiveInstances(tx, region.id, instance.id)) +
          (await countUnclaimedMembers(tx, region.id));
        if (active >= region.capacity.maxInstances) return { active };
      }
      await transitionOrder(tx, order.id, 'new', 'processing');
      return undefined;
    });
    if (full) {
      const note = message('step.waitingForCapacity', {
        region: region.name,
        active: full.active,
        max: region.capacity.maxInstances,
      });
      await recordOrderStep(db.pool, order.id, 'waiting-for-capacity', 'running', note);
      return { outcome: 'waiting', message: renderMessage(note.code, note.params) };
    }
    if (order.steps.some((s) => s.name === 'waiting-for-capacity')) {
      await recordOrderStep(
        db.pool,
        order.id,
        'waiting-for-capacity',
        'done',
        message('step.capacityAvailable'),
      );
    }
    return undefined;
  }

  async function finish(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    desired: DesiredInstance,
    url: string,
  ) {
    const report = (state: 'running' | 'done' | 'failed', note?: StepMessage) =>
      recordOrderStep(db.pool, order.id, 'verify', state, note);
    await report('running');
    const check = await driver.verifyAdminLogin(desired, url);
    if (!check.ok) {
      await report('failed', check.message);
      return { outcome: 'retry' as const, message: check.message };
    }
    await report('done', check.note);
    // Recorded for the API role (the broker's OIDC clients), which runs no driver of its own.
    const adminApi = await driver.locateAdminApi(desired);
    await db.transaction(async (tx) => {
      if (await transitionOrder(tx, order.id, 'processing', 'done')) {
        await updateInstanceRuntime(tx, instance.id, { status: 'running', url, adminApi });
        await meter(tx, order);
        // The domain the edge now serves and Keycloak answers as (src/domains).
        if (order.type === 'custom-domain' && order.spec.customHostname)
          await markDomainActive(tx, instance.id, order.spec.customHostname);
      }
    });
    return { outcome: 'done' as const };
  }

  /** The usage record change an order makes effective, in the transaction that makes it DONE. */
  async function meter(tx: Queryable, order: StoredOrder) {
    const size = {
      nodeSize: order.spec.nodeSize,
      storageGb: order.spec.storageGb,
      backupRetention: backupPolicyOf(order.spec).retention,
    };
    switch (order.type) {
      case 'create':
        return openUsageRecord(tx, order.instanceId, order.id, size);
      case 'scale':
      case 'storage':
      case 'backup-policy':
        return switchUsageRecord(tx, order.instanceId, order.id, size);
      case 'delete':
        return closeUsageRecord(tx, order.instanceId);
      case 'trusted-sources':
      case 'admin-sources':
      case 'restart':
      case 'upgrade':
      case 'theme-deploy':
      case 'theme-remove':
      case 'custom-domain':
      case 'backup':
      case 'restore':
      case 'realm-export':
      case 'realm-import':
        return;
      default:
        return order.type satisfies never;
    }
  }

  /** The driver's answer to an apply or restart, turned into the order's outcome. */
  async function afterApply(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    desired: DesiredInstance,
    result: ApplyResult,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    switch (result.outcome) {
      case 'ready': {
        const finished = await finish(order, instance, driver, desired, result.url);
        if (finished.outcome === 'retry' && lastAttempt) {
          return fail(order, message('failure.unreachableAfterStart'), finished.message);
        }
        return finished;
      }
      case 'progressing':
        return progressing(order, result);
      case 'transient-error':
        return transient(order, result.message, lastAttempt);
      case 'permanent-error':
        return fail(order, result.reason, result.detail);
      default:
        return result satisfies never;
    }
  }

  function progressing(
    order: StoredOrder,
    result: { message: string; retryAfterSeconds: number },
  ): ReconcileOutcome {
    const retryAfterSeconds = Math.min(3600, Math.max(1, Math.ceil(result.retryAfterSeconds)));
    logger.info({ orderId: order.id, message: result.message, retryAfterSeconds }, 'applied; not ready yet');
    return { outcome: 'progressing', message: result.message, retryAfterSeconds };
  }

  async function transient(
    order: StoredOrder,
    detail: string,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    if (lastAttempt) {
      const reason =
        order.type === 'create'
          ? message('failure.provisioningGaveUp')
          : message('failure.orderGaveUp', { orderType: order.type });
      return fail(order, reason, detail);
    }
    logger.info({ orderId: order.id, message: detail }, 'transient provisioning error; will retry');
    return { outcome: 'retry', message: detail };
  }

  /**
   * Upgrade: the driver backs up, upgrades, and rolls back by itself when the new version does not become ready.
   * A rollback fails the order with the reason, and the instance's desired version goes back to the one it runs.
   */
  async function upgrade(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    desired: (spec: InstanceSpec) => DesiredInstance,
    report: StepReporter,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    const previousVersion = order.previousSpec?.version ?? instance.spec.version;
    const to = desired(instance.spec);
    const backupId = await deps.backups.beforeUpgrade(order, instance, previousVersion);
    const result = await driver.upgrade(
      desired({ ...instance.spec, version: previousVersion }),
      to,
      backupId,
      report,
      await roomForSwitch(order, instance),
    );
    if (result.outcome === 'ready' || result.outcome === 'rolled-back')
      await deps.backups.afterUpgrade(backupId, result.backup);
    else if (result.outcome === 'permanent-error' || (result.outcome === 'transient-error' && lastAttempt))
      await deps.backups.afterUpgrade(backupId, {
        failed: result.outcome === 'permanent-error' ? result.detail : result.message,
      });
    switch (result.outcome) {
      case 'ready':
        return afterApply(order, instance, driver, to, { outcome: 'ready', url: result.url }, lastAttempt);
      case 'rolled-back':
        logger.warn({ orderId: order.id, detail: result.detail }, 'upgrade rolled back');
        await db.transaction(async (tx) => {
          if (
            !(await transitionOrder(tx, order.id, 'processing', 'failed', {
              reason: result.reason,
              operatorDetail: result.detail,
            }))
          )
            return;
          await tx.query(
            `UPDATE instances SET spec = jsonb_set(spec, '{version}', to_jsonb($2::text)), updated_at = now()
              WHERE id = $1`,
            [instance.id, previousVersion],
          );
          await updateInstanceRuntime(tx, instance.id, { status: 'running', url: result.url });
          await recordAudit(tx, systemActor(order.id), {
            organizationId: order.organizationId,
            action: 'instance.upgrade.rolled-back',
            targetType: 'instance',
            targetId: instance.id,
            outcome: 'failure',
            details: { orderId: order.id, from: previousVersion, to: to.version, backupId },
          });
        });
        return { outcome: 'failed', reason: renderStepMessage(result.reason) };
      case 'progressing':
        return progressing(order, result);
      case 'transient-error':
        return transient(order, result.message, lastAttempt);
      case 'permanent-error':
        return fail(order, result.reason, result.detail);
      default:
        return result satisfies never;
    }
  }

  // ---- backups (src/backups) ------------------------------------------------------------------------------------

  /** A create order with `restoreFrom` starts the new instance's database from that backup. */
  async function createDesired(order: StoredOrder, desired: DesiredInstance): Promise<DesiredInstance> {
    const backupId = (order.details?.restoreFrom as { backupId?: string } | undefined)?.backupId;
    if (!backupId) return desired;
    const source = await deps.backups.restorable(backupId);
    if ('missing' in source) throw new PermanentOrderError(source.missing);
    return { ...desired, restoreFrom: source };
  }

  /** An on-demand backup, or a realm export or import: done when its step is; nothing restarts. */
  async function stepDone(
    order: StoredOrder,
    result: RealmOutcome,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    switch (result.outcome) {
      case 'done':
        await transitionOrder(db.pool, order.id, 'processing', 'done');
        return { outcome: 'done' };
      case 'retry':
        return transient(order, result.message, lastAttempt);
      case 'failed':
        return fail(order, result.reason, result.detail);
      default:
        return result satisfies never;
    }
  }

  /** Restore in place: the current state is backed up first (so the restore can be undone), then restored. */
  async function restoreInPlace(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    target: DesiredInstance,
    report: StepReporter,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    const source = await deps.backups.restorable(String(order.details?.backupId));
    if ('missing' in source) return fail(order, source.missing, 'backup gone before the restore');
    const before = await deps.backups.forOrder(order, instance, 'pre-restore', report, { lastAttempt });
    if (before.outcome === 'retry') return transient(order, before.message, lastAttempt);
    if (before.outcome === 'failed')
      return fail(order, followedBy(message('failure.nothingRestored'), before.reason), before.detail);
    return afterApply(
      order,
      instance,
      driver,
      target,
      await driver.restore(target, source, report),
      lastAttempt,
    );
  }

  /** Delete: everything of the instance goes; the instance stays listed as deleted, with its orders. */
  async function remove(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    report: StepReporter,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    if (instance.status !== 'deleting')
      await updateInstanceRuntime(db.pool, instance.id, { status: 'deleting' });
    let result: DestroyResult;
    try {
      result = await driver.destroy(
        { instanceId: instance.id, name: instance.name, region: instance.spec.region },
        report,
      );
    } catch (error) {
      return transient(order, (error as Error).message, lastAttempt);
    }
    // DONE only when the backend has nothing left (a Kubernetes namespace may take a while to go).
    if (result.outcome === 'progressing') return progressing(order, result);
    await db.transaction(async (tx) => {
      if (!(await transitionOrder(tx, order.id, 'processing', 'done'))) return;
      await updateInstanceRuntime(tx, instance.id, {
        status: 'deleted',
        url: null,
        adminApi: null,
        conditions: [],
        usage: null,
      });
      await meter(tx, order);
      // The custom domain is free for another instance again.
      await deleteDomain(tx, instance.id);
      await deleteInstanceBackups(tx, instance.id);
      await recordAudit(tx, systemActor(order.id), {
        organizationId: order.organizationId,
        action: 'instance.deleted',
        targetType: 'instance',
        targetId: instance.id,
        details: { orderId: order.id, name: instance.name },
      });
    });
    return { outcome: 'done' };
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
      const driver = region && deps.drivers.forRegion(region);
      if (!region || !driver) {
        return fail(
          order,
          message('failure.regionUnavailable'),
          `no driver for region ${instance.spec.region}`,
        );
      }

      const waiting = await start(order, instance);
      if (waiting) return waiting;

      const report: StepReporter = (name, state, message) =>
        recordOrderStep(db.pool, order.id, name, state, message);
      // Not for delete: an instance that never ran needs no secrets to be removed.
      const secrets = order.type === 'delete' ? undefined : await secretsOf(instance);
      const desired = (spec: InstanceSpec): DesiredInstance =>
        desiredInstance(catalog, instance, spec, secrets!);
      try {
        return await reconcileOrder(order, instance, driver, desired, report, options.lastAttempt);
      } catch (error) {
        if (error instanceof PermanentOrderError) return fail(order, error.reason, 'restore source missing');
        throw error;
      }
    },
  };

  async function reconcileOrder(
    order: StoredOrder,
    instance: ProvisioningView,
    driver: Driver,
    desired: (spec: InstanceSpec) => DesiredInstance,
    report: StepReporter,
    lastAttempt: boolean,
  ): Promise<ReconcileOutcome> {
    const options = { lastAttempt };
    switch (order.type) {
      case 'delete':
        return remove(order, instance, driver, report, options.lastAttempt);
      // The desired spec already holds the change: apply converges to it (a new node size restarts Keycloak
      // with the new heap; storage, trusted and admin sources change without a restart; retention and windows are
      // the control plane's, and a backend keeps what it needs of them; a new theme comes without a restart, a
      // replaced or removed theme with one, since Keycloak caches the themes it loaded; a custom domain goes to the
      // edge at once and restarts Keycloak with it as its hostname).
      case 'create':
      case 'scale':
      case 'storage':
      case 'trusted-sources':
      case 'admin-sources':
      case 'backup-policy':
      case 'theme-deploy':
      case 'theme-remove':
      case 'custom-domain': {
        const target =
          order.type === 'create'
            ? await createDesired(order, desired(instance.spec))
            : desired(instance.spec);
        const room = isSwitching(order.type) ? await roomForSwitch(order, instance) : undefined;
        return afterApply(
          order,
          instance,
          driver,
          target,
          await driver.apply(target, report, room),
          options.lastAttempt,
        );
      }
      case 'restart': {
        const target = desired(instance.spec);
        return afterApply(
          order,
          instance,
          driver,
          target,
          // The order id: a retried or resumed restart order restarts once.
          await driver.restart(target, report, order.id, await roomForSwitch(order, instance)),
          options.lastAttempt,
        );
      }
      case 'upgrade':
        return upgrade(order, instance, driver, desired, report, options.lastAttempt);
      case 'backup': {
        const taken = await deps.backups.forOrder(order, instance, 'on-demand', report, options);
        return stepDone(order, taken.outcome === 'done' ? { outcome: 'done' } : taken, options.lastAttempt);
      }
      case 'restore':
        return restoreInPlace(order, instance, driver, desired(instance.spec), report, options.lastAttempt);
      case 'realm-export':
        return stepDone(order, await deps.realms.exportRealm(order, report), options.lastAttempt);
      case 'realm-import':
        return stepDone(order, await deps.realms.importRealm(order, report), options.lastAttempt);
      default:
        return order.type satisfies never;
    }
  }
}
export type Reconciler = ReturnType<typeof createReconciler>;
