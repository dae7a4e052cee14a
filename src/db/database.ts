import pg from 'pg';

/** Anything that runs a query: the pool, or a client inside a transaction. Stores accept either. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export type Database = {
  pool: pg.Pool;
  /** Runs `work` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

// Bigints as numbers (our counters stay far below 2^53). Timestamps as RFC 3339 strings in UTC with PostgreSQL's
// full microsecond precision: a JavaScript Date would cut it to milliseconds, and keyset cursors built from such
// a value would no longer match the row they came from.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value) => {
  const utc = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\+00$/.exec(value);
  return utc ? `${utc[1]}T${utc[2]}Z` : new Date(value).toISOString();
});

/** Runs `work` on one connection of its own (not the pool's), e.g. a superuser's for CREATE DATABASE; always closed. */
export async function withConnection<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // A client that loses its server while idle (e.g. holding an advisory lock while Keycloak exports a schema, when
  // the server restarts or ends the session) emits 'error', which without a listener crashes the process. The loss
  // is reported to the caller instead: whatever the session held (a lock) is gone.
  let lost: Error | undefined;
  client.on('error', (error) => {
    lost ??= error;
  });
  await client.connect();
  try {
    const result = await work(client);
    if (lost) throw lost;
    return result;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function connectDatabase(url: string, options: { max?: number } = {}): Database {
  // Sessions in UTC, so timestamps arrive in the one form the parser above keeps exact.
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, options: '-c TimeZone=UTC' });
  // An idle client that loses its server must not crash the process; the next query reports the failure.
  pool.on('error', () => undefined);
  return {
    pool,
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
