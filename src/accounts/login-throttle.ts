import type { Database, Queryable } from '../db/database.js';
import { RateLimitedError } from '../platform/errors.js';

/**
 * The login limit, in PostgreSQL (table login_failures) so that it holds across every API process. Three counters
 * per attempt, each in a window that opens with its first failure and lasts `windowSeconds`:
 *
 * - per address (any account): at `failuresPerAddress` the address is refused for every account (password spraying);
 * - per account and address: at `failuresPerAccount` that address is refused for that account (guessing);
 * - per account (any address): at `failuresPerAccount` the account refuses every address that has failed on it —
 *   but an address without failures may still try, so failures from elsewhere cannot lock the owner out.
 *
 * Checking and counting are one step: `reserve` takes the rows' locks, decides, and counts the attempt as a failure
 * before the password is checked; `release` takes the count back when the password was right (and `giveBack` when
 * the password was right but the second factor is still to come). Parallel attempts
 * therefore queue on the row locks and each sees the counts of those before it.
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

/** The refusal of an attempt over the limit: 429 with Retry-After. */
export function rateLimitedError(retryAfterSeconds: number): RateLimitedError {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return new RateLimitedError(
    `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
    retryAfterSeconds,
  );
}

export type LoginAttempt = { email: string; address: string; now: Date };

export type ThrottleVerdict =
  { allowed: true } | { allowed: false; limitedBy: 'account' | 'address'; retryAfterSeconds: number };

const keysOf = (attempt: LoginAttempt) => ({
  account: `account:${attempt.email}`,
  address: `address:${attempt.address}`,
  pair: `account-address:${attempt.email} ${attempt.address}`,
});

/** A counter whose window is open at the attempt's time; keys without one have no row in the answer. */
type Counter = { failures: number; windowStartedAt: string };

export function createLoginThrottle(limits: LoginThrottleLimits) {
  const windowMs = limits.windowSeconds * 1000;

  const retryAfter = (counter: Counter | undefined, now: Date) =>
    counter
      ? Math.max(1, Math.ceil((Date.parse(counter.windowStartedAt) + windowMs - now.getTime()) / 1000))
      : 0;

  return {
    /** Whether this attempt may check a password; if so, it is counted as a failure until `release`. */
    reserve(db: Database, attempt: LoginAttempt): Promise<ThrottleVerdict> {
      const keys = keysOf(attempt);
      const all = [keys.account, keys.address, keys.pair];
      return db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO login_failures (key, window_started_at, failures)
           SELECT key, '-infinity', 0 FROM unnest($1::text[]) AS key ON CONFLICT (key) DO NOTHING`,
          [all],
        );
        // Row locks in key order: attempts on the same account or address wait for each other, without deadlocks.
        const { rows } = await tx.query<Counter & { key: string }>(
          `SELECT key, failures, window_started_at AS "windowStartedAt" FROM (
             SELECT key, window_started_at > $2::timestamptz - make_interval(secs => $3) AS open, failures,
                    window_started_at
               FROM login_failures WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE) AS locked
            WHERE open`,
          [all, attempt.now, limits.windowSeconds],
        );
        const counter = (key: string) => rows.find((row) => row.key === key);
        const failures = (key: string) => counter(key)?.failures ?? 0;
        const { now } = attempt;
        if (failures(keys.address) >= limits.failuresPerAddress) {
          return {
            allowed: false,
            limitedBy: 'address',
            retryAfterSeconds: retryAfter(counter(keys.address), now),
          } as const;
        }
        const pair = failures(keys.pair);
        const accountExhausted = failures(keys.account) >= limits.failuresPerAccount;
        if (pair >= limits.failuresPerAccount || (accountExhausted && pair > 0)) {
          // The later of the two windows: the address may try again when both have ended.
          const retryAfterSeconds = Math.max(
            retryAfter(counter(keys.pair), now),
            accountExhausted ? retryAfter(counter(keys.account), now) : 0,
          );
          return { allowed: false, limitedBy: 'account', retryAfterSeconds } as const;
        }
        // An upsert, in case forgetExpired removed a row that had run out its window meanwhile.
        await tx.query(
          `INSERT INTO login_failures AS f (key, window_started_at, failures)
           SELECT key, $2, 1 FROM unnest($1::text[]) AS key
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN f.window_started_at > $2::timestamptz - make_interval(secs => $3)
                             THEN f.failures + 1 ELSE 1 END,
             window_started_at = CASE WHEN f.window_started_at > $2::timestamptz - make_interval(secs => $3)
                                      THEN f.window_started_at ELSE $2 END`,
          [all, now, limits.windowSeconds],
        );
        return { allowed: true } as const;
      });
    },

    /**
     * The password was right: the account and this address start afresh on it, and the address gets its attempt
     * back. The address keeps its other failures: one valid account must not reset the count of a sprayer.
     */
    async release(db: Queryable, attempt: LoginAttempt): Promise<void> {
      const keys = keysOf(attempt);
      await db.query(
        `WITH cleared AS (DELETE FROM login_failures WHERE key = ANY($1::text[]))
         UPDATE login_failures SET failures = greatest(failures - 1, 0) WHERE key = $2`,
        [[keys.account, keys.pair], keys.address],
      );
    },

    /** The attempt was neither a failure nor a sign-in (the second factor is still to come): its count goes back. */
    async giveBack(db: Queryable, attempt: LoginAttempt): Promise<void> {
      const keys = keysOf(attempt);
      await db.query(
        'UPDATE login_failures SET failures = greatest(failures - 1, 0) WHERE key = ANY($1::text[])',
        [[keys.account, keys.address, keys.pair]],
      );
    },

    /** Removes counters whose window ended before `now` (at most `limit` of them), so the table stays small. */
    async forgetExpired(db: Queryable, now: Date, limit = 1000): Promise<void> {
      await db.query(
        `DELETE FROM login_failures WHERE ctid IN (
           SELECT ctid FROM login_failures
            WHERE window_started_at <= $1::timestamptz - make_interval(secs => $2)
            LIMIT $3)`,
        [now, limits.windowSeconds, limit],
      );
    },
  };
}
