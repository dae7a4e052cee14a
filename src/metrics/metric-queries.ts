import type { MetricPoint, MetricSeriesName } from './metrics-schemas.js';
import { INSTANCE_LABEL } from './prometheus-files.js';

/**
 * The PromQL behind each of the instance page's series, for one instance (its id is a UUID checked by the API:
 * nothing a caller types reaches a query). Counters are fetched as raw sums and counted here (`countPerStep`),
 * because Prometheus's increase() misses a counter's first event (the series appears with 1) and extrapolates.
 */

/** The token endpoint's route template in Keycloak's HTTP metrics: every 200 there issued tokens. */
const TOKEN_URI = '/realms/{realm}/protocol/{protocol}/token';

export type SeriesQuery = { kind: 'gauge' | 'counter'; promql: string };

export function seriesQueries(
  instanceId: string,
  windowSeconds: number,
): Record<MetricSeriesName, SeriesQuery> {
  const sel = `${INSTANCE_LABEL}="${instanceId}"`;
  const w = `${windowSeconds}s`;
  return {
    requestsPerSecond: {
      kind: 'gauge',
      promql: `sum(rate(http_server_requests_seconds_count{${sel}}[${w}]))`,
    },
    logins: { kind: 'counter', promql: `sum(keycloak_user_events_total{${sel},event="login",error=""})` },
    failedLogins: {
      kind: 'counter',
      promql: `sum(keycloak_user_events_total{${sel},event="login",error!=""})`,
    },
    tokensIssued: {
      kind: 'counter',
      promql: `sum(http_server_requests_seconds_count{${sel},uri="${TOKEN_URI}",status="200"})`,
    },
    responseTimeP95Ms: {
      kind: 'gauge',
      promql: `histogram_quantile(0.95, sum by (le) (rate(http_server_requests_seconds_bucket{${sel}}[${w}]))) * 1000`,
    },
    heapUsedBytes: { kind: 'gauge', promql: `sum(jvm_memory_used_bytes{${sel},area="heap"})` },
    cpuPercent: { kind: 'gauge', promql: `avg(process_cpu_usage{${sel}}) * 100` },
    databaseBytes: { kind: 'gauge', promql: `max(keyhouse_instance_database_bytes{${sel}})` },
  };
}

export const heapMaxQuery = (instanceId: string) =>
  `sum(jvm_memory_max_bytes{${INSTANCE_LABEL}="${instanceId}",area="heap"} > 0)`;

/**
 * Counts per step from a counter's values at the step times (null: no series then). The first value is the
 * baseline (one step before the range). A value below the one before is a restart: the counter began again at 0,
 * so all of it is new; a series that appears counts its whole value (its first events made it appear).
 */
export function countPerStep(values: MetricPoint[]): { points: MetricPoint[]; total: number } {
  const points: MetricPoint[] = [];
  let total = 0;
  for (let i = 1; i < values.length; i++) {
    const [time, value] = values[i]!;
    const before = values[i - 1]![1];
    if (value === null) {
      points.push([time, null]);
      continue;
    }
    const count = before === null || value < before ? value : value - before;
    // Counters of whole events; float noise from the exposition format is rounded away.
    const rounded = Math.round(count);
    total += rounded;
    points.push([time, rounded]);
  }
  return { points, total };
}

/** Prometheus's matrix of one series, filled in at every step time (null where it has no value). */
export function alignToSteps(times: number[], values: [number, string][] | undefined): MetricPoint[] {
  const byTime = new Map((values ?? []).map(([seconds, value]) => [Math.round(seconds * 1000), value]));
  return times.map((time) => {
    const value = byTime.get(time);
    const number = value === undefined ? NaN : Number(value);
    return [time, Number.isFinite(number) ? number : null];
  });
}
