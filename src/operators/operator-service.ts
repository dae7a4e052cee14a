import type { ProvisioningQueue } from '../provisioning/provisioning-worker.js';
import { message } from '../platform/messages.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { readyByRegion, warmPoolStatus } from '../warm-pool/warm-pool-status.js';
import * as accounts from '../accounts/account-store.js';
import type { PasswordResetService } from '../accounts/password-reset-service.js';
import { hashPassword } from '../accounts/password-hashing.js';
import type { Actor, OperatorPrincipal } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import { reopenFailedOrderBackups } from '../backups/backup-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import { countOutboxByState, listOutbox, requeueMail } from '../mail/mail-outbox-store.js';
import type { MailState } from '../mail/mail-schemas.js';
import { retryFailedOrder, transitionOrder } from '../orders/order-status.js';
import { findOrderById } from '../orders/order-store.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import type { PageQuery } from '../platform/pagination.js';
import type {
  CreateOperatorRequest,
  OpsOrderDetail,
  OpsOrderFilter,
  RegionCapacity,
} from './operator-schemas.js';
import { createOperatorRequestSchema } from './operator-schemas.js';
import * as store from './operator-store.js';

type OperatorActor = Actor & { operator: OperatorPrincipal };

/**
 * The provider's operator console: every organisation's orders and instances, retries and cancellations, region
 * capacity, the mail outbox. Every action is audited with the operator as actor, in the customer's organisation (the
 * customer's audit log shows what the provider did).
 */
/** As many of the instance's log lines as fit beside a failed order's steps. */
const OPS_LOG_TAIL_LINES = 40;

export function createOperatorService(deps: {
  db: Database;
  catalog: Catalog;
  now: () => Date;
  passwordResets: PasswordResetService;
  /** The last lines of an instance's log (src/instances/instance-log-service.ts); null where there is none. */
  instanceLogTail(organizationId: string, instanceId: string, lines: number): Promise<string | null>;
  /** The provisioning queue: the retried order's job is queued in the retry's transaction, the workers woken after. */
  jobs: Pick<ProvisioningQueue, 'enqueue' | 'wake'>;
}) {
  const { db, catalog, now } = deps;

  async function detail(orderId: string): Promise<OpsOrderDetail> {
    const row = await store.findOrderForOperators(db.pool, orderId);
    const order = await findOrderById(db.pool, orderId);
    if (!row || !order) throw new NotFoundError('Order');
    const { organizationId: _org, requestHash: _hash, ...publicOrder } = order;
    return {
      ...publicOrder,
      instanceName: row.instanceName,
      organization: row.organization,
      operatorDetail: row.operatorDetail,
      attempts: row.attempts,
      logTail: await deps.instanceLogTail(row.organizationId, row.instanceId, OPS_LOG_TAIL_LINES),
    };
  }

  return {
    listOrders: (filter: OpsOrderFilter) => store.listOrdersForOperators(db.pool, filter, now()),

    listOrganizations: () => store.listOrganizationsForOperators(db.pool),

    getOrder: detail,

    /**
     * A failed order goes round its life cycle again, as attempt n + 1. Idempotent: `attempt` names the failed
     * attempt, so a repeated request finds the order already retried and answers it as it is. Only the newest
     * order of an instance can be retried, and only while no other order of the instance runs. A backup of the
     * order that failed (on-demand, pre-restore, pre-upgrade) is taken again by the new attempt.
     */
    async retryOrder(actor: OperatorActor, orderId: string, attempt: number): Promise<OpsOrderDetail> {
      const retried = await db.transaction(async (tx) => {
        const order = await store.findOrderForOperators(tx, orderId, { forUpdate: true });
        if (!order) throw new NotFoundError('Order');
        if (order.attempt > attempt) return false;
        if (order.status !== 'failed' || order.attempt !== attempt) {
          throw new ConflictError(`Only a failed order can be retried; this one is ${order.status}.`, {
            reason: 'retry-not-failed',
          });
        }
        if ((await store.latestOrderIdOfInstance(tx, order.instanceId)) !== order.id) {
          throw new ConflictError(
            'A later order of this instance exists; retry that one, or place a new order.',
          );
        }
        if (order.instanceStatus === 'deleted') throw new ConflictError('The instance is deleted.');
        if (!(await retryFailedOrder(tx, orderId, attempt, actor.operator.userId))) return false;
        await store.prepareInstanceForRetry(tx, order.instanceId, order);
        await deps.jobs.enqueue({ id: orderId, spec: order.spec }, tx);
        await reopenFailedOrderBackups(tx, orderId);
        await recordAudit(tx, actor, {
          organizationId: order.organizationId,
          action: 'order.retry',
          targetType: 'order',
          targetId: orderId,
          details: { attempt: attempt + 1, type: order.type, instanceId: order.instanceId },
        });
        return order;
      });
      if (retried) deps.jobs.wake(retried);
      return detail(orderId);
    },

    /** An order that has not started (`new`) is cancelled: it fails with a reason the customer reads. */
    async cancelOrder(actor: OperatorActor, orderId: string): Promise<OpsOrderDetail> {
      await db.transaction(async (tx) => {
        const order = await store.findOrderForOperators(tx, orderId, { forUpdate: true });
        if (!order) throw new NotFoundError('Order');
        if (order.status !== 'new') {
          throw new ConflictError(
            order.status === 'processing'
              ? 'This order is being processed; a running order is not interrupted.'
              : `This order is ${order.status} already.`,
            { reason: 'cancel-started' },
          );
        }
        await transitionOrder(tx, orderId, 'new', 'failed', {
          reason: message('failure.cancelledByProvider'),
          operatorDetail: `cancelled by operator ${actor.operator.email}`,
        });
        if (order.type === 'create') await store.markInstanceFailed(tx, order.instanceId);
        await recordAudit(tx, actor, {
          organizationId: order.organizationId,
          action: 'order.cancel',
          targetType: 'order',
          targetId: orderId,
          details: { type: order.type, instanceId: order.instanceId },
        });
      });
      return detail(orderId);
    },

    listInstances: (
      filter: PageQuery & { region?: string; organizationId?: string; includeDeleted?: boolean },
    ) => store.listInstancesForOperators(db.pool, filter),

    async capacity(): Promise<RegionCapacity[]> {
      const load = new Map((await store.regionLoad(db.pool)).map((row) => [row.region, row]));
      const warmPool = readyByRegion(await warmPoolStatus(db.pool, catalog), catalog);
      const memoryOf = (size: string) => catalog.nodeSizes.find((s) => s.id === size)?.memoryGb ?? 0;
      return catalog.regions.map((region) => {
        const row = load.get(region.id);
        return {
          region: region.id,
          name: region.name,
          driver: region.driver,
          instances: row?.instances ?? 0,
          maxInstances: region.capacity.maxInstances,
          memoryGb: Object.entries(row?.nodeSizes ?? {}).reduce(
            (sum, [size, n]) => sum + memoryOf(size) * n,
            0,
          ),
          processingOrders: row?.processingOrders ?? 0,
          concurrentOrders: region.capacity.concurrentOrders,
          waitingOrders: row?.waitingOrders ?? 0,
          warmPool: warmPool.get(region.id) ?? null,
        };
      });
    },

    /** The warm pools: configured size, members by state, hits and misses. */
    warmPool: () => warmPoolStatus(db.pool, catalog),

    async outbox(filter: { state?: MailState; limit: number }) {
      return { items: await listOutbox(db.pool, filter), counts: await countOutboxByState(db.pool) };
    },

    /** An unconfirmed mail (its sender died mid-send) is sent again after an operator checked it did not arrive. */
    async resendMail(actor: OperatorActor, mailId: string): Promise<void> {
      await db.transaction(async (tx) => {
        if (!(await requeueMail(tx, mailId))) throw new NotFoundError('Unconfirmed mail');
        await recordAudit(tx, actor, { action: 'mail.resend', targetType: 'mail', targetId: mailId });
      });
    },
  };
}
export type OperatorService = ReturnType<typeof createOperatorService>;

/**
 * Creates a provider operator (CLI `keyhouse admin create-operator`, or the `operators` list of the configuration).
 * With a password the account is ready; without one, the operator gets a mail to choose a password (the reset
 * flow). An address that has an account already is left alone: answered `exists`.
 */
export async function createOperator(
  deps: { db: Database; now: () => Date; passwordResets: PasswordResetService },
  input: CreateOperatorRequest & { password?: string; language?: 'de' | 'en' },
  actor: Actor,
): Promise<'created' | 'exists'> {
  const request = createOperatorRequestSchema.parse({ email: input.email, role: input.role });
  const passwordHash = await hashPassword(input.password ?? randomBytes(32).toString('base64url'));
  return deps.db.transaction(async (tx) => {
    if (await accounts.findUserByEmail(tx, request.email)) return 'exists';
    const user = await accounts.insertUser(tx, {
      id: randomUUID(),
      organizationId: null,
      email: request.email,
      passwordHash,
      role: request.role,
      language: input.language,
      createdAt: deps.now(),
    });
    if (!input.password) await deps.passwordResets.issue(tx, user);
    await recordAudit(tx, actor, {
      action: 'operator.create',
      targetType: 'user',
      targetId: user.id,
      details: { email: user.email, role: user.role, passwordSet: Boolean(input.password) },
    });
    return 'created';
  });
}
