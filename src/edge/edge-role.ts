import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { startEdgeGateway, type EdgeGateway } from './edge-gateway.js';
import { openLocalCa, type LocalCa } from './local-ca.js';

/**
 * The `edge` role: the trusted-source gateway in front of every instance. It needs only the database URL (the route
 * table and its notifications) and the CA of the data dir; it runs in the same process as the other roles by
 * default, or alone, and keeps serving while the API or the workers restart. The schema (migration 002) must exist:
 * until it does, the edge retries its sync and serves nothing.
 */
export async function runEdgeRole(options: {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  /** The CA already opened by the API in the same process; otherwise <dataDir>/ca is opened (or created). */
  ca?: LocalCa;
}): Promise<EdgeGateway> {
  const { config } = options;
  const logger = options.logger.child({ role: 'edge' });
  const ca = options.ca ?? (await openLocalCa(path.join(config.dataDir, 'ca')));
  const gateway = await startEdgeGateway({ databaseUrl: options.databaseUrl, edge: config.edge, ca, logger });
  logger.info(
    { listenHost: config.edge.listenHost, routes: gateway.status().routes.length },
    'edge role started: refusing every source outside an instance\u2019s trusted sources before TLS',
  );
  return gateway;
}
