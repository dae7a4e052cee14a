import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database, Queryable } from '../db/database.js';
import { listUnfinishedOrders } from '../orders/order-store.js';
import type { Reconciler } from './reconciler.js';

/**
 * Durable provisioning jobs in PostgreSQL (pg-boss), one queue per region so that each region provisions a bounded
 * number of orders at once. A job carries only the order id; the reconciler reads everything else, so a retried or
 * duplicated job converges instead of repeating work.
 *
 * - Enqueued in the transaction that accepts an order (pg-boss sends on the caller's connection), so an order is
 *   never committed without its job; and by a sweep (at start and every `sweepIntervalMs`) for every unfinished
 *   order that no job is working on: after a crash the sweep re-drives what the dead process was doing without
 *   waiting for the job's expiry. Queue policy `short` keeps at most one queued job per order.
 * - At most one job works on an instance at a time: a session advisory lock per instance, released by PostgreSQL
 *   itself if the worker dies. The job holding it cancels the jobs of its order that a dead worker left `active`.
 * - Transient errors are retried with exponential back-off; the last attempt turns them into a failed order.
 * - A driver that applied but waits for its backend (`progressing`) gets another pass after the seconds it named:
 *   a fresh job of the order that starts then, sent while the instance lock is held, and the current job completes.
 *   Waiting spends none of the retries, and the queue policy keeps it the order's only queued job.
 */
export type ProvisioningQueue = {
  /**
   * Queues the order's job. Inside a transaction (`tx`) the job commits or rolls back with it; call `wake` after
   * the commit, since a worker woken earlier would not see the job yet.
   */
  enqueue(order: { id: string; spec: { region: string } }, tx?: Queryable): Promise<void>;
  /** Wakes this process's workers of the order's region instead of leaving the job to their next poll. */
  wake(order: { spec: { region: string } }): void;
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

  /** This process's workers per queue: woken on enqueue instead of finding the job at their next poll. */
  const workerIds = new Map<string, string[]>();
  const wake = (order: { spec: { region: string } }) => {
    for (const id of workerIds.get(queueName(order.spec.region)) ?? []) boss.notifyWorker(id);
  };
  const send = (
    queue: string,
    orderId: string,
    { startAfterSeconds, tx }: { startAfterSeconds?: number; tx?: Queryable } = {},
  ) =>
    boss.send(queue, { orderId } satisfies JobData, {
      singletonKey: orderId,
      ...(startAfterSeconds ? { startAfter: startAfterSeconds } : {}),
      ...RETRY,
      ...(tx ? { db: { executeSql: (text: string, values: unknown[]) => tx.query(text, values) } } : {}),
    });
  const enqueue = async (order: { id: string; spec: { region: string } }, tx?: Queryable) => {
    await send(queueName(order.spec.region), order.id, { tx });
    if (!tx) wake(order);
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

  /**
   * A worker killed in the middle of a job (SIGKILL, OOM, host crash) leaves that job `active` until its expiry, 20
   * minutes later, when pg-boss would retry it for nothing: the sweep has long re-driven the order with a new job.
   * Whoever holds the instance lock knows that no other job of this order is doing work, so it cancels them.
   * A live worker's job that gets cancelled this way only finds its later complete or fail ignored.
   */
  async function cancelAbandonedJobs(queue: string, orderId: string, currentJobId: string) {
    const { rows } = await db.pool.query<{ id: string }>(
      `SELECT id FROM pgboss.job WHERE name = $1 AND singleton_key = $2 AND state = 'active' AND id <> $3`,
      [queue, orderId, currentJobId],
    );
    if (rows.length === 0) return;
    await boss.cancel(
      queue,
      rows.map((row) => row.id),
    );
    logger.info({ orderId, jobs: rows.length }, 'cancelled jobs a stopped worker left active');
  }

  const { reconciler } = options;
  if (reconciler) {
    for (const region of catalog.regions) {
      for (let worker = 0; worker < region.capacity.concurrentOrders; worker++) {
        const id = await boss.work<JobData>(
          queueName(region.id),
          { batchSize: 1, pollingIntervalSeconds: 1, includeMetadata: true },
          async ([job]) => {
            if (!job) return;
            const { orderId } = job.data;
            const lastAttempt = job.retryCount >= job.retryLimit;
            const result = await withInstanceLock(orderId, async () => {
              await cancelAbandonedJobs(job.name, orderId, job.id);
              const outcome = await reconciler.reconcile(orderId, { lastAttempt });
              // Under the lock, so that no sweep finds the order without a job in between.
              if (outcome.outcome === 'progressing')
                await send(job.name, orderId, { startAfterSeconds: outcome.retryAfterSeconds });
              return outcome;
            });
            if (result === 'busy') throw new Error('another job works on this instance; retrying later');
            logger.info({ orderId, ...result }, 'provisioning job finished');
            // Thrown so that pg-boss retries with back-off; the order stays processing (or new, when waiting).
            if (result.outcome === 'retry') throw new Error(result.message);
          },
        );
        workerIds.set(queueName(region.id), [...(workerIds.get(queueName(region.id)) ?? []), id]);
      }
    }
  }

  /**
   * Instances whose advisory lock a live session holds right now, i.e. a job is working on them. Read from pg_locks
   * (a 64-bit advisory key shows as classid = high and objid = low half) so that looking never takes the lock.
   */
  async function instancesBeingWorkedOn(instanceIds: string[]): Promise<Set<string>> {
    if (instanceIds.length === 0) return new Set();
    const { rows } = await db.pool.query<{ instance_id: string }>(
      `SELECT i.id AS instance_id FROM unnest($1::uuid[]) AS i(id)
        WHERE EXISTS (
          SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('instance:' || i.id::text, 0))`,
      [instanceIds],
    );
    return new Set(rows.map((row) => row.instance_id));
  }

  async function sweep(): Promise<number> {
    const unfinished = await listUnfinishedOrders(db.pool);
    // An order whose instance a job is working on needs no second job: that one would only find the instance busy
    // and pile up retries. Its own job finishes it, or pg-boss retries that job.
    const busy = await instancesBeingWorkedOn([...new Set(unfinished.map((order) => order.instanceId))]);
    const idle = unfinished.filter((order) => !busy.has(order.instanceId));
    for (const order of idle) await enqueue(order);
    return idle.length;
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
    wake,
    sweep,
    async stop() {
      if (timer) clearTimeout(timer);
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
