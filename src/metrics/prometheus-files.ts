import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { isNotFound } from '../platform/errno.js';

/**
 * The files of the Prometheus that scrapes the instances, in `<dataDir>/prometheus/`: `prometheus.yml`, the
 * file-based service discovery (`targets/keycloak.json`, one target per instance's management port, labelled
 * with the instance's id) and the TSDB in `data/`. Only Keyhouse writes them; Prometheus re-reads the targets when
 * they change, and the configuration on SIGHUP.
 */

/** The label that names an instance on every series of its Keycloak (and of Keyhouse's exporter). */
export const INSTANCE_LABEL = 'keyhouse_instance';

export type PrometheusFiles = { dir: string; config: string; targets: string; data: string; log: string };

export function prometheusFiles(dataDir: string): PrometheusFiles {
  const dir = path.resolve(dataDir, 'prometheus');
  return {
    dir,
    config: path.join(dir, 'prometheus.yml'),
    targets: path.join(dir, 'targets', 'keycloak.json'),
    data: path.join(dir, 'data'),
    log: path.join(dir, 'prometheus.log'),
  };
}

/** A scrape target: an instance's Keycloak management interface on this host. */
export type ScrapeTarget = { instanceId: string; host: string; port: number };

/** prometheus.yml: Keycloak's /metrics of every discovered instance, and Keyhouse's exporter. */
export function renderPrometheusConfig(options: {
  files: PrometheusFiles;
  scrapeIntervalSeconds: number;
  exporterPort: number;
}): string {
  const interval = `${options.scrapeIntervalSeconds}s`;
  return (
    '# Written by Keyhouse at start-up; local changes are overwritten.\n' +
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      scrape_configs: [
        {
          job_name: 'keycloak',
          metrics_path: '/metrics',
          file_sd_configs: [{ files: [path.join(path.dirname(options.files.targets), '*.json')] }],
        },
        {
          job_name: 'keyhouse',
          metrics_path: '/metrics',
          static_configs: [{ targets: [`127.0.0.1:${options.exporterPort}`] }],
        },
      ],
    })
  );
}

/** The file_sd document for these targets. */
export function renderTargets(targets: readonly ScrapeTarget[]): string {
  const sorted = [...targets].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  return `${JSON.stringify(
    sorted.map((t) => ({ targets: [`${t.host}:${t.port}`], labels: { [INSTANCE_LABEL]: t.instanceId } })),
    null,
    2,
  )}\n`;
}

/** Writes `text` to `file` whole (write, then rename) unless it already holds it; answers whether it changed. */
export function writeIfChanged(file: string, text: string): boolean {
  try {
    if (readFileSync(file, 'utf8') === text) return false;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
  return true;
}
