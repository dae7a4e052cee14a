import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createInstanceMetricsService } from '../../src/metrics/instance-metrics-service.js';
import { startMetricsRole, type MetricsRole } from '../../src/metrics/metrics-role.js';
import { prometheusFiles } from '../../src/metrics/prometheus-files.js';
import { findPrometheus, stopPrometheus } from '../../src/metrics/prometheus-process.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort } from '../support/edge-probes.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { until } from '../support/until.js';
import { signUp, type SignedInUser } from '../support/accounts.js';
import { exampleOrder } from '../support/orders.js';

// The embedded Prometheus for real (Debian's /usr/bin/prometheus), without a Keycloak: the targets file names
// Keyhouse's own exporter as an instance's target, so discovery, scraping, adoption after a restart and the
// restart of a dead Prometheus are all real. The Keycloak series are the provisioning tests' business.

let instanceId = '';
let dataDir: string;
let config: Config;
let role: MetricsRole | undefined;
let keyhouse: TestKeyhouse;
let owner: SignedInUser;

async function promQuery(
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = new URL(`http://127.0.0.1:${config.metrics.prometheus.port}/api/v1/query`);
  url.searchParams.set('query', query);
  const answer = (await (await fetch(url)).json()) as { data: { result: [] } };
  return answer.data.result;
}

const start = () =>
  startMetricsRole({
    config,
    logger: createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' }),
    intervalMs: 300,
    sources: {
      targets: async () => [{ instanceId, host: '127.0.0.1', port: config.metrics.exporterPort }],
      databaseSizes: async () => [{ instanceId, bytes: 12_345_678 }],
    },
  });

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-metrics-'));
  config = loadConfig({ DATA_DIR: dataDir });
  config.metrics.prometheus.port = await freePort();
  config.metrics.exporterPort = await freePort();
  config.metrics.prometheus.scrapeIntervalSeconds = 1;
  // An API-only Keyhouse that reads this Prometheus, with one instance (ordered, never provisioned).
  keyhouse = await startTestKeyhouse((c) => {
    c.metrics.prometheusUrl = `http://127.0.0.1:${config.metrics.prometheus.port}/`;
  });
  owner = await signUp(keyhouse);
  const placed = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/orders',
    headers: owner.sessionHeaders,
    payload: exampleOrder(keyhouse.config),
  });
  expect(placed.statusCode).toBe(201);
  instanceId = placed.json<{ instanceId: string }>().instanceId;
});
afterAll(async () => {
  await keyhouse?.stop();
  await role?.stop();
  await stopPrometheus(prometheusFiles(dataDir));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the embedded Prometheus', () => {
  it('starts detached, discovers the targets file and scrapes the exporter', async () => {
    role = await start();
    const [prometheus] = findPrometheus(prometheusFiles(dataDir));
    expect(prometheus).toBeDefined();
    expect(prometheus!.argv).toContain(`--web.listen-address=127.0.0.1:${config.metrics.prometheus.port}`);
    const targets = JSON.parse(readFileSync(prometheusFiles(dataDir).targets, 'utf8')) as object[];
    expect(targets).toEqual([
      { targets: [`127.0.0.1:${config.metrics.exporterPort}`], labels: { keyhouse_instance: instanceId } },
    ]);
    const up = await until('the discovered target to be scraped', async () => {
      const result = await promQuery(`up{keyhouse_instance="${instanceId}"}`);
      return result[0]?.value[1] === '1' ? result : undefined;
    });
    expect(up[0]!.metric.job).toBe('keycloak');
    const size = await until('the database size', async () => {
      const result = await promQuery(`keyhouse_instance_database_bytes{keyhouse_instance="${instanceId}"}`);
      return result[0]?.value[1];
    });
    expect(Number(size)).toBe(12_345_678);
  });

  it('is adopted by the next start, and started again when it died', async () => {
    const before = findPrometheus(prometheusFiles(dataDir)).map((p) => p.pid);
    await role!.stop();
    role = undefined;
    // Keyhouse stopped: Prometheus goes on.
    expect(findPrometheus(prometheusFiles(dataDir)).map((p) => p.pid)).toEqual(before);
    role = await start();
    expect(findPrometheus(prometheusFiles(dataDir)).map((p) => p.pid)).toEqual(before);

    process.kill(before[0]!, 'SIGKILL');
    const after = await until('a new Prometheus', async () => {
      const pids = findPrometheus(prometheusFiles(dataDir)).map((p) => p.pid);
      return pids.length === 1 && pids[0] !== before[0] ? pids : undefined;
    });
    expect(after).toHaveLength(1);
    // Its TSDB survived: the size scraped before the kill is still there.
    await until('the restarted Prometheus to answer', async () =>
      (await promQuery('keyhouse_instance_database_bytes').catch(() => [])).length ? true : undefined,
    );
  });
});

describe("the API's metrics of an instance", () => {
  it('answers the series of its own instance and 404 for another organisation', async () => {
    const service = createInstanceMetricsService({
      db: keyhouse.db,
      prometheusUrl: `http://127.0.0.1:${config.metrics.prometheus.port}/`,
      now: () => new Date(),
    });
    // The range query sees a scrape once Prometheus has a sample at one of its steps: wait for it, with a deadline.
    const metrics = await until('the scraped size in the range series', async () => {
      const answer = await service.get(owner.organization.id, instanceId, 'hour');
      return answer.series.databaseBytes.some(([, v]) => v === 12_345_678) ? answer : undefined;
    });
    expect(metrics.series.databaseBytes.filter(([, v]) => v === 12_345_678).length).toBeGreaterThan(0);
    expect(metrics.totals).toEqual({ logins: 0, failedLogins: 0, tokensIssued: 0 });
    expect(metrics.series.logins).toHaveLength(121);

    const answer = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}/metrics?range=day`,
      headers: owner.sessionHeaders,
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.json<{ stepSeconds: number }>().stepSeconds).toBe(600);

    const stranger = await signUp(keyhouse);
    const foreign = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}/metrics`,
      headers: stranger.sessionHeaders,
    });
    expect(foreign.statusCode).toBe(404);
    const wrongRange = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}/metrics?range=year`,
      headers: owner.sessionHeaders,
    });
    expect(wrongRange.statusCode).toBe(400);
    expect(wrongRange.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('query.range');
  });
});
