import path from 'node:path';
import { createKeyhouse } from './app.js';
import { ConfigError, loadConfig } from './config/load-config.js';
import { startEmbeddedPostgres } from './db/embedded-postgres.js';
import { requireHaproxy } from './edge/haproxy-binary.js';
import { lockDataDir } from './platform/data-dir-lock.js';
import { createLogger } from './platform/logger.js';

async function main() {
  const config = loadConfig(process.env);
  // Before anything starts: a host without HAProxy fails now, with what to install.
  if (config.roles.includes('edge')) requireHaproxy(config.edge.haproxy);
  const logger = createLogger();
  const lock = lockDataDir(config.dataDir);

  let databaseUrl = config.database.url;
  let adminDatabaseUrl = databaseUrl ?? undefined;
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres({
      directory: path.join(config.dataDir, 'postgres'),
      port: config.database.embeddedPort,
      logFile: path.join(config.dataDir, 'logs', 'postgres.log'),
    });
    if (embedded.portChoice?.reason === 'configured-port-taken') {
      logger.warn(
        { port: embedded.port, configuredPort: embedded.portChoice.configured },
        `embedded PostgreSQL: port ${embedded.portChoice.configured} is taken (another Keyhouse or program); ` +
          `listening on 127.0.0.1:${embedded.port} instead, and again on the next start while the configured ` +
          'port stays taken',
      );
    } else if (embedded.portChoice?.reason === 'adopted-running-server') {
      logger.info(
        { port: embedded.port, configuredPort: embedded.portChoice.configured },
        `embedded PostgreSQL: adopted the running server on 127.0.0.1:${embedded.port}`,
      );
    }
    logger.info({ port: embedded.port }, 'embedded PostgreSQL ready');
    databaseUrl = embedded.url('keyhouse');
    adminDatabaseUrl = embedded.url('postgres');
  }

  const keyhouse = await createKeyhouse({ config, databaseUrl, logger, adminDatabaseUrl });
  const address = await keyhouse.http.listen({ host: config.server.host, port: config.server.port });
  logger.info({ address, dataDir: config.dataDir }, 'Keyhouse is listening');

  const shutdown = async (signal: string) => {
    logger.info(
      { signal },
      'shutting down; the embedded PostgreSQL, HAProxy and the Keycloak instances keep running',
    );
    await keyhouse.close();
    lock.release();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
