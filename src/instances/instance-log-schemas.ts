import { z } from 'zod';
import { queryNumber } from '../platform/query-schemas.js';

/**
 * The instance's Keycloak log as customers read it (portal, API, `keyhouse logs`): entries of the last 7 days, a
 * search, a live tail. Browser-safe (only zod).
 */

/** How far back the log reaches, for every backend. */
export const LOG_RETENTION_DAYS = 7;

/** One log entry: its first line's time and level, and the whole text (a stack trace stays with its entry). */
export const logEntrySchema = z.object({
  time: z.string().describe('RFC 3339'),
  level: z.string().max(10),
  text: z.string(),
});
export type LogEntry = z.infer<typeof logEntrySchema>;

export const logQuerySchema = z.strictObject({
  search: z
    .string()
    .trim()
    .min(1, 'type something to search for')
    .max(200, 'at most 200 characters')
    .optional()
    .describe('Only entries containing this text (any case)'),
  since: z.iso
    .datetime({ offset: true, message: 'an RFC 3339 time, e.g. 2026-12-01T08:00:00Z' })
    .optional()
    .describe('Only entries from this time on; at most 7 days back (the default)'),
  limit: queryNumber(
    z.coerce
      .number()
      .int('a whole number')
      .min(1, 'at least 1')
      .max(2000, 'at most 2000')
      .default(200)
      .describe('The newest entries that match, at most this many'),
  ),
});
export type LogQuery = z.output<typeof logQuerySchema>;

export const logPageSchema = z.object({
  /** Oldest first. */
  entries: z.array(logEntrySchema),
  /** True when more entries matched than `limit`: the oldest were left out. */
  truncated: z.boolean(),
});
export type LogPage = z.infer<typeof logPageSchema>;
