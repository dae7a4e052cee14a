import { z } from 'zod';
import { storedBackupPolicySchema } from '../backups/backup-schemas.js';

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});

export const instanceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['provisioning', 'running', 'failed', 'deleting', 'deleted']),
  serviceType: z.string(),
  version: z.string(),
  nodeSize: z.string(),
  storageGb: z.int(),
  trustedSources: z.array(z.string()),
  region: z.string(),
  zone: z.string(),
  /** Retention and windows (src/backups); absent until the first backup-policy order: the defaults. */
  backups: storedBackupPolicySchema.optional(),
  url: z.string().nullable(),
  adminUsername: z.string(),
  deletionProtection: z.boolean(),
  conditions: z.array(conditionSchema),
  usage: z.object({ storageUsedBytes: z.number(), storageQuotaBytes: z.number() }).nullable(),
  billingProfileId: z.uuid(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Instance = z.infer<typeof instanceSchema>;

export const credentialsSchema = z.object({ username: z.string(), password: z.string() });

export const instancePatchSchema = z.strictObject({ deletionProtection: z.boolean() });
