import { z } from 'zod';
import { MAX_DEPLOYED_THEMES, themeRefSchema } from '../themes/theme-schemas.js';
import { storedBackupPolicySchema } from '../backups/backup-schemas.js';

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});
/** Why an instance is (not) ready, the way the portal shows it: reason, message and last transition time. */
export type Condition = z.infer<typeof conditionSchema>;
export type ConditionStatus = Condition['status'];

export const instanceUsageSchema = z.object({ storageUsedBytes: z.number(), storageQuotaBytes: z.number() });
export type InstanceUsage = z.infer<typeof instanceUsageSchema>;

/**
 * Where the control plane reaches an instance's admin API, apart from the customer's path (see
 * src/drivers/keycloak/admin-api.ts): a URL, and for TLS through a Service the address to connect to.
 */
export const adminApiAddressSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).max(500),
  connectTo: z.string().min(1).max(255).optional(),
});
export type AdminApiAddress = z.infer<typeof adminApiAddressSchema>;

/** What a region's backend sees of an instance (its driver's `observe`); the instance store keeps it. */
export type ObservedInstance = {
  exists: boolean;
  /** Keycloak answers /health/ready. */
  ready: boolean;
  /** The public URL, once the instance has one. */
  url: string | null;
  conditions: Condition[];
  usage: InstanceUsage | null;
};

/** What an instance should be: stored on the instance (desired spec) and on each order (what it asked for). */
export const instanceSpecSchema = z.object({
  serviceType: z.string(),
  version: z.string(),
  nodeSize: z.string(),
  storageGb: z.int(),
  trustedSources: z.array(z.string()),
  /** Sources that may also use /admin/ and the admin REST API; null: every trusted source. */
  adminSources: z.array(z.string()).nullable(),
  region: z.string(),
  zone: z.string(),
  /** The login themes deployed (src/themes/), by name and uploaded version. */
  themes: z.array(themeRefSchema).max(MAX_DEPLOYED_THEMES),
  /** Retention and windows (src/backups); absent on instances ordered before backups existed: the defaults. */
  backups: storedBackupPolicySchema.optional(),
  /**
   * The customer's own host name that Keycloak answers as (src/domains), set by a custom-domain order once DNS
   * points at the instance; absent or null: the instance's own host name.
   */
  customHostname: z.string().max(253).nullable().optional(),
});
export type InstanceSpec = z.infer<typeof instanceSpecSchema>;

/** The sources the edge admits to /admin/ and the admin REST API. */
export function effectiveAdminSources(spec: Pick<InstanceSpec, 'trustedSources' | 'adminSources'>): string[] {
  return spec.adminSources ?? spec.trustedSources;
}

export const instanceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['provisioning', 'running', 'failed', 'deleting', 'deleted']),
  ...instanceSpecSchema.shape,
  url: z.string().nullable(),
  adminUsername: z.string(),
  deletionProtection: z.boolean(),
  conditions: z.array(conditionSchema),
  usage: instanceUsageSchema.nullable(),
  billingProfileId: z.uuid(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Instance = z.infer<typeof instanceSchema>;

export const credentialsSchema = z.object({ username: z.string(), password: z.string() });

export const instancePatchSchema = z.strictObject({ deletionProtection: z.boolean() });
