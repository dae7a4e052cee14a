import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { packageRoot } from '../platform/package-root.js';
import { createSecretBox, type SecretBox } from '../platform/secret-box.js';
import { startEdge, type Edge } from './edge-controller.js';
import { openLocalCa, type LocalCa } from './local-ca.js';

/**
 * The `edge` role: runs HAProxy in front of every instance of this host and keeps it in step with the route table.
 * It needs the database URL (routes and their notifications), the CA of the data dir and HAProxy. It runs in the
 * same process as the other roles by default, or alone; HAProxy itself is a process of its own that keeps serving
 * while any Keyhouse process restarts. The schema (migrations 002, 009) must exist: until it does, the edge retries
 * its sync and serves what it had.
 */
export async function runEdgeRole(options: {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  /** The CA already opened by the API in the same process; otherwise <dataDir>/ca is opened (or created). */
  ca?: LocalCa;
  onReload?: () => void;
  /** Opens custom domains' sealed keys; by default the secret box of the configuration (secretKey or data dir). */
  secretBox?: SecretBox;
}): Promise<Edge> {
  const { config } = options;
  const logger = options.logger.child({ role: 'edge' });
  const ca = options.ca ?? (await openLocalCa(path.join(config.dataDir, 'ca')));
  const secretBox =
    options.secretBox ?? createSecretBox({ secretKey: config.secretKey, dataDir: config.dataDir });
  const edge = await startEdge({
    databaseUrl: options.databaseUrl,
    dataDir: config.dataDir,
    edge: config.edge,
    ca,
    openSealed: (sealed) => secretBox.open(sealed),
    logger,
    keyhouseVersion: keyhouseVersion(),
    onReload: options.onReload,
  });
  logger.info(
    { listenHost: config.edge.listenHost, routes: edge.status().routes.length },
    'edge role started: HAProxy refuses every source outside an instance\u2019s trusted sources before TLS',
  );
  return edge;
}

function keyhouseVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}
