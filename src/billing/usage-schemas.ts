import { z } from 'zod';
import { coded } from '../platform/messages.js';

/** GET /api/v1/billing-profiles/{id}/usage: a calendar month in UTC. */
export const usageQuerySchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, coded('format.month'))
    .describe('Calendar month (UTC), YYYY-MM'),
});

export const usageLineSchema = z.object({
  instanceId: z.uuid(),
  instanceName: z.string(),
  kind: z.enum(['node', 'storage', 'backups']),
  nodeSize: z.string().nullable(),
  storageGb: z.int().nullable(),
  hours: z.int(),
  rate: z.string(),
  amountCents: z.int(),
});

export const usageSchema = z.object({
  billingProfileId: z.uuid(),
  month: z.string(),
  currency: z.literal('EUR'),
  /** Hours up to the one containing this moment are counted (the month may still run). */
  asOf: z.string(),
  lines: z.array(usageLineSchema),
  totalCents: z.int(),
});
export type Usage = z.infer<typeof usageSchema>;
