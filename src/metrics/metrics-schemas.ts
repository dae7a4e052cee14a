import { z } from 'zod';

/**
 * The instance page's metrics as the API answers them. Browser-safe (only zod): the portal draws them, the CLI
 * prints them.
 */

export const metricsRangeSchema = z.enum(['hour', 'day', 'week']);
export type MetricsRange = z.infer<typeof metricsRangeSchema>;

/** Seconds a range covers, and the step between its points (about 120 to 170 points each). */
export const RANGES: Record<MetricsRange, { seconds: number; stepSeconds: number }> = {
  hour: { seconds: 3600, stepSeconds: 30 },
  day: { seconds: 86_400, stepSeconds: 600 },
  week: { seconds: 604_800, stepSeconds: 3600 },
};

/** `[time in ms since the epoch, value]`; null where nothing was measured. */
const pointSchema = z.tuple([z.number(), z.number().nullable()]);
export type MetricPoint = z.infer<typeof pointSchema>;

export const METRIC_SERIES = [
  'requestsPerSecond',
  'logins',
  'failedLogins',
  'tokensIssued',
  'responseTimeP95Ms',
  'heapUsedBytes',
  'cpuPercent',
  'databaseBytes',
] as const;
export type MetricSeriesName = (typeof METRIC_SERIES)[number];

export const instanceMetricsSchema = z.object({
  range: metricsRangeSchema,
  from: z.string(),
  to: z.string(),
  stepSeconds: z.int(),
  /**
   * Per point: requests per second and response time p95 (ms) over the step; logins, failed logins and tokens
   * issued counted in the step before the point; heap, CPU (% of the node's vCPUs) and database size as measured.
   */
  series: z.object(
    Object.fromEntries(METRIC_SERIES.map((name) => [name, z.array(pointSchema)])) as {
      [K in MetricSeriesName]: z.ZodArray<typeof pointSchema>;
    },
  ),
  /** Counted over the whole range. */
  totals: z.object({ logins: z.int(), failedLogins: z.int(), tokensIssued: z.int() }),
  /** The heap's limit, for the heap chart's scale; null before the first scrape. */
  heapMaxBytes: z.number().nullable(),
});
export type InstanceMetrics = z.infer<typeof instanceMetricsSchema>;

export const metricsQuerySchema = z.strictObject({ range: metricsRangeSchema.default('hour') });
