import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import {
  INSTANCE_LABEL,
  prometheusFiles,
  renderPrometheusConfig,
  renderTargets,
  writeIfChanged,
  type ScrapeTarget,
} from './prometheus-files.js';
import { ensurePrometheus, findPrometheus, type PrometheusSettings } from './prometheus-process.js';

/**
 * The metrics side of a worker: keeps Prometheus's file-based discovery in step with the instances this process
 * runs, serves Keyhouse's exporter (the instances' database sizes) on loopback, and, unless the provider's
 * Prometheus is configured, runs the embedded Prometheus like the embedded PostgreSQL: detached, adopted after a
 * restart, started again when it died.
 */
export type MetricsSources = {
  /** Every instance's Keycloak management interface to scrape. */
  targets(): Promise<ScrapeTarget[]>;
  /** Every instance's database size. */
  databaseSizes(): Promise<{ instanceId: string; bytes: number }[]>;
};

export type MetricsRole = { stop(): Promise<void> };

/** The exporter's text (Prometheus exposition format). */
export function renderExporter(sizes: { instanceId: string; bytes: number }[]): string {
  return [
    "# HELP keyhouse_instance_database_bytes Size of the instance's PostgreSQL database.",
    '# TYPE keyhouse_instance_database_bytes gauge',
    ...sizes.map((s) => `keyhouse_instance_database_bytes{${INSTANCE_LABEL}="${s.instanceId}"} ${s.bytes}`),
    '',
  ].join('\n');
}

export async function startMetricsRole(options: {
  config: Config;
  sources: MetricsSources;
  logger: Logger;
  /** How often the targets file is refreshed and the embedded Prometheus checked. */
  intervalMs?: number;
}): Promise<MetricsRole> {
  const { config, sources } = options;
  const logger = options.logger.child({ component: 'metrics' });
  const files = prometheusFiles(config.dataDir);
  const embedded = config.metrics.prometheusUrl === null;
  const settings: PrometheusSettings = {
    binary: config.metrics.prometheus.binary,
    port: config.metrics.prometheus.port,
    retentionDays: config.metrics.prometheus.retentionDays,
    files,
  };
  if (embedded && !existsSync(settings.binary))
    throw new Error(
      `Prometheus is not installed at ${settings.binary} (Debian: apt-get install prometheus); ` +
        `or set metrics.prometheusUrl to the provider's Prometheus.`,
    );

  const refreshTargets = async () => {
    if (writeIfChanged(files.targets, renderTargets(await sources.targets())))
      logger.info({ file: files.targets }, 'scrape targets updated');
  };
  await refreshTargets();

  const exporter: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    sources.databaseSizes().then(
      (sizes) =>
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderExporter(sizes)),
      (error: unknown) => {
        logger.warn({ err: error }, 'measuring database sizes failed');
        response.writeHead(503).end();
      },
    );
  });
  exporter.listen(config.metrics.exporterPort, '127.0.0.1');
  await Promise.race([
    once(exporter, 'listening'),
    once(exporter, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);

  if (embedded) {
    const configChanged = writeIfChanged(
      files.config,
      renderPrometheusConfig({
        files,
        scrapeIntervalSeconds: config.metrics.prometheus.scrapeIntervalSeconds,
        exporterPort: config.metrics.exporterPort,
      }),
    );
    const outcome = await ensurePrometheus(settings);
    // An adopted Prometheus reads a changed configuration on SIGHUP.
    if (outcome === 'adopted' && configChanged)
      findPrometheus(files).forEach((p) => process.kill(p.pid, 'SIGHUP'));
    logger.info({ outcome, port: settings.port }, 'Prometheus runs');
  }

  let working: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    working = (async () => {
      await refreshTargets();
      if (embedded && findPrometheus(files).length === 0) {
        logger.warn('Prometheus was not running: starting it again');
        await ensurePrometheus(settings);
      }
    })().catch((error: unknown) => logger.warn({ err: error }, 'keeping metrics going failed'));
  }, options.intervalMs ?? 15_000);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await working;
      exporter.close();
      // Prometheus keeps running, like the instances it scrapes; the next start adopts it.
    },
  };
}
