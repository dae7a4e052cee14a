import type { Queryable } from '../db/database.js';

/** The warm pool's rows (migration 020): members and the claim counters. SQL only; the rules are the callers'. */

export type MemberState = 'provisioning' | 'ready' | 'retiring' | 'claimed';

export type PoolKey = { region: string; version: string; nodeSize: string };

export type StoredMember = PoolKey & {
  id: string;
  name: string;
  zone: string;
  state: MemberState;
  /** Sealed instance secrets (src/instances/instance-secrets.ts). */
  secrets: string;
  attempts: number;
  lastError: string | null;
};

type MemberRow = {
  id: string;
  name: string;
  region: string;
  zone: string;
  version: string;
  node_size: string;
  state: MemberState;
  secrets: string;
  attempts: number;
  last_error: string | null;
};

const toMember = (row: MemberRow): StoredMember => ({
  id: row.id,
  name: row.name,
  region: row.region,
  zone: row.zone,
  version: row.version,
  nodeSize: row.node_size,
  state: row.state,
  secrets: row.secrets,
  attempts: row.attempts,
  lastError: row.last_error,
});

/** A new member, `provisioning`: written before any work on it, so that a crash leaves a row to resume. */
export async function insertMember(
  db: Queryable,
  member: PoolKey & { id: string; name: string; zone: string; secrets: string },
): Promise<StoredMember> {
  const { rows } = await db.query<MemberRow>(
    `INSERT INTO warm_pool_members (id, name, region, zone, version, node_size, state, secrets)
     VALUES ($1, $2, $3, $4, $5, $6, 'provisioning', $7) RETURNING *`,
    [member.id, member.name, member.region, member.zone, member.version, member.nodeSize, member.secrets],
  );
  return toMember(rows[0]!);
}

/**
 * Claims the longest-ready matching member for `orderId`, in the caller's transaction: one UPDATE, the candidate
 * locked with SKIP LOCKED, so that concurrent orders each get another member or none, never the same one. The
 * claim commits or rolls back with the order (the foreign key to the order is checked at commit).
 */
export async function claimReadyMember(
  tx: Queryable,
  match: PoolKey & { zone: string },
  orderId: string,
): Promise<{ id: string; name: string; secrets: string } | undefined> {
  const { rows } = await tx.query<{ id: string; name: string; secrets: string }>(
    `UPDATE warm_pool_members SET state = 'claimed', claimed_by_order = $5, claimed_at = now()
      WHERE id = (SELECT id FROM warm_pool_members
                   WHERE state = 'ready' AND region = $1 AND zone = $2 AND version = $3 AND node_size = $4
                   ORDER BY ready_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
        AND state = 'ready'
      RETURNING id, name, secrets`,
    [match.region, match.zone, match.version, match.nodeSize, orderId],
  );
  return rows[0];
}

/** Counts a hit or a miss of the pool (region, version, node size). */
export async function countClaim(tx: Queryable, key: PoolKey, result: 'hit' | 'miss'): Promise<void> {
  const column = result === 'hit' ? 'hits' : 'misses';
  await tx.query(
    `INSERT INTO warm_pool_claims (region, version, node_size, ${column}) VALUES ($1, $2, $3, 1)
     ON CONFLICT (region, version, node_size) DO UPDATE SET ${column} = warm_pool_claims.${column} + 1`,
    [key.region, key.version, key.nodeSize],
  );
}

/** Members of a region that are not claimed (building, ready or being removed). */
export async function listUnclaimedMembers(db: Queryable, region: string): Promise<StoredMember[]> {
  const { rows } = await db.query<MemberRow>(
    `SELECT * FROM warm_pool_members WHERE region = $1 AND state <> 'claimed' ORDER BY created_at, id`,
    [region],
  );
  return rows.map(toMember);
}

/** What the pool holds of a region's capacity: every member not claimed yet, ready or not. */
export async function countUnclaimedMembers(db: Queryable, region: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM warm_pool_members WHERE region = $1 AND state <> 'claimed'`,
    [region],
  );
  return rows[0]!.count;
}

/** provisioning → ready (compare-and-set: false when the member is no longer being built). */
export async function markMemberReady(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE warm_pool_members SET state = 'ready', ready_at = now(), last_error = NULL
      WHERE id = $1 AND state = 'provisioning'`,
    [id],
  );
  return rowCount === 1;
}

export async function recordMemberFailure(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(
    `UPDATE warm_pool_members SET attempts = attempts + 1, last_error = left($2, 4000) WHERE id = $1`,
    [id, error],
  );
}

/** ready or provisioning → retiring (compare-and-set: false when an order claimed it first). */
export async function startRetiring(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE warm_pool_members SET state = 'retiring' WHERE id = $1 AND state IN ('provisioning', 'ready')`,
    [id],
  );
  return rowCount === 1;
}

/** After the driver removed everything of a retiring member. */
export async function deleteRetiredMember(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM warm_pool_members WHERE id = $1 AND state = 'retiring'`, [id]);
}

/** The region's load as the refiller weighs it: orders being provisioned and orders waiting for capacity. */
export async function regionOrderLoad(
  db: Queryable,
  region: string,
): Promise<{ processing: number; waitingForCapacity: number }> {
  const { rows } = await db.query<{ processing: number; waitingForCapacity: number }>(
    `SELECT count(*) FILTER (WHERE status = 'processing')::int AS processing,
            count(*) FILTER (WHERE status = 'new' AND type = 'create' AND steps @> '[{"name": "waiting-for-capacity"}]')::int
              AS "waitingForCapacity"
       FROM orders WHERE spec->>'region' = $1 AND status IN ('new', 'processing')`,
    [region],
  );
  return rows[0]!;
}

export type PoolCounts = PoolKey & {
  provisioning: number;
  ready: number;
  retiring: number;
  claimed: number;
  hits: number;
  misses: number;
};

/** Per pool (region, version, node size): members by state, hits and misses; every pool that has any of them. */
export async function poolCounts(db: Queryable): Promise<PoolCounts[]> {
  const { rows } = await db.query<PoolCounts>(
    `WITH members AS (
       SELECT region, version, node_size,
              count(*) FILTER (WHERE state = 'provisioning')::int AS provisioning,
              count(*) FILTER (WHERE state = 'ready')::int AS ready,
              count(*) FILTER (WHERE state = 'retiring')::int AS retiring,
              count(*) FILTER (WHERE state = 'claimed')::int AS claimed
         FROM warm_pool_members GROUP BY 1, 2, 3
     )
     SELECT COALESCE(m.region, c.region) AS region, COALESCE(m.version, c.version) AS version,
            COALESCE(m.node_size, c.node_size) AS "nodeSize",
            COALESCE(m.provisioning, 0) AS provisioning, COALESCE(m.ready, 0) AS ready,
            COALESCE(m.retiring, 0) AS retiring, COALESCE(m.claimed, 0) AS claimed,
            COALESCE(c.hits, 0)::int AS hits, COALESCE(c.misses, 0)::int AS misses
       FROM members m FULL JOIN warm_pool_claims c
         ON c.region = m.region AND c.version = m.version AND c.node_size = m.node_size
      ORDER BY 1, 2, 3`,
  );
  return rows;
}
