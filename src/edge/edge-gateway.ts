import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { createProxyHandler } from './edge-proxy.js';
import { EDGE_ROUTES_CHANNEL, listEdgeRoutes, type EdgeRoute } from './edge-route-store.js';
import type { LocalCa, ServerCertificate } from './local-ca.js';
import { compileSourceMatcher, displayAddress, type SourceMatcher } from './source-matcher.js';

/**
 * The edge (trusted-source gateway): one TCP listener per instance route. A connection from outside the route's
 * trusted sources is destroyed the moment it is accepted, before any TLS byte is read or written, so not one byte
 * reaches Keycloak and the client learns nothing but "closed". Allowed connections get TLS with a certificate of the
 * route's host name from the local CA and are reverse-proxied to the instance.
 *
 * The route table comes from PostgreSQL: LISTEN edge_routes applies a committed change within milliseconds, a full
 * resync every few seconds heals missed notifications, and a lost database connection is retried with back-off
 * while the edge keeps serving the table it has (the data plane outlives API restarts and database hiccups).
 */
export type EdgeGatewayOptions = {
  databaseUrl: string;
  edge: Pick<Config['edge'], 'listenHost'>;
  ca: LocalCa;
  logger: Logger;
  /** Safety-net full resync; notifications make changes visible long before. */
  resyncIntervalMs?: number;
  /** An allowed client that does not finish its TLS handshake in this time is disconnected. */
  handshakeTimeoutMs?: number;
};

export type EdgeRouteStatus = {
  instanceId: string;
  hostname: string;
  listenPort: number;
  version: number;
  trustedSources: string[];
  state: 'opening' | 'listening' | 'failed';
  error: string | null;
  openConnections: number;
  refusedConnections: number;
};

export type EdgeGatewayStatus = {
  databaseConnected: boolean;
  lastSyncAt: string | null;
  routes: EdgeRouteStatus[];
};

export type EdgeGateway = {
  status(): EdgeGatewayStatus;
  /** Reads the route table now; resolves once a sync that started after the call has finished. */
  resync(): Promise<void>;
  close(): Promise<void>;
};

type ListenerDeps = {
  listenHost: string;
  ca: LocalCa;
  agent: http.Agent;
  logger: Logger;
  handshakeTimeoutMs: number;
};

type TrackedConnection = { remoteAddress: string | undefined; secure?: tls.TLSSocket };

/** One route's listener, TLS termination and open connections. */
class RouteListener {
  state: 'opening' | 'listening' | 'failed' | 'closed' = 'opening';
  error: string | null = null;
  refused = 0;
  private matcher: SourceMatcher;
  private certificate: ServerCertificate | undefined;
  private context: tls.SecureContext | undefined;
  private readonly server: net.Server;
  private readonly httpServer: http.Server;
  private readonly connections = new Map<net.Socket, TrackedConnection>();

  constructor(
    public route: EdgeRoute,
    private readonly deps: ListenerDeps,
  ) {
    this.matcher = this.compile(route);
    this.server = net.createServer((socket) => this.accept(socket));
    this.httpServer = http.createServer(
      createProxyHandler({
        target: () => ({
          host: this.route.upstreamHost,
          port: this.route.upstreamPort,
          hostname: this.route.hostname,
          listenPort: this.route.listenPort,
        }),
        agent: deps.agent,
        logger: deps.logger,
      }),
    );
    // Idle sockets of allowed clients are closed after two minutes (the HTTP server never listens itself, so its
    // own request/header timers do not run; the per-socket idle timeout does).
    this.httpServer.timeout = 120_000;
    this.httpServer.keepAliveTimeout = 30_000;
  }

  /** A method, not a property read: TypeScript would otherwise keep its narrowing of `state` across awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  get openConnections(): number {
    return this.connections.size;
  }

  private compile(route: EdgeRoute): SourceMatcher {
    const matcher = compileSourceMatcher(route.trustedSources);
    if (matcher.rejected.length) {
      this.deps.logger.error(
        { instanceId: route.instanceId, rejected: matcher.rejected },
        'edge: trusted sources that are not CIDRs allow nobody',
      );
    }
    return matcher;
  }

  async open(): Promise<void> {
    try {
      await this.refreshCertificate();
      if (this.isClosed()) return;
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen({ host: this.deps.listenHost, port: this.route.listenPort }, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      // Closed while the listen was under way: undo it.
      if (this.isClosed()) {
        this.server.close();
        return;
      }
      this.state = 'listening';
      this.server.on('error', (error) =>
        this.deps.logger.error({ err: error.message }, 'edge: listener error'),
      );
      this.deps.logger.info(
        { instanceId: this.route.instanceId, hostname: this.route.hostname, port: this.route.listenPort },
        'edge: route listening',
      );
    } catch (error) {
      if (this.isClosed()) return;
      this.state = 'failed';
      this.error = error instanceof Error ? error.message : String(error);
      this.deps.logger.error(
        { instanceId: this.route.instanceId, port: this.route.listenPort, err: this.error },
        'edge: cannot open the route; retrying at the next resync',
      );
    }
  }

  /** Takes the CA's current certificate for the host name (a new one after a rename, or near expiry). */
  async refreshCertificate(): Promise<void> {
    const certificate = await this.deps.ca.issueServerCertificate(this.route.hostname);
    if (certificate === this.certificate || this.isClosed()) return;
    this.certificate = certificate;
    this.context = tls.createSecureContext({
      key: certificate.keyPem,
      cert: certificate.certPem,
      minVersion: 'TLSv1.2',
    });
  }

  /** Applies a new version of the route that keeps its port. */
  update(route: EdgeRoute): void {
    const previous = this.route;
    this.route = route;
    if (JSON.stringify(previous.trustedSources) !== JSON.stringify(route.trustedSources)) {
      this.matcher = this.compile(route);
      this.revoke();
    }
  }

  /** Ends every open connection whose source the current allowlist no longer admits; the others stay. */
  private revoke(): void {
    let revoked = 0;
    for (const [socket, tracked] of this.connections) {
      if (this.matcher.allows(tracked.remoteAddress)) continue;
      this.drop(socket, tracked);
      revoked++;
    }
    if (revoked) {
      this.deps.logger.info(
        { instanceId: this.route.instanceId, revoked },
        'edge: closed connections of sources no longer trusted',
      );
    }
  }

  private drop(socket: net.Socket, tracked: TrackedConnection): void {
    tracked.secure?.destroy();
    socket.destroy();
    this.connections.delete(socket);
  }

  private accept(socket: net.Socket): void {
    const context = this.context;
    if (this.state !== 'listening' || !context || !this.matcher.allows(socket.remoteAddress)) {
      // Before TLS, before reading: the client gets a close and nothing else.
      socket.destroy();
      this.refused++;
      this.deps.logger.debug(
        { instanceId: this.route.instanceId, source: displayAddress(socket.remoteAddress) },
        'edge: refused a source outside the trusted sources',
      );
      return;
    }
    const tracked: TrackedConnection = { remoteAddress: socket.remoteAddress };
    this.connections.set(socket, tracked);
    // Resets by clients are routine; they surface (and are handled) on the TLS socket below.
    socket.on('error', () => undefined);
    socket.once('close', () => this.connections.delete(socket));

    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ['http/1.1'],
    });
    tracked.secure = secure;
    const handshakeTimer = setTimeout(() => secure.destroy(), this.deps.handshakeTimeoutMs);
    secure.once('secure', () => {
      clearTimeout(handshakeTimer);
      this.httpServer.emit('connection', secure);
    });
    secure.on('error', (error) => {
      this.deps.logger.debug(
        { instanceId: this.route.instanceId, err: error.message },
        'edge: TLS connection error',
      );
      secure.destroy();
    });
    secure.once('close', () => {
      clearTimeout(handshakeTimer);
      socket.destroy();
      this.connections.delete(socket);
    });
  }

  async close(): Promise<void> {
    const wasListening = this.state === 'listening';
    this.state = 'closed';
    for (const [socket, tracked] of this.connections) this.drop(socket, tracked);
    if (!wasListening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.deps.logger.info(
      { instanceId: this.route.instanceId, port: this.route.listenPort },
      'edge: route closed',
    );
  }

  status(): EdgeRouteStatus {
    return {
      instanceId: this.route.instanceId,
      hostname: this.route.hostname,
      listenPort: this.route.listenPort,
      version: this.route.version,
      trustedSources: [...this.route.trustedSources],
      state: this.state === 'closed' ? 'failed' : this.state,
      error: this.error,
      openConnections: this.openConnections,
      refusedConnections: this.refused,
    };
  }
}

export async function startEdgeGateway(options: EdgeGatewayOptions): Promise<EdgeGateway> {
  const { logger } = options;
  const resyncIntervalMs = options.resyncIntervalMs ?? 5_000;
  const deps: ListenerDeps = {
    listenHost: options.edge.listenHost,
    ca: options.ca,
    agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    logger,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
  };
  const listeners = new Map<string, RouteListener>();
  let client: pg.Client | undefined;
  let lastSyncAt: string | null = null;
  let closed = false;
  let reconnectDelayMs = 250;
  let reconnectTimer: NodeJS.Timeout | undefined;

  function dropClient(which: pg.Client, reason: string): void {
    if (client !== which) return;
    client = undefined;
    which.removeAllListeners('notification');
    which.end().catch(() => undefined);
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
      fresh.on('error', () => undefined);
      await fresh.end().catch(() => undefined);
      throw error;
    }
    client = fresh;
    reconnectDelayMs = 250;
    logger.info('edge: listening for route changes');
    return fresh;
  }

  function apply(routes: EdgeRoute[]): void {
    const wanted = new Map(routes.map((route) => [route.instanceId, route]));
    const closing: Promise<void>[] = [];
    for (const [instanceId, listener] of listeners) {
      const route = wanted.get(instanceId);
      // Gone, moved to another port, or failed to open (retried now): the old listener goes first.
      if (!route || route.listenPort !== listener.route.listenPort || listener.state === 'failed') {
        listeners.delete(instanceId);
        closing.push(listener.close());
      }
    }
    for (const route of routes) {
      const listener = listeners.get(route.instanceId);
      if (!listener) {
        const fresh = new RouteListener(route, deps);
        listeners.set(route.instanceId, fresh);
        // open() reports its own failures (state "failed", logged); it never rejects.
        void fresh.open();
        continue;
      }
      if (listener.route.version !== route.version) listener.update(route);
      listener
        .refreshCertificate()
        .catch((error: unknown) =>
          logger.error(
            { instanceId: route.instanceId, err: String(error) },
            'edge: certificate renewal failed',
          ),
        );
    }
    // Closing is awaited by nobody: a listener's close only waits for sockets it has already destroyed.
    void Promise.all(closing);
  }

  async function runSync(): Promise<void> {
    if (closed) return;
    try {
      const connection = await ensureClient();
      const routes = await listEdgeRoutes(connection);
      if (closed) return;
      apply(routes);
      lastSyncAt = new Date().toISOString();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.warn({ err: message }, 'edge: route sync failed; serving the last known routes');
      if (client) dropClient(client, message);
      else scheduleReconnect();
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
    status: () => ({
      databaseConnected: client !== undefined,
      lastSyncAt,
      routes: [...listeners.values()].map((listener) => listener.status()),
    }),
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
        last.on('error', () => undefined);
        await last.end().catch(() => undefined);
      }
      await Promise.all([...listeners.values()].map((listener) => listener.close()));
      listeners.clear();
      deps.agent.destroy();
    },
  };
}
