import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConnection } from '../../src/db/database.js';
import { createTestDatabase } from '../support/test-database.js';

/**
 * A session that the server ends while its client is idle (an advisory lock held while Keycloak exports a schema,
 * and the server restarts or an operator ends the session): the client's 'error' event must not crash the process
 * (the CI run's "Uncaught Exception: terminating connection due to administrator command"); the caller learns
 * that the session is gone.
 */
describe('withConnection', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('reports a session ended while idle as the call’s error instead of crashing the process', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const call = withConnection(database.url, async (client) => {
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Idle from here on, as the lock holder is while Keycloak runs; the client's connection ends.
        // Not events.once: it listens for 'error' too, which would hide the missing listener this test is about.
        const ended = new Promise<void>((resolve, reject) => {
          const deadline = setTimeout(() => reject(new Error('the connection did not end in 10 s')), 10_000);
          client.once('end', () => {
            clearTimeout(deadline);
            resolve();
          });
        });
        await withConnection(database.url, (admin) =>
          admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]),
        );
        await ended;
        return 'done';
      });
      await expect(call).rejects.toThrow(/terminating connection due to administrator command/);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
