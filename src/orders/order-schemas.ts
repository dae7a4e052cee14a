import { z } from 'zod';
import {
  adminSourcesSchema,
  isWithinSources,
  trustedSourcesSchema,
  type SourcePolicy,
} from '../access/trusted-sources.js';
import { billingProfileInputSchema } from '../billing/billing-profile-schemas.js';
import { coded, codedIssue } from '../platform/messages.js';
import { backupChangeOrderSchemas, restoreFromSchema, type BackupRules } from '../backups/backup-schemas.js';
import { instanceSpecSchema, type InstanceSpec } from '../instances/instance-schemas.js';
import { customHostnameSchema } from '../domains/domain-schemas.js';
import { MAX_DEPLOYED_THEMES, themeNameSchema, type ThemeRef } from '../themes/theme-schemas.js';

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
  'theme-deploy',
  'theme-remove',
  // Placed by the custom-domain service (src/domains) once DNS points at the instance, and when it is removed.
  'custom-domain',
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
 * the way can tell /admin/ from a login, so admin sources cannot be narrower than the trusted sources there
 * (refused with `sources.adminNotOnKubernetes`).
 */
export const restrictsAdminPaths = (region: OrderableCatalog['regions'][number]) =>
  region.driver !== 'kubernetes';

const ids = (items: readonly { id: string }[]) => items.map((item) => item.id) as [string, ...string[]];

export function storageGbSchema(storage: OrderableCatalog['storage']) {
  return z
    .int(coded('storage.wholeGb', { min: storage.minGb, max: storage.maxGb }))
    .min(storage.minGb, coded('storage.atLeast', { min: storage.minGb }))
    .max(storage.maxGb, coded('storage.atMost', { max: storage.maxGb }))
    .refine((gb) => gb % storage.stepGb === 0, coded('storage.step', { step: storage.stepGb }));
}

const checkTerms = (catalog: OrderableCatalog, version: string, ctx: z.RefinementCtx) => {
  if (version !== catalog.terms.version) {
    ctx.addIssue(
      codedIssue('order.termsChanged', { version: catalog.terms.version }, ['acceptTerms', 'version']),
    );
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
      billingProfileId: z.uuid(coded('billing.profileId')).optional(),
      billingProfile: billingProfileInputSchema.optional(),
      acceptTerms: z.strictObject({ version: z.string().max(40) }),
      /** The new instance starts with the data of this backup (src/backups). */
      restoreFrom: restoreFromSchema.optional(),
    })
    .transform((order, ctx) => {
      const serviceType = catalog.serviceTypes.find((s) => s.id === order.serviceType)!;
      if (!serviceType.versions.includes(order.version)) {
        ctx.addIssue(
          codedIssue('order.versions', { versions: serviceType.versions.join(', ') }, ['version']),
        );
      }
      const region = catalog.regions.find((r) => r.id === order.region)!;
      const zone = order.zone ?? region.zones[0]!.id;
      if (!region.zones.some((z) => z.id === zone)) {
        ctx.addIssue(
          codedIssue('order.zones', { region: region.id, zones: region.zones.map((z) => z.id).join(', ') }, [
            'zone',
          ]),
        );
      }
      const sources = trustedSourcesSchema(region).safeParse(order.trustedSources);
      if (!sources.success) {
        for (const issue of sources.error.issues) {
          // The entry's own code and parameters travel along (`params`).
          ctx.addIssue({ ...issue, code: 'custom', path: ['trustedSources', ...issue.path] });
        }
      }
      let adminSources: string[] | null = null;
      if (order.adminSources && !restrictsAdminPaths(region)) {
        ctx.addIssue(codedIssue('sources.adminNotOnKubernetes', {}, ['adminSources']));
      } else if (order.adminSources && sources.success) {
        const admins = adminSourcesSchema(region, sources.data).safeParse(order.adminSources);
        if (admins.success) adminSources = admins.data;
        for (const issue of admins.error?.issues ?? []) {
          // The entry's own code and parameters travel along (`params`).
          ctx.addIssue({ ...issue, code: 'custom', path: ['adminSources', ...issue.path] });
        }
      }
      if ((order.billingProfileId === undefined) === (order.billingProfile === undefined)) {
        ctx.addIssue(codedIssue('billing.oneProfile', {}, ['billingProfileId']));
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

/** A newer release of the same major.minor (26.5.5 → 26.5.6): one that may run beside the old (a rolling update). */
export function isPatchUpgrade(from: string, to: string): boolean {
  const [a, b] = [from.split('.'), to.split('.')];
  return a.length === 3 && b.length === 3 && a[0] === b[0] && a[1] === b[1] && compareVersions(to, from) > 0;
}

/**
 * The instance a change order is checked against; `themeVersions`: the theme versions uploaded to it (the server
 * passes them; a client that leaves them out gets theme deployments checked by the server only).
 */
export type ChangeableInstance = {
  name: string;
  spec: InstanceSpec;
  deletionProtection: boolean;
  themeVersions?: readonly ThemeRef[];
};

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
          coded('order.sameNodeSize', { nodeSize: instance.spec.nodeSize }),
        ),
    }),
    z.strictObject({
      type: z.literal('storage'),
      storageGb: storageGbSchema(catalog.storage).refine(
        (gb) => gb > instance.spec.storageGb,
        coded('storage.onlyGrows', { current: instance.spec.storageGb }),
      ),
    }),
    z.strictObject({
      type: z.literal('trusted-sources'),
      trustedSources: trustedSourcesSchema(region).superRefine((trusted, ctx) => {
        const outside = (instance.spec.adminSources ?? []).filter(
          (admin) => !isWithinSources(admin, trusted),
        );
        if (outside.length) {
          ctx.addIssue(codedIssue('sources.adminOutside', { sources: outside.join(', ') }));
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
          coded('sources.adminUnchanged'),
        )
        .refine(
          (admins) => admins === null || restrictsAdminPaths(region),
          coded('sources.adminNotOnKubernetes'),
        ),
    }),
    z.strictObject({ type: z.literal('restart') }),
    z.strictObject({
      type: z.literal('upgrade'),
      version: z
        .string()
        .max(20)
        .refine((v) => versions.includes(v), coded('order.versions', { versions: versions.join(', ') }))
        .refine(
          (v) => compareVersions(v, instance.spec.version) > 0,
          coded('order.newerVersion', { version: instance.spec.version }),
        ),
    }),
    z
      .strictObject({
        type: z.literal('theme-deploy'),
        name: themeNameSchema,
        version: z.int().min(1),
      })
      .superRefine((deploy, ctx) => {
        if (region.driver === 'kubernetes') ctx.addIssue(codedIssue('themes.notOnKubernetes', {}, ['name']));
        const versions = instance.themeVersions;
        if (versions && !versions.some((v) => v.name === deploy.name && v.version === deploy.version))
          ctx.addIssue({
            code: 'custom',
            path: ['version'],
            message: `no uploaded version ${deploy.version} of the theme ${deploy.name}; upload it first`,
          });
        const deployed = instance.spec.themes.find((t) => t.name === deploy.name);
        if (deployed?.version === deploy.version)
          ctx.addIssue({
            code: 'custom',
            path: ['version'],
            message: `version ${deploy.version} runs already`,
          });
        if (!deployed && instance.spec.themes.length >= MAX_DEPLOYED_THEMES)
          ctx.addIssue({
            code: 'custom',
            path: ['name'],
            message: `at most ${MAX_DEPLOYED_THEMES} themes per instance; remove one first`,
          });
      }),
    z.strictObject({
      type: z.literal('theme-remove'),
      name: themeNameSchema.refine(
        (name) => instance.spec.themes.some((t) => t.name === name),
        'no theme of this name is deployed',
      ),
    }),
    z.strictObject({
      type: z.literal('custom-domain'),
      /** null: back to the instance's own host name. */
      hostname: customHostnameSchema
        .nullable()
        .refine(
          (hostname) => hostname !== (instance.spec.customHostname ?? null),
          'Keycloak answers as this host name already',
        )
        .refine(
          (hostname) => hostname === null || region.driver !== 'kubernetes',
          coded('domain.notOnKubernetes'),
        ),
    }),
    z.strictObject({
      type: z.literal('delete'),
      confirmName: z
        .string()
        .max(63)
        .refine((name) => name === instance.name, coded('order.confirmName', { name: instance.name })),
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
    case 'theme-deploy':
      return {
        ...spec,
        themes: [
          ...spec.themes.filter((t) => t.name !== change.name),
          { name: change.name, version: change.version },
        ].sort((a, b) => a.name.localeCompare(b.name)),
      };
    case 'theme-remove':
      return { ...spec, themes: spec.themes.filter((t) => t.name !== change.name) };
    case 'custom-domain':
      return { ...spec, customHostname: change.hostname };
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

/**
 * A server message's coded parts (src/platform/messages.ts: code and parameters of each, joined by "; "), beside
 * its English text, so the portal can say it in the reader's language.
 */
export const messagePartsSchema = z
  .array(
    z.object({
      code: z.string().max(100),
      params: z.record(z.string().max(100), z.union([z.string().max(4000), z.number()])),
    }),
  )
  .max(20);
export type MessageParts = z.infer<typeof messagePartsSchema>;

/** An order's failure reason in English, for the customer, and its coded parts beside it. */
export const failureReasonSchema = z
  .string()
  .nullable()
  .describe('Why the order failed, in English, for the customer; null unless the order (or attempt) failed.');
export const failureReasonPartsSchema = messagePartsSchema
  .nullable()
  .optional()
  .describe(
    'The failure reason as coded parts ([{ code, params }], their English joined by "; " is failureReason), as a ' +
      "step's messageParts, so that a client can say it in its reader's language; null (or absent) when the " +
      'reason is plain words.',
  );

export const orderStepSchema = z.object({
  name: z.string(),
  status: z.enum(['running', 'done', 'failed']),
  /** In English; `messageParts` (code and parameters of each part, joined by "; ") let the portal show it in the
   * reader's language. */
  message: z.string().optional(),
  messageParts: messagePartsSchema.optional(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type OrderStep = z.infer<typeof orderStepSchema>;

/** An earlier attempt of an order that a provider operator retried: what the customer saw fail. */
export const orderAttemptSchema = z.object({
  attempt: z.int(),
  failureReason: failureReasonSchema,
  failureReasonParts: failureReasonPartsSchema,
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
  failureReason: failureReasonSchema,
  failureReasonParts: failureReasonPartsSchema,
  /** 1, and one more for each retry by the provider's operators. */
  attempt: z.int().min(1),
  previousAttempts: z.array(orderAttemptSchema),
  billingProfileId: z.uuid(),
  termsVersion: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Order = z.infer<typeof orderSchema>;
