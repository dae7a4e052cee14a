import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAccountSecurityService } from './accounts/account-security-service.js';
import { createAccountService } from './accounts/account-service.js';
import { createMemberService } from './accounts/member-service.js';
import { createPasswordResetService } from './accounts/password-reset-service.js';
import { createTwoFactorService } from './accounts/two-factor-service.js';
import { createAuditService } from './audit/audit-service.js';
import { startBackupScheduler, type BackupScheduler } from './backups/backup-scheduler.js';
import { createBackupService } from './backups/backup-service.js';
import { createBillingProfileService } from './billing/billing-profile-service.js';
import { createUsageService } from './billing/usage-service.js';
import type { Config } from './config/config-schema.js';
import { connectDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { createAcmeCertificates } from './domains/acme-certificates.js';
import { startCertificateJobs, type CertificateJobs } from './domains/certificate-jobs.js';
import { createDomainService } from './domains/domain-service.js';
import { createDriverRegistry } from './drivers/driver-registry.js';
import { startKubernetesBackend } from './drivers/kubernetes/kubernetes-backend.js';
import { startLocalBackend, type LocalBackend } from './drivers/local/local-backend.js';
import type { LocalDriverTestFaults } from './drivers/local/local-driver.js';
import type { Edge } from './edge/edge-controller.js';
import { runEdgeRole } from './edge/edge-role.js';
import { openLocalCa, type LocalCa } from './edge/local-ca.js';
import { accountRoutes } from './http/routes/account-routes.js';
import { accountSecurityRoutes } from './http/routes/account-security-routes.js';
import { auditRoutes } from './http/routes/audit-routes.js';
import { backupRoutes } from './http/routes/backup-routes.js';
import { billingProfileRoutes } from './http/routes/billing-profile-routes.js';
import { catalogRoutes } from './http/routes/catalog-routes.js';
import { docsRoutes } from './http/routes/docs-routes.js';
import { domainRoutes } from './http/routes/domain-routes.js';
import { edgeRoutes } from './http/routes/edge-routes.js';
import { instanceLogRoutes } from './http/routes/instance-log-routes.js';
import { instanceMetricsRoutes } from './http/routes/instance-metrics-routes.js';
import { instanceRoutes } from './http/routes/instance-routes.js';
import { metricsRoutes } from './http/routes/metrics-routes.js';
import { operatorRoutes } from './http/routes/operator-routes.js';
import { orderEventRoutes } from './http/routes/order-event-routes.js';
import { orderRoutes } from './http/routes/order-routes.js';
import { osbRoutes } from './http/routes/osb-routes.js';
import { portalRoutes } from './http/routes/portal-routes.js';
import { themeRoutes } from './http/routes/theme-routes.js';
import { ticketRoutes } from './http/routes/ticket-routes.js';
import { usageRoutes } from './http/routes/usage-routes.js';
import { buildHttpServer } from './http/server.js';
import { createInstanceLogService } from './instances/instance-log-service.js';
import { createInstanceService } from './instances/instance-service.js';
import { createInstanceMetricsService } from './metrics/instance-metrics-service.js';
import { startMetricsRole } from './metrics/metrics-role.js';
import { startMailSender, type MailSender, type MailTestFaults } from './mail/mail-sender.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { createInstanceLogSources } from './drivers/instance-logs.js';
import { createOperator, createOperatorService } from './operators/operator-service.js';
import { createOrderEventHub } from './orders/order-event-hub.js';
import { createOrderService } from './orders/order-service.js';
import { createInstanceOidcClients } from './osb/instance-oidc-clients.js';
import { osbCatalog } from './osb/osb-schemas.js';
import { startDeprovisionSweep } from './osb/osb-deprovisioning.js';
import { createOsbService } from './osb/osb-service.js';
import { UnavailableError } from './platform/errors.js';
import { createSecretBox } from './platform/secret-box.js';
import { startProvisioningQueue } from './provisioning/provisioning-worker.js';
import { startWorkerRole, type WorkerRole } from './provisioning/worker-role.js';
import { startWarmPoolRefiller, type WarmPoolRefiller } from './warm-pool/warm-pool-refiller.js';
import { createTicketService } from './support/ticket-service.js';
import { createThemeService } from './themes/theme-service.js';

/**
 * The composition root: every service is created here, from the configuration and the database, and handed to the
 * adapters. Nothing else wires dependencies. Which roles run in this process comes from `config.roles`.
 */
export type Keyhouse = {
  config: Config;
  db: Database;
  http: FastifyInstance;
  /** The local CA of <dataDir>/ca; the edge role issues instance certificates from the same one. */
  ca: LocalCa;
  /** The edge role's control of HAProxy (HAProxy itself outlives close()). */
  edge: Edge | undefined;
  worker: WorkerRole | undefined;
  /** The backend of the `local` regions, when this process is a worker and the configuration has one. */
  localBackend: LocalBackend | undefined;
  /** The outbox's sender, where an SMTP server is configured (API and worker processes). */
  mail: MailSender | undefined;
  metrics: Metrics;
  /** The backup planner where a worker runs; tests call its `tick` with their clock. */
  backupScheduler: BackupScheduler | undefined;
  /** The warm pool's refiller where a worker runs (idle without a configured pool). */
  warmPool: WarmPoolRefiller | undefined;
  /** Custom domains' certificate jobs (ACME, renewal, expiry warnings); tests call its `tick` with their clock. */
  certificateJobs: CertificateJobs | undefined;
  close(): Promise<void>;
};

export async function createKeyhouse(options: {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  /** Superuser URL of the server for instance databases and roles; default `databaseUrl`. */
  adminDatabaseUrl?: string;
  /** The clock of every service; tests inject one to move time without sleeping. */
  now?: () => Date;
  /** Tests share one built Keycloak distribution across runs. */
  distributionCacheDir?: string;
  /** Only tests: faults the local driver injects to reach failure paths (see LocalDriverOptions.testFaults). */
  localDriverTestFaults?: LocalDriverTestFaults;
  /** Only tests: a shorter poll and upgrade deadline for the Kubernetes driver. */
  kubernetesDriverOptions?: { pollSeconds?: number; upgradeReadyTimeoutMs?: number };
  /** Only tests: a shorter first retry of the mail sender, and faults it injects. */
  mail?: {
    retryBaseMs?: number;
    dispatchIntervalMs?: number;
    sendingLeaseSeconds?: number;
    testFaults?: MailTestFaults;
  };
  /** Tests that drive the backup planner with their own clock turn its every-minute schedule off. */
  backupSchedule?: boolean;
  /** Likewise the custom domains' certificate planner. */
  certificateSchedule?: boolean;
}): Promise<Keyhouse> {
  const { config, logger, databaseUrl } = options;
  const roles = new Set(config.roles);
  const now = options.now ?? (() => new Date());
  const db = connectDatabase(databaseUrl);
  const closers: (() => Promise<void>)[] = [() => db.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ migrations: applied }, 'database migrated');

    const secretBox = createSecretBox({ secretKey: config.secretKey, dataDir: config.dataDir });
    const ca = await openLocalCa(path.join(config.dataDir, 'ca'));

    let worker: WorkerRole | undefined;
    let localBackend: LocalBackend | undefined;
    let warmPool: WarmPoolRefiller | undefined;
    // Filled below with the backends this process runs; the worker provisions through it, the API reads logs.
    const driversByKey: Parameters<typeof createDriverRegistry>[0] = {};
    const drivers = createDriverRegistry(driversByKey);
    if (roles.has('worker')) {
      // The backends that the regions' `driver` keys name, each started with its own background work, and their
      // drivers in the registry the worker provisions through. A second backend plugs in here (src/drivers/driver.ts).
      if (config.catalog.regions.some((region) => region.driver === 'local')) {
        localBackend = await startLocalBackend({
          config,
          db,
          adminDatabaseUrl: options.adminDatabaseUrl ?? databaseUrl,
          secretBox,
          ca,
          logger,
          distributionCacheDir: options.distributionCacheDir,
          testFaults: options.localDriverTestFaults,
        });
        closers.push(() => localBackend!.stop());
        driversByKey.local = localBackend.driver;
        const metrics = await startMetricsRole({ config, sources: localBackend.metricsSources, logger });
        closers.push(() => metrics.stop());
      }
      if (config.catalog.regions.some((region) => region.driver === 'kubernetes')) {
        const kubernetesBackend = startKubernetesBackend({
          config,
          db,
          secretBox,
          ca,
          logger,
          driverOptions: options.kubernetesDriverOptions,
        });
        closers.push(() => kubernetesBackend.stop());
        driversByKey.kubernetes = kubernetesBackend.driver;
      }
      worker = startWorkerRole({ catalog: config.catalog, db, drivers, secretBox, logger, now });
      // Regions with a warm pool keep it filled in the background (src/warm-pool).
      warmPool = startWarmPoolRefiller({ db, catalog: config.catalog, drivers, secretBox, logger });
      closers.push(() => warmPool!.stop());
    }
    const queue = await startProvisioningQueue({
      databaseUrl,
      db,
      catalog: config.catalog,
      logger,
      reconciler: worker?.reconciler,
    });
    closers.push(() => queue.stop());

    const metrics = createMetrics({ db, catalog: config.catalog });
    let edge: Edge | undefined;
    if (roles.has('edge')) {
      edge = await runEdgeRole({
        config,
        databaseUrl,
        logger,
        ca,
        secretBox,
        onReload: metrics.recordEdgeReload,
      });
      closers.push(() => edge!.close());
    }

    const twoFactor = createTwoFactorService({ db, secretBox, now });
    const accounts = createAccountService({ db, now, twoFactor, secretBox });
    const passwordResets = createPasswordResetService({ db, secretBox, now });
    const members = createMemberService({ db, now });
    const accountSecurity = createAccountSecurityService({ db, now, twoFactor });
    const billingProfiles = createBillingProfileService({ db });
    const orders = createOrderService({ db, catalog: config.catalog, jobs: queue });

    // Backups: schedules and jobs where a worker runs; the API reads and downloads through the same drivers.
    let backupScheduler: BackupScheduler | undefined;
    if (worker) {
      backupScheduler = await startBackupScheduler({
        databaseUrl,
        db,
        catalog: config.catalog,
        logger,
        now,
        runner: worker.backups,
        placeMaintenanceUpgrade: orders.placeMaintenanceUpgrade,
        schedule: options.backupSchedule !== false,
      });
      closers.push(() => backupScheduler!.stop());
    }
    const instances = createInstanceService({ db, secretBox });
    const instanceLogs = createInstanceLogService({
      db,
      catalog: config.catalog,
      logSources: createInstanceLogSources(config),
      secretBox,
      now,
    });
    const instanceMetrics = createInstanceMetricsService({
      db,
      prometheusUrl: config.metrics.prometheusUrl ?? `http://127.0.0.1:${config.metrics.prometheus.port}/`,
      now,
    });
    const themes = createThemeService({ db });
    // ACME certificates: the API queues an attempt when DNS is verified; a worker obtains, renews and serves them.
    let certificateJobs: CertificateJobs | undefined;
    if (roles.has('api') || worker) {
      certificateJobs = await startCertificateJobs({
        databaseUrl,
        logger,
        certificates:
          worker &&
          createAcmeCertificates({
            db,
            config,
            secretBox,
            now,
            logger,
            placeCustomDomainOrder: (domain) =>
              orders.placeSystemChange(
                { id: domain.instanceId, organizationId: domain.organizationId },
                { type: 'custom-domain', hostname: domain.hostname },
                { requestId: `acme:${domain.instanceId}` },
              ),
          }),
        schedule: options.certificateSchedule !== false,
      });
      closers.push(() => certificateJobs!.stop());
    }
    const domains = createDomainService({
      db,
      config,
      secretBox,
      now,
      placeChangeOrder: orders.placeChangeOrder,
      requestCertificate: async (instanceId) => {
        if (!certificateJobs) throw new UnavailableError('This Keyhouse process queues no certificate jobs.');
        await certificateJobs.request(instanceId);
      },
    });
    const tickets = createTicketService({ db, now });
    const operators = createOperatorService({
      db,
      catalog: config.catalog,
      now,
      passwordResets,
      instanceLogTail: instanceLogs.tail,
      jobs: queue,
    });
    if (roles.has('api')) {
      const system = {
        principal: undefined,
        label: 'system',
        requestId: 'start-up',
        sourceAddress: 'keyhouse',
      };
      for (const operator of config.operators) {
        const outcome = await createOperator({ db, now, passwordResets }, operator, system);
        if (outcome === 'created')
          logger.info({ email: operator.email }, 'operator created from the configuration');
      }
    }

    let mail: MailSender | undefined;
    if (config.mail.smtpUrl && (roles.has('api') || roles.has('worker'))) {
      mail = await startMailSender({
        databaseUrl,
        db,
        smtpUrl: config.mail.smtpUrl,
        from: config.mail.from,
        portalUrl: config.portal.publicUrl,
        secretBox,
        logger,
        ...options.mail,
      });
      closers.push(() => mail!.stop());
    } else if (!config.mail.smtpUrl) {
      logger.warn('no SMTP server configured (mail.smtpUrl): e-mails wait in the outbox');
    }
    const backups = createBackupService({
      db,
      catalog: config.catalog,
      now,
      secretBox,
      readBackup:
        worker &&
        (async (instance, location) => {
          const region = config.catalog.regions.find((r) => r.id === instance.spec.region);
          const driver = region && worker!.drivers.forRegion(region);
          if (!driver)
            throw new UnavailableError('Backups of this region cannot be read by this Keyhouse process.');
          return driver.readBackup(
            { instanceId: instance.id, name: instance.name, region: instance.spec.region },
            location,
          );
        }),
    });
    const usage = createUsageService({ db, catalog: config.catalog, now });
    const audit = createAuditService({ db });
    const orderEvents = createOrderEventHub({ databaseUrl, logger });
    closers.push(() => orderEvents.close());

    // The Open Service Broker API is on only when its credentials are configured.
    const { username: osbUsername, password: osbPassword } = config.osb;
    const osb =
      roles.has('api') && osbUsername && osbPassword
        ? createOsbService({
            db,
            catalog: config.catalog,
            defaultBillingProfile: config.osb.defaultBillingProfile,
            orders,
            oidcClients: createInstanceOidcClients({ db, secretBox, caPem: ca.certificatePem }),
            secretBox,
            logger,
            now,
          })
        : undefined;
    if (osb) closers.push(startDeprovisionSweep(osb, logger));

    const http = await buildHttpServer({
      logger,
      trustProxy: config.server.trustProxy,
      authenticator: accounts,
      routes: roles.has('api')
        ? [
            accountRoutes(accounts),
            accountSecurityRoutes({ accounts, passwordResets, members, security: accountSecurity }),
            operatorRoutes(operators, tickets),
            metricsRoutes(metrics),
            catalogRoutes(config.catalog),
            billingProfileRoutes(billingProfiles),
            orderRoutes(orders, config.catalog),
            orderEventRoutes(orders, orderEvents),
            instanceRoutes(instances),
            instanceLogRoutes(instanceLogs),
            instanceMetricsRoutes(instanceMetrics),
            themeRoutes(themes),
            domainRoutes(domains),
            backupRoutes(backups),
            ticketRoutes(tickets),
            usageRoutes(usage),
            auditRoutes(audit),
            edgeRoutes(ca),
            docsRoutes(),
            ...(osb
              ? [
                  osbRoutes({
                    credentials: { username: osbUsername!, password: osbPassword! },
                    osb,
                    catalog: osbCatalog(config.catalog),
                  }),
                ]
              : []),
            // Last: the portal answers every other GET outside /api with its index.html.
            portalRoutes(),
          ]
        : [],
      isReady: async () => (await db.pool.query('SELECT 1')).rowCount === 1,
    });
    closers.push(() => http.close());
    return {
      config,
      db,
      http,
      ca,
      edge,
      worker,
      localBackend,
      backupScheduler,
      warmPool,
      certificateJobs,
      mail,
      metrics,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
