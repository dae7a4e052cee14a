import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBackup, failBackup, startBackup } from '../../src/backups/backup-store.js';
import { recordOrderStep } from '../../src/orders/order-steps.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { signUp } from '../support/accounts.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

// /metrics after one order, read twice: directly (every series with its value), and by a real Prometheus (Debian's
// package) that scrapes Keyhouse and loads the example alert rules of config/prometheus/keyhouse-alerts.yml.

let keyhouse: TestKeyhouse;
let metricsUrl: string;
let orderId: string;

beforeAll(async () => {
  keyhouse = await startTestKeyhouse();
  await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
  metricsUrl = `http://127.0.0.1:${(keyhouse.http.server.address() as AddressInfo).port}/metrics`;
  const customer = await signUp(keyhouse);
  const placed = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/orders',
    headers: customer.sessionHeaders,
    payload: exampleOrder(keyhouse.config),
  });
  orderId = placed.json().id;
  // The first step of its provisioning, as the reconciler records it.
  await recordOrderStep(keyhouse.db.pool, orderId, 'database', 'running');
  await recordOrderStep(keyhouse.db.pool, orderId, 'database', 'done', 'database and role created');
  // A nightly backup of its instance that failed, as the backup runner records it.
  const { backup } = await ensureBackup(keyhouse.db.pool, {
    id: randomUUID(),
    instanceId: placed.json().instanceId,
    kind: 'nightly',
    night: '2027-01-04',
    keycloakVersion: exampleOrder(keyhouse.config).version,
  });
  await startBackup(keyhouse.db.pool, backup.id);
  await failBackup(keyhouse.db.pool, backup.id, {
    reason: 'The backup failed.',
    operatorDetail: 'pg_dump: error',
  });
});
afterAll(() => keyhouse?.stop());

/** `name{labels} value` lines of the exposition, as a map from series to value. */
function seriesOf(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

describe('GET /metrics', () => {
  it('has every listed series with sane values after one order', async () => {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const series = seriesOf(text);
    expect(series.get('keyhouse_orders{type="create",status="new"}')).toBe(1);
    expect(series.get('keyhouse_orders{type="create",status="done"}')).toBe(0);
    expect(series.get('keyhouse_orders{type="delete",status="failed"}')).toBe(0);
    expect(series.get('keyhouse_instances{region="local",state="provisioning"}')).toBe(1);
    expect(series.get('keyhouse_instances{region="local",state="running"}')).toBe(0);
    expect(series.get('keyhouse_queue_jobs{queue="provision-local",state="created"}')).toBe(1);
    expect(series.get('keyhouse_queue_jobs{queue="mail",state="created"}')).toBe(0);
    expect(series.get('keyhouse_mail_outbox{state="pending"}')).toBe(0);
    expect(series.get('keyhouse_backups_failed{kind="nightly"}')).toBe(1);
    expect(series.get('keyhouse_backups_failed{kind="on-demand"}')).toBe(0);
    expect(series.get('keyhouse_edge_reloads_total')).toBe(0);
    expect(series.get('keyhouse_order_processing_oldest_seconds')).toBe(0);
    expect(series.get('keyhouse_region_capacity_instances{region="local"}')).toBe(
      keyhouse.config.catalog.regions[0]!.capacity.maxInstances,
    );
    const count = series.get('keyhouse_provisioning_step_duration_seconds_count{step="database"}');
    const sum = series.get('keyhouse_provisioning_step_duration_seconds_sum{step="database"}')!;
    expect(count).toBe(1);
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum).toBeLessThan(60);
    expect(series.get('keyhouse_provisioning_step_duration_seconds_bucket{step="database",le="+Inf"}')).toBe(
      1,
    );
    expect(series.get('keyhouse_provisioning_step_duration_seconds_bucket{step="database",le="1800"}')).toBe(
      1,
    );
    expect(series.get('keyhouse_process_resident_memory_bytes')).toBeGreaterThan(0);

    // Debian's promtool parses the exposition format.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error).toBeUndefined();
    // Its linter finds nothing in our series; prom-client's default Node.js gauges end in _total, which it flags.
    const findings = (lint.stdout + lint.stderr).split('\n').filter(Boolean);
    expect(findings.filter((line) => !/^keyhouse_nodejs_active_\w+_total non-counter/.test(line))).toEqual(
      [],
    );
  });
});

describe('a real Prometheus', () => {
  let prometheus: ChildProcess | undefined;
  let directory: string;
  let api: string;

  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'keyhouse-prometheus-'));
    const target = new URL(metricsUrl).host;
    writeFileSync(
      path.join(directory, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${path.join(packageRoot, 'config', 'prometheus', 'keyhouse-alerts.yml')}']`,
        'scrape_configs:',
        `  - { job_name: keyhouse, static_configs: [{ targets: ['${target}'] }] }`,
      ].join('\n'),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  const query = async (promql: string) => {
    const response = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`).catch(() => undefined);
    if (!response?.ok) return [];
    const body = (await response.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result;
  };

  it('scrapes every series and loads the example alerts', async () => {
    await expect
      .poll(async () => (await query('up{job="keyhouse"}'))[0]?.value[1], { timeout: 60_000, interval: 500 })
      .toBe('1');
    const [orders] = await query('keyhouse_orders{type="create",status="new"}');
    expect(orders!.value[1]).toBe('1');
    for (const name of [
      'keyhouse_instances',
      'keyhouse_queue_jobs',
      'keyhouse_mail_outbox',
      'keyhouse_backups_failed',
      'keyhouse_edge_reloads_total',
      'keyhouse_order_processing_oldest_seconds',
      'keyhouse_region_capacity_instances',
      'keyhouse_provisioning_step_duration_seconds_bucket',
    ]) {
      expect((await query(name)).length, name).toBeGreaterThan(0);
    }
    const p90 = await query(
      'histogram_quantile(0.9, sum by (le, step) (keyhouse_provisioning_step_duration_seconds_bucket))',
    );
    expect(p90[0]!.metric.step).toBe('database');

    const rules = (await (await fetch(`${api}/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((group) => group.rules);
    expect(loaded.length).toBe(9);
    await expect
      .poll(
        async () => {
          const current = (await (await fetch(`${api}/rules`)).json()) as typeof rules;
          return current.data.groups
            .flatMap((g) => g.rules)
            .filter((rule) => rule.health !== 'ok')
            .map((r) => r.name);
        },
        { timeout: 20_000 },
      )
      .toEqual([]);
  });
});
