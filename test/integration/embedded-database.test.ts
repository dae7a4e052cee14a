import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { lockDataDir } from '../../src/platform/data-dir-lock.js';

// The embedded server's own life cycle; the external path is exercised by every other integration file.
describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'embedded PostgreSQL and the data dir',
  () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-embedded-'));
    const options = {
      directory: path.join(dataDir, 'postgres'),
      port: 20000 + Math.floor(Math.random() * 20000),
      logFile: path.join(dataDir, 'logs', 'postgres.log'),
    };
    let server: EmbeddedPostgres | undefined;
    afterAll(async () => {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    async function query(url: string, sql: string) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    }

    it('initialises on first start, keeps data, and adopts the running server on the next start', async () => {
      server = await startEmbeddedPostgres(options);
      await query(
        server.url('keyhouse'),
        'CREATE TABLE marker (note text); INSERT INTO marker VALUES ($$kept$$)',
      );
      // A restarted Keyhouse (even one configured with another port) finds the server still running and adopts it.
      const again = await startEmbeddedPostgres({ ...options, port: options.port + 1 });
      expect(again.port).toBe(server.port);
      expect(await query(again.url('keyhouse'), 'SELECT note FROM marker')).toEqual([{ note: 'kept' }]);
    });

    it('restarts a stopped server on the same files', async () => {
      await server!.stop();
      server = await startEmbeddedPostgres(options);
      expect(await query(server.url('keyhouse'), 'SELECT note FROM marker')).toEqual([{ note: 'kept' }]);
    });

    it('takes a free port when the configured one is taken, says so, and keeps that port for the next start', async () => {
      // Another program (or a second Keyhouse with another data dir) holds the configured port.
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const taken = (holder.address() as AddressInfo).port;
      const otherDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-embedded-second-'));
      const second = {
        directory: path.join(otherDir, 'postgres'),
        port: taken,
        logFile: path.join(otherDir, 'pg.log'),
      };
      try {
        const started = await startEmbeddedPostgres(second);
        expect(started.port).not.toBe(taken);
        expect(started.portChoice).toEqual({ configured: taken, reason: 'configured-port-taken' });
        expect(await query(started.url('keyhouse'), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
        await started.stop();
        // Next start, the configured port still taken: the port used last time again, so instances keep theirs.
        const restarted = await startEmbeddedPostgres(second);
        expect(restarted.port).toBe(started.port);
        await restarted.stop();
      } finally {
        holder.close();
        rmSync(otherDir, { recursive: true, force: true });
      }
    });

    it('refuses connections without the generated password', async () => {
      const wrong = server!.url('keyhouse').replace(/:[^:@]+@/, ':wrong@');
      await expect(query(wrong, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    });

    it('allows one Keyhouse per data dir and takes over the lock of a dead one', () => {
      const lock = lockDataDir(dataDir);
      expect(() => lockDataDir(dataDir)).not.toThrow(); // the same process may re-enter
      lock.release();
      // A live foreign holder: pid 1 always exists.
      writeFileSync(path.join(dataDir, 'keyhouse.pid'), '1');
      expect(() => lockDataDir(dataDir)).toThrow(
        /Another Keyhouse \(pid 1\) is already running on the data dir/,
      );
      // A holder that died (SIGKILL) leaves its pid behind; the lock is taken over.
      writeFileSync(path.join(dataDir, 'keyhouse.pid'), '999999999');
      const taken = lockDataDir(dataDir);
      taken.release();
    });
  },
);
