import type { Queryable } from '../db/database.js';

/**
 * The ACME account per directory (its key sealed by the caller) and the HTTP-01 challenges in flight, which the
 * edges read (src/edge/edge-route-feed.ts) and answer on their plain-HTTP listener.
 */

export type StoredAcmeAccount = { sealedAccountKey: string; accountUrl: string | null };

/** The account of `directoryUrl`: the stored one, or one with `create()`'s sealed key, stored first; never two. */
export async function ensureAcmeAccount(
  db: Queryable,
  directoryUrl: string,
  create: () => Promise<string>,
): Promise<StoredAcmeAccount> {
  const find = async () => {
    const { rows } = await db.query<{ sealed_account_key: string; account_url: string | null }>(
      'SELECT sealed_account_key, account_url FROM acme_accounts WHERE directory_url = $1',
      [directoryUrl],
    );
    return rows[0] && { sealedAccountKey: rows[0].sealed_account_key, accountUrl: rows[0].account_url };
  };
  const existing = await find();
  if (existing) return existing;
  // Two workers creating one at the same time: the first insert wins, both use it.
  await db.query(
    `INSERT INTO acme_accounts (directory_url, sealed_account_key) VALUES ($1, $2)
     ON CONFLICT (directory_url) DO NOTHING`,
    [directoryUrl, await create()],
  );
  return (await find())!;
}

/** The account's URL once the directory registered it. */
export async function recordAcmeAccountUrl(db: Queryable, directoryUrl: string, url: string): Promise<void> {
  await db.query(
    'UPDATE acme_accounts SET account_url = $2 WHERE directory_url = $1 AND account_url IS DISTINCT FROM $2',
    [directoryUrl, url],
  );
}

export type AcmeChallenge = { hostname: string; token: string; keyAuthorization: string };

export async function publishAcmeChallenge(
  db: Queryable,
  instanceId: string,
  challenge: AcmeChallenge,
): Promise<void> {
  await db.query(
    `INSERT INTO acme_challenges (instance_id, hostname, token, key_authorization) VALUES ($1, $2, $3, $4)
     ON CONFLICT (hostname, token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization`,
    [instanceId, challenge.hostname, challenge.token, challenge.keyAuthorization],
  );
}

export async function withdrawAcmeChallenge(db: Queryable, hostname: string, token: string): Promise<void> {
  await db.query('DELETE FROM acme_challenges WHERE hostname = $1 AND token = $2', [hostname, token]);
}

/**
 * Challenges older than `before`, left by an attempt that crashed between publishing and withdrawing: removed (the
 * directory gave up on them long ago).
 */
export async function withdrawStaleAcmeChallenges(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM acme_challenges WHERE created_at < $1', [before]);
  return rowCount ?? 0;
}

/** Every challenge in flight, for the edges' map file; sorted so an unchanged set renders the same file. */
export async function listAcmeChallenges(db: Queryable): Promise<AcmeChallenge[]> {
  const { rows } = await db.query<{ hostname: string; token: string; key_authorization: string }>(
    'SELECT hostname, token, key_authorization FROM acme_challenges ORDER BY hostname, token',
  );
  return rows.map((row) => ({
    hostname: row.hostname,
    token: row.token,
    keyAuthorization: row.key_authorization,
  }));
}
