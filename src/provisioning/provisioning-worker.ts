import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import { listUnfinishedOrders } from '../orders/order-store.js';
import type { Reconciler } from './reconciler.js';

/**
 * Durable provisioning jobs in PostgreSQL (pg-boss), one queue per region so that each region provisions a bounded
 * number of orders at once. A job carries only the order id; the reconciler reads everything else, so a retried or
 * duplicated job converges instead of repeating work.
 *
 * - Enqueued after the commit that accepts an order, and by a sweep (at start and every `sweepIntervalMs`) for every
 *   unfinished order: after a crash the sweep re-drives what the dead process was doing without waiting for the
 *   job's expiry. Queue policy `short` keeps at most one queued job per order.
 * - At most one job works on an instance at a time: a session advisory lock per instance, released by PostgreSQL
 *   itself if the worker dies.
 * - Transient errors are retried with exponential back-off; the last attempt turns them into a failed order.
 */
export type ProvisioningQueue = {
  enqueue(order: { id: string; spec: { region: string } }): Promise<void>;
  /** Re-drives every unfinished order (also runs on a timer). */
  sweep(): Promise<number>;
  stop(): Promise<void>;
};

type JobData = { orderId: string };

const queueName = (region: string) => `provision-${region}`;
const RETRY = { retryLimit: 8, retryDelay: 5, retryBackoff: true, expireInMinutes: 20 } as const;

export async function startProvisioningQueue(options: {
  databaseUrl: string;
  db: Database;
  catalog: Catalog;
  logger: Logger;
  /** Without a reconciler the queue only accepts jobs (an API-only process). */
  reconciler?: Reconciler;
  sweepIntervalMs?: number;
}): Promise<ProvisioningQueue> {
  const { db, catalog } = options;
  const logger = options.logger.child({ component: 'provisioning-queue' });
  const boss = new PgBoss({ connectionString: options.databaseUrl, max: 4, schema: 'pgboss' });
  boss.on('error', (error) => logger.error({ err: error }, 'job queue error'));
  await boss.start();
  for (const region of catalog.regions) {
    await boss.createQueue(queueName(region.id), { name: queueName(region.id), policy: 'short', ...RETRY });
  }

  const enqueue = async (order: { id: string; spec: { region: string } }) => {
    await boss.send(queueName(order.spec.region), { orderId: order.id } satisfies JobData, {
      singletonKey: order.id,
      ...RETRY,
    });
  };

  async function withInstanceLock<T>(orderId: string, work: () => Promise<T>): Promise<T | 'busy'> {
    const client = await db.pool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean; instance_id: string }>(
        `SELECT pg_try_advisory_lock(hashtextextended('instance:' || instance_id::text, 0)) AS locked, instance_id
           FROM orders WHERE id = $1`,
        [orderId],
      );
      if (!rows[0]) return work();
      if (!rows[0].locked) return 'busy';
      try {
        return await work();
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtextextended('instance:' || $1::text, 0))`, [
          rows[0].instance_id,
        ]);
      }
    } finally {
      client.release();
    }
  }

  const { reconciler } = options;
  if (reconciler) {
    for (const region of catalog.regions) {
      for (let worker = 0; worker < region.capacity.concurrentOrders; worker++) {
        await boss.work<JobData>(
          queueName(region.id),
          { batchSize: 1, pollingIntervalSeconds: 1, includeMetadata: true },
          async ([job]) => {
            if (!job) return;
            const { orderId } = job.data;
            const lastAttempt = job.retryCount >= job.retryLimit;
            const result = await withInstanceLock(orderId, () =>
              reconciler.reconcile(orderId, { lastAttempt }),
            );
            if (result === 'busy') throw new Error('another job works on this instance; retrying later');
            logger.info({ orderId, ...result }, 'provisioning job finished');
            // Thrown so that pg-boss retries with back-off; the order stays processing (or new, when waiting).
            if (result.outcome === 'retry') throw new Error(result.message);
          },
        );
      }
    }
  }

  async function sweep(): Promise<number> {
    const unfinished = await listUnfinishedOrders(db.pool);
    for (const order of unfinished) await enqueue(order);
    return unfinished.length;
  }

  let timer: NodeJS.Timeout | undefined;
  if (reconciler) {
    const count = await sweep();
    if (count) logger.info({ orders: count }, 'resumed unfinished orders');
    const schedule = () => {
      timer = setTimeout(() => {
        sweep()
          .catch((error: unknown) => logger.error({ err: error }, 'sweep failed'))
          .finally(schedule);
      }, options.sweepIntervalMs ?? 30_000);
      timer.unref();
    };
    schedule();
  }

  return {
    enqueue,
    sweep,
    async stop() {
      if (timer) clearTimeout(timer);
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
