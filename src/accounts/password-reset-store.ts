import type { Queryable } from '../db/database.js';

/** SQL of password resets (table password_resets): only the token's hash is stored. */

export async function insertPasswordReset(
  db: Queryable,
  reset: { id: string; userId: string; tokenHash: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    [reset.id, reset.userId, reset.tokenHash, reset.createdAt, reset.expiresAt],
  );
}

/**
 * The reset of this token; `forUpdate` locks it until the end of the transaction, so two confirmations cannot both
 * use it.
 */
export async function findPasswordReset(
  db: Queryable,
  tokenHash: string,
  now: Date,
  options: { forUpdate?: boolean } = {},
): Promise<{ id: string; userId: string; expired: boolean; used: boolean } | undefined> {
  const { rows } = await db.query<{ id: string; userId: string; expired: boolean; used: boolean }>(
    `SELECT r.id, r.user_id AS "userId", r.expires_at <= $2 AS expired, r.used_at IS NOT NULL AS used
       FROM password_resets r JOIN users u ON u.id = r.user_id
      WHERE r.token_hash = $1 AND u.removed_at IS NULL${options.forUpdate ? ' FOR UPDATE OF r' : ''}`,
    [tokenHash, now],
  );
  return rows[0];
}

/**
 * Locks the user's row until the end of the transaction and counts the resets issued since `since`: requests for
 * one address serialise here, so the bound on mails per window holds under concurrency.
 */
export async function lockAndCountRecentResets(db: Queryable, userId: string, since: Date): Promise<number> {
  await db.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
  const { rows } = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM password_resets WHERE user_id = $1 AND created_at > $2',
    [userId, since],
  );
  return rows[0]!.count;
}

/** Spends every open reset of the user: the one used, and any other link still in a mailbox. */
export async function spendPasswordResets(db: Queryable, userId: string, now: Date): Promise<void> {
  await db.query('UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL', [
    userId,
    now,
  ]);
}
