import type { Queryable } from '../db/database.js';

/** SQL of two-factor sign-in: the TOTP secret on the user (sealed), recovery codes (hashed). */

type TotpState = { sealedSecret: string | null; enabled: boolean; lastStep: number | null };

/** The user's second factor; `forUpdate` locks the user's row until the end of the transaction. */
export async function findTotpState(
  db: Queryable,
  userId: string,
  options: { forUpdate?: boolean } = {},
): Promise<TotpState | undefined> {
  const result = await db.query<TotpState>(
    `SELECT totp_secret AS "sealedSecret", totp_enabled_at IS NOT NULL AS enabled, totp_last_step AS "lastStep"
       FROM users WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [userId],
  );
  return result.rows[0];
}

/** A new secret waiting for its first code; replaces an earlier unconfirmed one, never an active one. */
export async function storePendingTotpSecret(
  db: Queryable,
  userId: string,
  sealed: string,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE users SET totp_secret = $2, totp_last_step = NULL WHERE id = $1 AND totp_enabled_at IS NULL`,
    [userId, sealed],
  );
  return result.rowCount === 1;
}

/**
 * Accepts the code of time step `step` once: compare-and-set on the last accepted step, so a code seen by someone
 * else (shoulder, proxy log) cannot be replayed, not even concurrently.
 */
export async function acceptTotpStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const result = await db.query(
    `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`,
    [userId, step],
  );
  return result.rowCount === 1;
}

export async function enableTotp(db: Queryable, userId: string, now: Date): Promise<boolean> {
  const result = await db.query(
    `UPDATE users SET totp_enabled_at = $2 WHERE id = $1 AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL`,
    [userId, now],
  );
  return result.rowCount === 1;
}

export async function disableTotp(db: Queryable, userId: string): Promise<void> {
  await db.query(
    `UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1`,
    [userId],
  );
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
}

export async function replaceRecoveryCodes(
  db: Queryable,
  userId: string,
  codeHashes: string[],
): Promise<void> {
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
  await db.query(`INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])`, [
    userId,
    codeHashes,
  ]);
}

export async function listUnusedRecoveryCodes(
  db: Queryable,
  userId: string,
): Promise<{ id: number; codeHash: string }[]> {
  const result = await db.query<{ id: number; codeHash: string }>(
    `SELECT id, code_hash AS "codeHash" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY id`,
    [userId],
  );
  return result.rows;
}

/** Compare-and-set: a recovery code signs in once, even when presented twice at the same moment. */
export async function useRecoveryCode(db: Queryable, id: number, now: Date): Promise<boolean> {
  const result = await db.query(`UPDATE recovery_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL`, [
    id,
    now,
  ]);
  return result.rowCount === 1;
}
