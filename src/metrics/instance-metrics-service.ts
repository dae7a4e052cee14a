import type { Database } from '../db/database.js';
import { findInstance } from '../instances/instance-store.js';
import { NotFoundError, UnavailableError } from '../platform/errors.js';
import { alignToSteps, countPerStep, heapMaxQuery, seriesQueries } from './metric-queries.js';
import {
  METRIC_SERIES,
  RANGES,
  type InstanceMetrics,
  type MetricPoint,
  type MetricSeriesName,
  type MetricsRange,
} from './metrics-schemas.js';

type PrometheusAnswer = {
  status: 'success' | 'error';
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];
  };
};

/**
 * The instance page's metrics, read from Prometheus's HTTP API (the embedded one on loopback, or the provider's):
 * one range query per series over the last hour, day or week, for an instance of the caller's organisation.
 */
export function createInstanceMetricsService(deps: { db: Database; prometheusUrl: string; now: () => Date }) {
  async function ask(path: string, params: Record<string, string>): Promise<PrometheusAnswer['data']> {
    const url = new URL(path, deps.prometheusUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    let answer: PrometheusAnswer;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      answer = (await response.json()) as PrometheusAnswer;
    } catch (error) {
      throw new UnavailableError(
        `The metrics store does not answer right now; try again in a minute. (${(error as Error).message})`,
      );
    }
    if (answer.status !== 'success')
      throw new UnavailableError(`The metrics store refused a query: ${answer.error}`);
    return answer.data;
  }

  return {
    async get(organizationId: string, id: string, range: MetricsRange): Promise<InstanceMetrics> {
      const instance = await findInstance(deps.db.pool, organizationId, id);
      if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
      const { seconds, stepSeconds } = RANGES[range];
      const end = Math.floor(deps.now().getTime() / 1000);
      // One step before the range: the counters' baseline.
      const start = end - seconds - stepSeconds;
      const times: number[] = [];
      for (let t = start; t <= end; t += stepSeconds) times.push(t * 1000);
      // rate() needs a few scrapes in its window; the step is at least that wide for a day or a week.
      const queries = seriesQueries(id, Math.max(stepSeconds, 60));
      const params = { start: String(start), end: String(end), step: String(stepSeconds) };
      const [heapMax, ...answers] = await Promise.all([
        ask('api/v1/query', { query: heapMaxQuery(id), time: String(end) }),
        ...METRIC_SERIES.map((name) => ask('api/v1/query_range', { ...params, query: queries[name].promql })),
      ]);
      const series = {} as Record<MetricSeriesName, MetricPoint[]>;
      const totals = { logins: 0, failedLogins: 0, tokensIssued: 0 };
      METRIC_SERIES.forEach((name, index) => {
        const values = alignToSteps(times, answers[index]?.result[0]?.values);
        if (queries[name].kind === 'counter') {
          const counted = countPerStep(values);
          series[name] = counted.points;
          totals[name as keyof typeof totals] = counted.total;
        } else series[name] = values.slice(1);
      });
      const max = Number(heapMax?.result[0]?.value?.[1]);
      return {
        range,
        from: new Date((start + stepSeconds) * 1000).toISOString(),
        to: new Date(end * 1000).toISOString(),
        stepSeconds,
        series,
        totals,
        heapMaxBytes: Number.isFinite(max) ? max : null,
      };
    },
  };
}
export type InstanceMetricsService = ReturnType<typeof createInstanceMetricsService>;
