import client from 'prom-client';
import { backupKindSchema } from '../backups/backup-schemas.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Database } from '../db/database.js';
import { countOutboxByState } from '../mail/mail-outbox-store.js';
import { orderStatusSchema, orderTypeSchema } from '../orders/order-schemas.js';
import {
  countInstancesByRegionAndState,
  countRecentlyFailedBackups,
  countOrdersByTypeAndStatus,
  countQueueJobs,
  oldestProcessingOrderSeconds,
  stepDurationHistogram,
} from './metrics-store.js';
import { warmPoolStatus } from '../warm-pool/warm-pool-status.js';

/**
 * Prometheus metrics of the control plane (prom-client), served at GET /metrics. The business series are read from
 * PostgreSQL at each scrape: every API process answers the same, and nothing is lost with a restart. Series and
 * example alerts: docs/operations.md.
 */
export type Metrics = {
  registry: client.Registry;
  /** Hook for the edge: one count per configuration reload it performs. */
  recordEdgeReload(): void;
};

const STEP_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800] as const;
const INSTANCE_STATES = ['provisioning', 'running', 'failed', 'deleting', 'deleted'] as const;

export function createMetrics({ db, catalog }: { db: Database; catalog: Catalog }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'keyhouse_' });

  new client.Gauge({
    name: 'keyhouse_orders',
    help: 'Orders by type and status (every type × status pair is present, 0 when none).',
    labelNames: ['type', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const type of orderTypeSchema.options)
        for (const status of orderStatusSchema.options) this.set({ type, status }, 0);
      for (const row of await countOrdersByTypeAndStatus(db.pool))
        this.set({ type: row.type, status: row.status }, row.count);
    },
  });

  new client.Gauge({
    name: 'keyhouse_order_processing_oldest_seconds',
    help: 'Seconds since the oldest order in processing last changed (0 when none is processing).',
    registers: [registry],
    async collect() {
      this.set(await oldestProcessingOrderSeconds(db.pool));
    },
  });

  const regionCapacity = new client.Gauge({
    name: 'keyhouse_region_capacity_instances',
    help: 'Instances a region takes at most (its configured capacity.maxInstances).',
    labelNames: ['region'],
    registers: [registry],
  });
  for (const region of catalog.regions)
    regionCapacity.set({ region: region.id }, region.capacity.maxInstances);

  new client.Gauge({
    name: 'keyhouse_instances',
    help: 'Instances by region and state.',
    labelNames: ['region', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const region of catalog.regions)
        for (const state of INSTANCE_STATES) this.set({ region: region.id, state }, 0);
      for (const row of await countInstancesByRegionAndState(db.pool))
        this.set({ region: row.region, state: row.state }, row.count);
    },
  });

  new client.Gauge({
    name: 'keyhouse_queue_jobs',
    help: 'Durable jobs (pg-boss) waiting (created, retry) or running (active), per queue.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const queues = [...catalog.regions.map((r) => `provision-${r.id}`), 'mail'];
      for (const queue of queues)
        for (const state of ['created', 'retry', 'active']) this.set({ queue, state }, 0);
      for (const row of await countQueueJobs(db.pool))
        this.set({ queue: row.queue, state: row.state }, row.count);
    },
  });

  new client.Gauge({
    name: 'keyhouse_mail_outbox',
    help: 'E-mails in the outbox by state: pending (waiting to be sent), sending, sent, unconfirmed (check by hand).',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      for (const [state, count] of Object.entries(await countOutboxByState(db.pool)))
        this.set({ state }, count);
    },
  });

  new client.Gauge({
    name: 'keyhouse_backups_failed',
    help: 'Backups that failed within the last 24 hours, by kind (nightly, on-demand, pre-upgrade, pre-restore).',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const kind of backupKindSchema.options) this.set({ kind }, 0);
      for (const row of await countRecentlyFailedBackups(db.pool)) this.set({ kind: row.kind }, row.count);
    },
  });

  const edgeReloads = new client.Counter({
    name: 'keyhouse_edge_reloads_total',
    help: 'Configuration reloads of the edge (trusted-source gateway) done by this process.',
    registers: [registry],
  });
  edgeReloads.inc(0);

  new client.Gauge({
    name: 'keyhouse_warm_pool_members',
    help: 'Warm-pool members by pool (region, version, node size) and state (provisioning, ready, retiring).',
    labelNames: ['region', 'version', 'node_size', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await warmPoolStatus(db.pool, catalog))
        for (const state of ['provisioning', 'ready', 'retiring'] as const)
          this.set(
            { region: pool.region, version: pool.version, node_size: pool.nodeSize, state },
            pool[state],
          );
    },
  });

  new client.Gauge({
    name: 'keyhouse_warm_pool_claims',
    help: 'Create orders of a region with a warm pool that claimed a member (hit) or found none ready (miss).',
    labelNames: ['region', 'version', 'node_size', 'result'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await warmPoolStatus(db.pool, catalog)) {
        const labels = { region: pool.region, version: pool.version, node_size: pool.nodeSize };
        this.set({ ...labels, result: 'hit' }, pool.hits);
        this.set({ ...labels, result: 'miss' }, pool.misses);
      }
    },
  });

  const stepHelp = 'Duration of finished provisioning steps, per step name, over every order and attempt.';
  registry.registerMetric({
    name: 'keyhouse_provisioning_step_duration_seconds',
    help: stepHelp,
    type: 'histogram',
    async get() {
      const rows = await stepDurationHistogram(db.pool, STEP_BUCKETS);
      const name = 'keyhouse_provisioning_step_duration_seconds';
      return {
        name,
        help: stepHelp,
        type: 'histogram',
        aggregator: 'sum' as const,
        values: rows.flatMap((row) => [
          ...STEP_BUCKETS.map((le, i) => ({
            metricName: `${name}_bucket`,
            labels: { step: row.step, le },
            value: row.buckets[i]!,
          })),
          { metricName: `${name}_bucket`, labels: { step: row.step, le: '+Inf' }, value: row.count },
          { metricName: `${name}_sum`, labels: { step: row.step }, value: row.sum },
          { metricName: `${name}_count`, labels: { step: row.step }, value: row.count },
        ]),
      };
    },
    reset: () => undefined,
  } as unknown as client.Metric);

  return { registry, recordEdgeReload: () => edgeReloads.inc() };
}
