import { z } from 'zod';

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
  /** Sources that may also use /admin/ and the admin REST API; null: every trusted source. */
  adminSources: z.array(z.string()).nullable(),
  region: z.string(),
  zone: z.string(),
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
