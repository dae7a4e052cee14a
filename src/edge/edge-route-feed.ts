import pg from 'pg';
import type { Logger } from 'pino';
import { listAcmeChallenges, type AcmeChallenge } from '../domains/acme-store.js';
import { EDGE_ROUTES_CHANNEL, listEdgeRoutes, type EdgeRoute } from './edge-route-store.js';

/** What an edge serves: the routes, and the ACME challenges its plain-HTTP listener answers. */
export type EdgeSnapshot = { routes: EdgeRoute[]; challenges: AcmeChallenge[] };

/**
 * The edge's view of the route table in PostgreSQL: one dedicated connection LISTENs on `edge_routes` and then
 * reads the whole table (and the ACME challenges in flight, whose changes notify the same channel); every notification (a committed change) triggers another full read, coalesced so that at
 * most one runs and one waits, plus a resync every few seconds as a safety net. A lost connection is retried with
 * back-off while the edge keeps serving what it has: the data plane does not depend on the database being there.
 */
export type EdgeRouteFeed = {
  databaseConnected(): boolean;
  lastSyncAt(): string | null;
  /** Reads and applies the table now; resolves once a sync that started after the call has finished. */
  resync(): Promise<void>;
  close(): Promise<void>;
};

export async function startEdgeRouteFeed(options: {
  databaseUrl: string;
  logger: Logger;
  /** Applies a full table; a failure is logged and retried at the next resync. */
  apply(snapshot: EdgeSnapshot): Promise<void>;
  resyncIntervalMs?: number;
}): Promise<EdgeRouteFeed> {
  const { logger } = options;
  const resyncIntervalMs = options.resyncIntervalMs ?? 5_000;
  let client: pg.Client | undefined;
  let lastSyncAt: string | null = null;
  let closed = false;
  let reconnectDelayMs = 250;
  let reconnectTimer: NodeJS.Timeout | undefined;

  function dropClient(which: pg.Client, reason: string): void {
    if (client !== which) return;
    client = undefined;
    which.removeAllListeners('notification');
    which
      .end()
      .catch((error: unknown) => logger.debug({ err: String(error) }, 'edge: closing a lost connection'));
    if (closed) return;
    logger.warn({ reason }, 'edge: lost the database; serving the last known routes and reconnecting');
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void requestSync();
    }, reconnectDelayMs);
    reconnectDelayMs = Math.min(reconnectDelayMs * 2, resyncIntervalMs);
  }

  async function ensureClient(): Promise<pg.Client> {
    if (client) return client;
    const fresh = new pg.Client({
      connectionString: options.databaseUrl,
      application_name: 'keyhouse-edge',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      query_timeout: 10_000,
    });
    fresh.on('error', (error) => dropClient(fresh, error.message));
    fresh.on('end', () => dropClient(fresh, 'connection ended'));
    fresh.on('notification', (message) => {
      // requestSync never rejects; nothing to await here.
      if (message.channel === EDGE_ROUTES_CHANNEL) void requestSync();
    });
    try {
      await fresh.connect();
      // LISTEN before the full read: a change committed in between is then both read and notified, never lost.
      await fresh.query(`LISTEN ${EDGE_ROUTES_CHANNEL}`);
    } catch (error) {
      fresh.removeAllListeners();
      fresh.on('error', (late: Error) =>
        logger.debug({ err: late.message }, 'edge: late error of a failed connect'),
      );
      await fresh
        .end()
        .catch((late: unknown) => logger.debug({ err: String(late) }, 'edge: ending a failed connect'));
      throw error;
    }
    client = fresh;
    reconnectDelayMs = 250;
    logger.info('edge: listening for route changes');
    return fresh;
  }

  async function runSync(): Promise<void> {
    if (closed) return;
    let snapshot: EdgeSnapshot;
    try {
      const connection = await ensureClient();
      snapshot = {
        routes: await listEdgeRoutes(connection),
        challenges: await listAcmeChallenges(connection),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.warn({ err: message }, 'edge: reading the routes failed; serving the last known routes');
      if (client) dropClient(client, message);
      else scheduleReconnect();
      return;
    }
    if (closed) return;
    try {
      await options.apply(snapshot);
      lastSyncAt = new Date().toISOString();
    } catch (error) {
      logger.error({ err: error }, 'edge: applying the routes failed; retrying at the next resync');
    }
  }

  // At most one sync runs; requests during it are folded into one follow-up run, which reads the newest state.
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  function requestSync(): Promise<void> {
    if (!running) {
      running = runSync().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running.then(() => {
      queued = undefined;
      return requestSync();
    });
    return queued;
  }

  await requestSync();
  const resyncTimer = setInterval(() => void requestSync(), resyncIntervalMs);

  return {
    databaseConnected: () => client !== undefined,
    lastSyncAt: () => lastSyncAt,
    resync: requestSync,
    async close() {
      closed = true;
      clearInterval(resyncTimer);
      clearTimeout(reconnectTimer);
      await running;
      const last = client;
      client = undefined;
      if (last) {
        last.removeAllListeners();
        last.on('error', (error: Error) => logger.debug({ err: error.message }, 'edge: error while closing'));
        await last.end().catch((error: unknown) => logger.debug({ err: String(error) }, 'edge: closing'));
      }
    },
  };
}
