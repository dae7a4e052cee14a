import type { Queryable } from '../db/database.js';

/** SQL behind /metrics: every series is read from PostgreSQL at scrape time, so any API process answers alike. */

export async function countOrdersByTypeAndStatus(db: Queryable) {
  const { rows } = await db.query<{ type: string; status: string; count: number }>(
    `SELECT type, status, count(*)::int AS count FROM orders GROUP BY type, status`,
  );
  return rows;
}

export async function countInstancesByRegionAndState(db: Queryable) {
  const { rows } = await db.query<{ region: string; state: string; count: number }>(
    `SELECT spec->>'region' AS region, status AS state, count(*)::int AS count FROM instances GROUP BY 1, 2`,
  );
  return rows;
}

/** Jobs waiting or running per pg-boss queue (created, retry, active). */
export async function countQueueJobs(db: Queryable) {
  const { rows } = await db.query<{ queue: string; state: string; count: number }>(
    `SELECT name AS queue, state::text AS state, count(*)::int AS count FROM pgboss.job
      WHERE state IN ('created', 'retry', 'active') GROUP BY 1, 2`,
  );
  return rows;
}

/**
 * Finished provisioning steps of every order and every earlier attempt, bucketed by duration: one row per step name
 * with the cumulative count per upper bound, the count and the sum (a Prometheus histogram's parts).
 */
export async function stepDurationHistogram(db: Queryable, bounds: readonly number[]) {
  const buckets = bounds.map((_, i) => `count(*) FILTER (WHERE seconds <= $${i + 1})::int`).join(', ');
  const { rows } = await db.query<{ step: string; buckets: number[]; count: number; sum: number }>(
    `WITH steps AS (
       SELECT s->>'name' AS step,
              extract(epoch FROM (s->>'finishedAt')::timestamptz - (s->>'startedAt')::timestamptz)::float8 AS seconds
         FROM (SELECT steps FROM orders UNION ALL SELECT steps FROM order_attempts) o,
              jsonb_array_elements(o.steps) s
        WHERE s->>'status' = 'done' AND jsonb_typeof(s->'finishedAt') = 'string'
     )
     SELECT step, ARRAY[${buckets}] AS buckets, count(*)::int AS count, COALESCE(sum(seconds), 0)::float8 AS sum
       FROM steps GROUP BY step`,
    [...bounds],
  );
  return rows;
}

/** How long the oldest order has been processing, in seconds (0 when none is). */
export async function oldestProcessingOrderSeconds(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seconds: number }>(
    `SELECT COALESCE(extract(epoch FROM now() - min(updated_at)), 0)::float8 AS seconds
       FROM orders WHERE status = 'processing'`,
  );
  return rows[0]!.seconds;
}

/** Backups that failed within the last 24 hours, by kind (a backup an operator's retry reopened counts no more). */
export async function countRecentlyFailedBackups(db: Queryable) {
  const { rows } = await db.query<{ kind: string; count: number }>(
    `SELECT kind, count(*)::int AS count FROM backups
      WHERE status = 'failed' AND finished_at > now() - interval '1 day' GROUP BY kind`,
  );
  return rows;
}
