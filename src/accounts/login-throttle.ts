import type { Queryable } from '../db/database.js';

/**
 * Counts failed logins per account and per source address in PostgreSQL (table login_failures), so the limit holds
 * across every API process. A window opens with the first failure and lasts `windowSeconds`; once a key reaches its
 * limit, logins for it are refused until the window ends.
 */
export type LoginThrottleLimits = {
  windowSeconds: number;
  failuresPerAccount: number;
  failuresPerAddress: number;
};

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleLimits = {
  windowSeconds: 15 * 60,
  failuresPerAccount: 5,
  failuresPerAddress: 20,
};

export type ThrottleVerdict =
  { allowed: true } | { allowed: false; limitedBy: 'account' | 'address'; retryAfterSeconds: number };

const accountKey = (email: string) => `account:${email}`;
const addressKey = (address: string) => `address:${address}`;

export function createLoginThrottle(limits: LoginThrottleLimits) {
  return {
    /** Whether a login for this account from this address may be attempted now. */
    async check(
      db: Queryable,
      attempt: { email: string; address: string; now: Date },
    ): Promise<ThrottleVerdict> {
      const result = await db.query<{ key: string; failures: number; windowStartedAt: string }>(
        `SELECT key, failures, window_started_at AS "windowStartedAt" FROM login_failures
         WHERE key = ANY($1) AND window_started_at > $2::timestamptz - make_interval(secs => $3)`,
        [[accountKey(attempt.email), addressKey(attempt.address)], attempt.now, limits.windowSeconds],
      );
      let verdict: ThrottleVerdict = { allowed: true };
      for (const row of result.rows) {
        const limitedBy = row.key === accountKey(attempt.email) ? 'account' : 'address';
        const limit = limitedBy === 'account' ? limits.failuresPerAccount : limits.failuresPerAddress;
        if (row.failures < limit) continue;
        const windowEnds = Date.parse(row.windowStartedAt) + limits.windowSeconds * 1000;
        const retryAfterSeconds = Math.max(1, Math.ceil((windowEnds - attempt.now.getTime()) / 1000));
        // When both keys are exhausted, the caller has to wait for the later one.
        if (verdict.allowed || retryAfterSeconds > verdict.retryAfterSeconds) {
          verdict = { allowed: false, limitedBy, retryAfterSeconds };
        }
      }
      return verdict;
    },

    /** Counts one failure against both keys, atomically, opening a new window where the old one has ended. */
    async recordFailure(
      db: Queryable,
      attempt: { email: string; address: string; now: Date },
    ): Promise<void> {
      await db.query(
        `INSERT INTO login_failures AS f (key, window_started_at, failures)
         SELECT key, $2, 1 FROM unnest($1::text[]) AS key
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN f.window_started_at <= $2::timestamptz - make_interval(secs => $3)
                           THEN 1 ELSE f.failures + 1 END,
           window_started_at = CASE WHEN f.window_started_at <= $2::timestamptz - make_interval(secs => $3)
                                    THEN $2 ELSE f.window_started_at END`,
        [[accountKey(attempt.email), addressKey(attempt.address)], attempt.now, limits.windowSeconds],
      );
    },

    /**
     * After a successful login the account starts afresh. The address keeps its count: one valid account must not
     * let an attacker reset the counter for guessing others.
     */
    async recordSuccess(db: Queryable, email: string): Promise<void> {
      await db.query('DELETE FROM login_failures WHERE key = $1', [accountKey(email)]);
    },
  };
}
