import { z } from 'zod';
import {
  adminSourcesSchema,
  isWithinSources,
  trustedSourcesSchema,
  type SourcePolicy,
} from '../access/trusted-sources.js';
import { billingProfileInputSchema } from '../billing/billing-profile-schemas.js';
import { backupChangeOrderSchemas, restoreFromSchema, type BackupRules } from '../backups/backup-schemas.js';
import { instanceSpecSchema, type InstanceSpec } from '../instances/instance-schemas.js';

/**
 * The shapes of orders, shared by the REST API, the portal's forms, the CLI and the broker. Browser-safe: only zod
 * and ipaddr.js. Rules that depend on the catalog are built from it, so every adapter checks the same catalog.
 */

/** The part of the catalog that order validation needs; both the server's and the public catalog fit. */
export type OrderableCatalog = {
  serviceTypes: readonly { id: string; versions: readonly string[] }[];
  nodeSizes: readonly { id: string }[];
  storage: { minGb: number; maxGb: number; stepGb: number };
  /** `driver` only on the server's catalog (operator-only): the public one leaves the region's rules to the server. */
  regions: readonly (SourcePolicy & {
    id: string;
    zones: readonly { id: string }[];
    driver?: 'local' | 'kubernetes';
  })[];
  terms: { version: string };
  backups: BackupRules;
};

export const orderStatusSchema = z.enum(['new', 'processing', 'done', 'failed']);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

export const orderTypeSchema = z.enum([
  'create',
  'scale',
  'storage',
  'trusted-sources',
  'admin-sources',
  'restart',
  'upgrade',
  'delete',
  // Backups (src/backups): an on-demand backup, a restore in place, retention and windows.
  'backup',
  'restore',
  'backup-policy',
  'realm-export',
  'realm-import',
]);
export type OrderType = z.infer<typeof orderTypeSchema>;

/**
 * Kubernetes regions expose an instance through a TCP load balancer, and Keycloak itself terminates TLS: nothing on
 * the way can tell /admin/ from a login, so admin sources cannot be narrower than the trusted sources there.
 */
export const KUBERNETES_ADMIN_SOURCES_REFUSAL =
  'Instances in this region are reached through a TCP load balancer that cannot tell the admin console from logins: every trusted source reaches /admin/. Leave the admin sources unset (null).';
export const restrictsAdminPaths = (region: OrderableCatalog['regions'][number]) =>
  region.driver !== 'kubernetes';

const ids = (items: readonly { id: string }[]) => items.map((item) => item.id) as [string, ...string[]];

export function storageGbSchema(storage: OrderableCatalog['storage']) {
  return z
    .int(`a whole number of GB from ${storage.minGb} to ${storage.maxGb}`)
    .min(storage.minGb, `at least ${storage.minGb} GB`)
    .max(storage.maxGb, `at most ${storage.maxGb} GB`)
    .refine((gb) => gb % storage.stepGb === 0, `storage grows in steps of ${storage.stepGb} GB`);
}

const checkTerms = (catalog: OrderableCatalog, version: string, ctx: z.RefinementCtx) => {
  if (version !== catalog.terms.version) {
    ctx.addIssue({
      code: 'custom',
      path: ['acceptTerms', 'version'],
      message: `The terms changed (current version ${catalog.terms.version}); please review them and accept again.`,
    });
  }
};

/** POST /api/v1/orders: a new instance. */
export function createOrderRequestSchema(catalog: OrderableCatalog) {
  return z
    .strictObject({
      serviceType: z.enum(ids(catalog.serviceTypes)),
      version: z.string().max(20),
      nodeSize: z.enum(ids(catalog.nodeSizes)),
      storageGb: storageGbSchema(catalog.storage),
      trustedSources: z.array(z.string().max(64)).max(200),
      /** Sources that may also use /admin/ and the admin REST API; absent or null: all trusted sources. */
      adminSources: z.array(z.string().max(64)).max(200).nullable().optional(),
      region: z.enum(ids(catalog.regions)),
      zone: z.string().max(63).optional(),
      billingProfileId: z.uuid('the id of one of your billing profiles').optional(),
      billingProfile: billingProfileInputSchema.optional(),
      acceptTerms: z.strictObject({ version: z.string().max(40) }),
      /** The new instance starts with the data of this backup (src/backups). */
      restoreFrom: restoreFromSchema.optional(),
    })
    .transform((order, ctx) => {
      const serviceType = catalog.serviceTypes.find((s) => s.id === order.serviceType)!;
      if (!serviceType.versions.includes(order.version)) {
        ctx.addIssue({
          code: 'custom',
          path: ['version'],
          message: `available versions: ${serviceType.versions.join(', ')}`,
        });
      }
      const region = catalog.regions.find((r) => r.id === order.region)!;
      const zone = order.zone ?? region.zones[0]!.id;
      if (!region.zones.some((z) => z.id === zone)) {
        ctx.addIssue({
          code: 'custom',
          path: ['zone'],
          message: `zones of ${region.id}: ${region.zones.map((z) => z.id).join(', ')}`,
        });
      }
      const sources = trustedSourcesSchema(region).safeParse(order.trustedSources);
      if (!sources.success) {
        for (const issue of sources.error.issues) {
          ctx.addIssue({ code: 'custom', path: ['trustedSources', ...issue.path], message: issue.message });
        }
      }
      let adminSources: string[] | null = null;
      if (order.adminSources && !restrictsAdminPaths(region)) {
        ctx.addIssue({ code: 'custom', path: ['adminSources'], message: KUBERNETES_ADMIN_SOURCES_REFUSAL });
      } else if (order.adminSources && sources.success) {
        const admins = adminSourcesSchema(region, sources.data).safeParse(order.adminSources);
        if (admins.success) adminSources = admins.data;
        for (const issue of admins.error?.issues ?? []) {
          ctx.addIssue({ code: 'custom', path: ['adminSources', ...issue.path], message: issue.message });
        }
      }
      if ((order.billingProfileId === undefined) === (order.billingProfile === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['billingProfileId'],
          message:
            'choose an existing billing profile (billingProfileId) or enter a new one (billingProfile), not both',
        });
      }
      checkTerms(catalog, order.acceptTerms.version, ctx);
      return { ...order, zone, trustedSources: sources.success ? sources.data : [], adminSources };
    });
}
export type CreateOrderRequest = z.output<ReturnType<typeof createOrderRequestSchema>>;

/** Compares Keycloak releases such as 26.5.6 and 26.7.3 numerically. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/** The instance a change order is checked against. */
export type ChangeableInstance = { name: string; spec: InstanceSpec; deletionProtection: boolean };

/**
 * POST /api/v1/instances/{id}/orders: a change to an existing instance, checked against the catalog and the
 * instance as it is (storage only grows, upgrades only go forward, deletion needs the typed name). The portal's
 * change dialogs use the same schema.
 */
export function changeOrderRequestSchema(catalog: OrderableCatalog, instance: ChangeableInstance) {
  const region = catalog.regions.find((r) => r.id === instance.spec.region)!;
  const versions = catalog.serviceTypes.find((s) => s.id === instance.spec.serviceType)?.versions ?? [];
  return z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('scale'),
      nodeSize: z
        .enum(ids(catalog.nodeSizes))
        .refine(
          (size) => size !== instance.spec.nodeSize,
          `the instance already runs on ${instance.spec.nodeSize}`,
        ),
    }),
    z.strictObject({
      type: z.literal('storage'),
      storageGb: storageGbSchema(catalog.storage).refine(
        (gb) => gb > instance.spec.storageGb,
        `storage can only grow: choose more than the current ${instance.spec.storageGb} GB`,
      ),
    }),
    z.strictObject({
      type: z.literal('trusted-sources'),
      trustedSources: trustedSourcesSchema(region).superRefine((trusted, ctx) => {
        const outside = (instance.spec.adminSources ?? []).filter(
          (admin) => !isWithinSources(admin, trusted),
        );
        if (outside.length) {
          ctx.addIssue({
            code: 'custom',
            message: `The admin sources ${outside.join(', ')} would not be within these trusted sources; change the admin sources first.`,
          });
        }
      }),
    }),
    z.strictObject({
      type: z.literal('admin-sources'),
      /** null: back to "all trusted sources". */
      adminSources: adminSourcesSchema(region, instance.spec.trustedSources)
        .nullable()
        .refine(
          (admins) => JSON.stringify(admins) !== JSON.stringify(instance.spec.adminSources),
          'the instance already has exactly these admin sources',
        )
        .refine((admins) => admins === null || restrictsAdminPaths(region), KUBERNETES_ADMIN_SOURCES_REFUSAL),
    }),
    z.strictObject({ type: z.literal('restart') }),
    z.strictObject({
      type: z.literal('upgrade'),
      version: z
        .string()
        .max(20)
        .refine((v) => versions.includes(v), `available versions: ${versions.join(', ')}`)
        .refine(
          (v) => compareVersions(v, instance.spec.version) > 0,
          `upgrades go to a newer version than ${instance.spec.version}`,
        ),
    }),
    z.strictObject({
      type: z.literal('delete'),
      confirmName: z
        .string()
        .max(63)
        .refine((name) => name === instance.name, `type the instance's name ${instance.name} to confirm`),
    }),
    ...backupChangeOrderSchemas(catalog.backups, instance),
  ]);
}
export type ChangeOrderRequest = z.output<ReturnType<typeof changeOrderRequestSchema>>;

/** The spec a change asks for. */
export function specAfter(spec: InstanceSpec, change: ChangeOrderRequest): InstanceSpec {
  switch (change.type) {
    case 'scale':
      return { ...spec, nodeSize: change.nodeSize };
    case 'storage':
      return { ...spec, storageGb: change.storageGb };
    case 'trusted-sources':
      return { ...spec, trustedSources: change.trustedSources };
    case 'admin-sources':
      return { ...spec, adminSources: change.adminSources };
    case 'upgrade':
      return { ...spec, version: change.version };
    case 'backup-policy':
      return { ...spec, backups: change.policy };
    case 'restart':
    case 'delete':
    case 'backup':
    case 'restore':
    case 'realm-export':
    case 'realm-import':
      return spec;
    default:
      return change satisfies never;
  }
}

export const priceSchema = z.object({
  currency: z.literal('EUR'),
  perHour: z.string(),
  perMonth: z.string(),
});

export const orderStepSchema = z.object({
  name: z.string(),
  status: z.enum(['running', 'done', 'failed']),
  message: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type OrderStep = z.infer<typeof orderStepSchema>;

/** An earlier attempt of an order that a provider operator retried: what the customer saw fail. */
export const orderAttemptSchema = z.object({
  attempt: z.int(),
  failureReason: z.string().nullable(),
  finishedAt: z.string(),
});
export type OrderAttempt = z.infer<typeof orderAttemptSchema>;

export const orderSchema = z.object({
  id: z.uuid(),
  type: orderTypeSchema,
  status: orderStatusSchema,
  instanceId: z.uuid(),
  spec: instanceSpecSchema,
  /** For change orders: the instance's spec when the change was placed ("from → to"); null for create orders. */
  previousSpec: instanceSpecSchema.nullable(),
  /** What a backup order asks for beyond the spec: `{ restoreFrom }` (create) or `{ backupId }` (restore). */
  details: z.record(z.string(), z.unknown()).nullable(),
  price: priceSchema,
  priceDelta: priceSchema.nullable(),
  steps: z.array(orderStepSchema),
  failureReason: z.string().nullable(),
  /** 1, and one more for each retry by the provider's operators. */
  attempt: z.int().min(1),
  previousAttempts: z.array(orderAttemptSchema),
  billingProfileId: z.uuid(),
  termsVersion: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Order = z.infer<typeof orderSchema>;
