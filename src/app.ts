import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAccountService } from './accounts/account-service.js';
import type { Config } from './config/config-schema.js';
import { connectDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { openLocalCa, type LocalCa } from './edge/local-ca.js';
import { createBillingProfileService } from './billing/billing-profile-service.js';
import { accountRoutes } from './http/routes/account-routes.js';
import { billingProfileRoutes } from './http/routes/billing-profile-routes.js';
import { catalogRoutes } from './http/routes/catalog-routes.js';
import { edgeRoutes } from './http/routes/edge-routes.js';
import { orderRoutes } from './http/routes/order-routes.js';
import { portalRoutes } from './http/routes/portal-routes.js';
import { ticketRoutes } from './http/routes/ticket-routes.js';
import { createOrderService } from './orders/order-service.js';
import { createTicketService } from './support/ticket-service.js';
import { buildHttpServer } from './http/server.js';

/**
 * The composition root: every service is created here, from the configuration and the database, and handed to the
 * adapters. Nothing else wires dependencies.
 */
export type Keyhouse = {
  config: Config;
  db: Database;
  http: FastifyInstance;
  /** The local CA of <dataDir>/ca; the edge role issues instance certificates from the same one. */
  ca: LocalCa;
  close(): Promise<void>;
};

export async function createKeyhouse(options: {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  /** The clock of every service; tests inject one to move time without sleeping. */
  now?: () => Date;
}): Promise<Keyhouse> {
  const { config, logger } = options;
  const now = options.now ?? (() => new Date());
  const db = connectDatabase(options.databaseUrl);
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ migrations: applied }, 'database migrated');

    const accounts = createAccountService({ db, now });
    const billingProfiles = createBillingProfileService({ db });
    const orders = createOrderService({
      db,
      catalog: config.catalog,
      onOrderAccepted: async () => undefined,
    });
    const tickets = createTicketService({ db });
    const ca = await openLocalCa(path.join(config.dataDir, 'ca'));
    const http = await buildHttpServer({
      logger,
      trustProxy: config.server.trustProxy,
      authenticator: accounts,
      routes: [
        accountRoutes(accounts),
        catalogRoutes(config.catalog),
        billingProfileRoutes(billingProfiles),
        orderRoutes(orders, config.catalog),
        ticketRoutes(tickets),
        edgeRoutes(ca),
        // Last: the portal answers every other GET outside /api with its index.html.
        portalRoutes(),
      ],
      isReady: async () => (await db.pool.query('SELECT 1')).rowCount === 1,
    });
    return {
      config,
      db,
      http,
      ca,
      async close() {
        await http.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
