import type pg from 'pg';
import type { Config } from '../config/config-schema.js';
import type { Database, Queryable } from '../db/database.js';
import { ConflictError, UnavailableError, ValidationError, type FieldError } from '../platform/errors.js';
import { compileSourceMatcher } from './source-matcher.js';

/**
 * Persistence of the edge's routes (table edge_routes, migration 002). The driver writes them; every edge process
 * reads them and is woken by the trigger's NOTIFY on channel `edge_routes` (see the migration), so a committed
 * change reaches the listeners within milliseconds.
 */
export type EdgeRoute = {
  instanceId: string;
  /** The instance's own host name (cookies ignore ports, so instances never share one). */
  hostname: string;
  listenPort: number;
  upstreamHost: string;
  upstreamPort: number;
  /** Canonical CIDRs; empty means nobody gets in. */
  trustedSources: string[];
  /** Canonical CIDRs that may also use /admin/ and the admin REST API (the others get logins and tokens only). */
  adminSources: string[];
  /**
   * The customer's own host name served beside `hostname` (src/domains), with the certificate uploaded or obtained
   * for it (chain PEM, key sealed); null without one, or while its certificate is not there yet.
   */
  customDomain: { hostname: string; certificateChainPem: string; sealedPrivateKey: string } | null;
  /** Rises on every change of the row. */
  version: number;
  updatedAt: string;
};

export type EdgeRouteInput = {
  instanceId: string;
  hostname: string;
  upstreamHost: string;
  upstreamPort: number;
  trustedSources: string[];
  adminSources: string[];
  /** The customer's own host name to serve too (its certificate comes from custom_domains); absent: none. */
  customHostname?: string | null;
  /** Omit to keep the route's current port, or to get the lowest free one of the port range for a new route. */
  listenPort?: number;
};

export type PortRange = Config['edge']['portRange'];

export const EDGE_ROUTES_CHANNEL = 'edge_routes';
// Serialises port allocation among all writers of the database (any constant shared by all Keyhouse processes).
const EDGE_PORT_LOCK = 0x6b686570;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

type EdgeRouteRow = {
  instance_id: string;
  hostname: string;
  listen_port: number;
  upstream_host: string;
  upstream_port: number;
  trusted_sources: string[];
  admin_sources: string[];
  custom_hostname: string | null;
  certificate_chain_pem: string | null;
  sealed_private_key: string | null;
  version: number;
  updated_at: string;
};

/** A route with the certificate of its custom host name (the domain's row of that name, once it has one). */
const SELECT_ROUTES = `SELECT r.instance_id, r.hostname, r.listen_port, r.upstream_host, r.upstream_port,
    r.trusted_sources, r.admin_sources, r.custom_hostname, r.version, r.updated_at,
    d.certificate_chain_pem, d.sealed_private_key
  FROM edge_routes r
  LEFT JOIN custom_domains d ON d.hostname = r.custom_hostname AND d.certificate_chain_pem IS NOT NULL`;

function toRoute(row: EdgeRouteRow): EdgeRoute {
  return {
    instanceId: row.instance_id,
    hostname: row.hostname,
    listenPort: row.listen_port,
    upstreamHost: row.upstream_host,
    upstreamPort: row.upstream_port,
    trustedSources: row.trusted_sources,
    adminSources: row.admin_sources,
    customDomain:
      row.custom_hostname && row.certificate_chain_pem && row.sealed_private_key
        ? {
            hostname: row.custom_hostname,
            certificateChainPem: row.certificate_chain_pem,
            sealedPrivateKey: row.sealed_private_key,
          }
        : null,
    version: row.version,
    updatedAt: row.updated_at,
  };
}

/** The address customers use: https://<hostname>:<port>. */
export function edgeRouteUrl(route: Pick<EdgeRoute, 'hostname' | 'listenPort'>): string {
  return `https://${route.hostname}:${route.listenPort}`;
}

function validate(route: EdgeRouteInput): void {
  const errors: FieldError[] = [];
  for (const [path, hostname] of [
    ['hostname', route.hostname],
    ['customHostname', route.customHostname ?? null],
  ] as const) {
    if (hostname !== null && !HOSTNAME.test(hostname))
      errors.push({ path, message: `"${hostname}" is not a lower-case DNS host name.` });
  }
  if (route.upstreamHost.length < 1 || route.upstreamHost.length > 255) {
    errors.push({ path: 'upstreamHost', message: 'The upstream host must have 1 to 255 characters.' });
  }
  for (const [path, port] of [
    ['upstreamPort', route.upstreamPort],
    ['listenPort', route.listenPort],
  ] as const) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      errors.push({ path, message: `${port} is not a TCP port.` });
    }
  }
  // The edge fails closed on entries it cannot parse; refusing them here tells the writer at once.
  for (const field of ['trustedSources', 'adminSources'] as const) {
    for (const entry of compileSourceMatcher(route[field]).rejected) {
      errors.push({ path: field, message: `"${entry}" is not a CIDR range.` });
    }
  }
  if (errors.length) throw new ValidationError(errors);
}

/**
 * A free port of `range` for `instanceId`: the one it already has, else the lowest no other route uses. Call it in
 * a transaction and insert in the same one: the advisory lock it takes is held until commit, so two writers never
 * pick the same port. (The UNIQUE constraint on listen_port is the backstop.)
 */
export async function allocateEdgePort(
  tx: pg.PoolClient,
  instanceId: string,
  range: PortRange,
): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [EDGE_PORT_LOCK]);
  const { rows } = await tx.query<{ port: number }>(
    `SELECT COALESCE(
       (SELECT listen_port FROM edge_routes WHERE instance_id = $1 AND listen_port BETWEEN $2 AND $3),
       (SELECT p FROM generate_series($2::int, $3::int) AS p
         WHERE NOT EXISTS (SELECT 1 FROM edge_routes r WHERE r.listen_port = p AND r.instance_id <> $1)
         ORDER BY p LIMIT 1)
     ) AS port`,
    [instanceId, range.from, range.to],
  );
  const port = rows[0]?.port;
  if (port === null || port === undefined) {
    throw new UnavailableError(
      `All edge ports ${range.from}-${range.to} are taken; widen edge.portRange in the configuration.`,
    );
  }
  return port;
}

async function inTransaction<T>(
  db: Database | pg.PoolClient,
  work: (tx: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return 'transaction' in db ? db.transaction(work) : work(db);
}

/**
 * Creates or updates the route of an instance (idempotent: an unchanged route is not rewritten, so a driver's
 * repeated `apply` causes no churn at the edges). Pass the Database, or a client inside your own transaction.
 * Throws ValidationError for malformed input, ConflictError when another instance holds the host name or the
 * requested port, UnavailableError when the port range is exhausted.
 */
export async function upsertEdgeRoute(
  db: Database | pg.PoolClient,
  route: EdgeRouteInput,
  options: { portRange: PortRange },
): Promise<EdgeRoute> {
  validate(route);
  return inTransaction(db, async (tx) => {
    const listenPort = route.listenPort ?? (await allocateEdgePort(tx, route.instanceId, options.portRange));
    try {
      await tx.query(
        `INSERT INTO edge_routes
           (instance_id, hostname, listen_port, upstream_host, upstream_port, trusted_sources, admin_sources,
            custom_hostname)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
         ON CONFLICT (instance_id) DO UPDATE SET
           hostname = EXCLUDED.hostname, listen_port = EXCLUDED.listen_port,
           upstream_host = EXCLUDED.upstream_host, upstream_port = EXCLUDED.upstream_port,
           trusted_sources = EXCLUDED.trusted_sources, admin_sources = EXCLUDED.admin_sources,
           custom_hostname = EXCLUDED.custom_hostname,
           version = nextval('edge_route_version_seq'), updated_at = now()
         WHERE (edge_routes.hostname, edge_routes.listen_port, edge_routes.upstream_host, edge_routes.upstream_port,
                edge_routes.trusted_sources, edge_routes.admin_sources, edge_routes.custom_hostname)
           IS DISTINCT FROM (EXCLUDED.hostname, EXCLUDED.listen_port, EXCLUDED.upstream_host,
                EXCLUDED.upstream_port, EXCLUDED.trusted_sources, EXCLUDED.admin_sources, EXCLUDED.custom_hostname)`,
        [
          route.instanceId,
          route.hostname,
          listenPort,
          route.upstreamHost,
          route.upstreamPort,
          JSON.stringify(route.trustedSources),
          JSON.stringify(route.adminSources),
          route.customHostname ?? null,
        ],
      );
      // Read back with its custom domain's certificate (the row is unchanged when the WHERE above skipped it).
      const stored = await getEdgeRoute(tx, route.instanceId);
      if (!stored) throw new Error(`The edge route of ${route.instanceId} vanished during its upsert.`);
      return stored;
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code !== '23505') throw error;
      if (constraint === 'edge_routes_custom_hostname') {
        throw new ConflictError(`The host name ${route.customHostname} already belongs to another instance.`);
      }
      if (constraint === 'edge_routes_hostname_key') {
        throw new ConflictError(`The host name ${route.hostname} already belongs to another instance.`);
      }
      if (constraint === 'edge_routes_listen_port_key') {
        throw new ConflictError(`The edge port ${listenPort} already belongs to another instance.`);
      }
      throw error;
    }
  });
}

/** The Database (its pool is used) or anything that runs a query, e.g. a client inside a transaction. */
export type EdgeRouteDb = Database | Queryable;
const queryable = (db: EdgeRouteDb): Queryable => ('transaction' in db ? db.pool : db);

/** Removes the route; the edges close its listener. Safe to repeat: false when none existed. */
export async function deleteEdgeRoute(db: EdgeRouteDb, instanceId: string): Promise<boolean> {
  const { rowCount } = await queryable(db).query('DELETE FROM edge_routes WHERE instance_id = $1', [
    instanceId,
  ]);
  return (rowCount ?? 0) > 0;
}

export async function getEdgeRoute(db: EdgeRouteDb, instanceId: string): Promise<EdgeRoute | undefined> {
  const { rows } = await queryable(db).query<EdgeRouteRow>(`${SELECT_ROUTES} WHERE r.instance_id = $1`, [
    instanceId,
  ]);
  return rows[0] ? toRoute(rows[0]) : undefined;
}

export async function listEdgeRoutes(db: EdgeRouteDb | Pick<pg.ClientBase, 'query'>): Promise<EdgeRoute[]> {
  const { rows } = await ('transaction' in db ? db.pool : db).query<EdgeRouteRow>(
    `${SELECT_ROUTES} ORDER BY r.listen_port`,
  );
  return rows.map(toRoute);
}
