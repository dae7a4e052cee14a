import { z } from 'zod';
import { fitsPostgres, identifierSchema } from '../platform/text-schemas.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import { priceOf } from '../catalog/pricing.js';
import { MAX_TRUSTED_SOURCES } from '../access/trusted-sources.js';
import { storageGbSchema } from '../orders/order-schemas.js';

/**
 * The Open Service Broker API v2.17 as Keyhouse speaks it: one service offering (`keycloak`), one plan per node size,
 * parameters named like the REST API's fields. The parameter schemas are built from the shared order schemas, and
 * the catalog's JSON schemas are generated from them, so a platform's form, the broker and the REST API check the
 * same rules.
 */

export const OSB_SERVICE_ID = 'keyhouse-keycloak';
export const OSB_SERVICE_NAME = 'keycloak';
export const planIdOf = (nodeSize: string) => `${OSB_SERVICE_ID}-${nodeSize}`;
export const nodeSizeOfPlan = (catalog: Catalog, planId: string) =>
  catalog.nodeSizes.find((size) => planIdOf(size.id) === planId)?.id;

const ids = (items: readonly { id: string }[]) => items.map((item) => item.id) as [string, ...string[]];
const versionsOf = (catalog: Catalog) =>
  catalog.serviceTypes.find((s) => s.id === 'keycloak')?.versions ?? [];

/** An OSB id in a URL or body: the spec recommends unreserved characters; we bound the length too. */
export const osbIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._~-]{1,200}$/, '1 to 200 letters, digits or . _ ~ -');

const trustedSourcesParameter = z
  .array(z.string().max(64))
  .min(1)
  .max(MAX_TRUSTED_SOURCES)
  .describe(
    'Addresses or CIDR ranges (IPv4 or IPv6) that may reach the instance; nobody else can connect. ' +
      'Public regions accept public ranges only (IPv4 /24 to /32).',
  );

const adminSourcesParameter = z
  .array(z.string().max(64))
  .max(MAX_TRUSTED_SOURCES)
  .nullable()
  .describe(
    'Trusted sources that may also use the admin console and the admin REST API (/admin/); the others get logins ' +
      'and tokens only. Absent or null: every trusted source. An empty list: nobody administers through the edge.',
  );

function storageParameter(catalog: Catalog) {
  const { minGb, maxGb, stepGb } = catalog.storage;
  return storageGbSchema(catalog.storage)
    .meta({ multipleOf: stepGb })
    .describe(`Storage in GB, ${minGb} to ${maxGb} in steps of ${stepGb}; it can grow but never shrink.`);
}

/** `parameters` of a provision request. */
export function provisionParametersSchema(catalog: Catalog) {
  const versions = versionsOf(catalog);
  return z.strictObject({
    trustedSources: trustedSourcesParameter,
    adminSources: adminSourcesParameter.optional(),
    storageGb: storageParameter(catalog).optional(),
    region: z.enum(ids(catalog.regions)).optional().describe(`Region; default ${catalog.regions[0]!.id}.`),
    zone: z.string().max(63).optional().describe('Availability zone of the region; default its first zone.'),
    version: z
      .enum(versions as [string, ...string[]])
      .optional()
      .describe(`Keycloak version; default the newest (${versions.at(-1)}).`),
  });
}
export type ProvisionParameters = z.output<ReturnType<typeof provisionParametersSchema>>;

/** `parameters` of an update request: each present field becomes a change order (one change per request). */
export function updateParametersSchema(catalog: Catalog) {
  const versions = versionsOf(catalog);
  return z.strictObject({
    trustedSources: trustedSourcesParameter.optional(),
    adminSources: adminSourcesParameter.optional(),
    storageGb: storageParameter(catalog).optional(),
    version: z
      .enum(versions as [string, ...string[]])
      .optional()
      .describe('Upgrade to this Keycloak version (newer only).'),
  });
}
export type UpdateParameters = z.output<ReturnType<typeof updateParametersSchema>>;

const contextSchema = z
  .looseObject({
    platform: identifierSchema(100).optional(),
    organization_guid: identifierSchema(200).optional(),
    organization_name: identifierSchema(200).optional(),
    space_guid: identifierSchema(200).optional(),
    namespace: identifierSchema(200).optional(),
    instance_name: identifierSchema(200).optional(),
  })
  .describe('Contextual data of the platform (see the OSB profile document)');

const maintenanceInfoSchema = z.looseObject({ version: z.string().max(100) });

/** OSB 2.13–2.17 require `organization_guid` and `space_guid` in a provision's body, beside `context`. */
export const provisionBodySchema = z.looseObject({
  service_id: z.string().min(1).max(200),
  plan_id: z.string().min(1).max(200),
  context: contextSchema.optional(),
  organization_guid: identifierSchema(200),
  space_guid: identifierSchema(200),
  parameters: z.record(z.string(), z.unknown()).optional(),
  maintenance_info: maintenanceInfoSchema.optional(),
});
export type ProvisionBody = z.infer<typeof provisionBodySchema>;

export const updateBodySchema = z.looseObject({
  service_id: z.string().min(1).max(200),
  plan_id: z.string().min(1).max(200).optional(),
  context: contextSchema.optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  previous_values: z.looseObject({ plan_id: z.string().max(200).optional() }).optional(),
  maintenance_info: maintenanceInfoSchema.optional(),
});
export type UpdateBody = z.infer<typeof updateBodySchema>;

export const bindBodySchema = z.looseObject({
  service_id: z.string().min(1).max(200),
  plan_id: z.string().min(1).max(200),
  context: contextSchema.optional(),
  app_guid: identifierSchema(200).optional(),
  bind_resource: z.looseObject({ app_guid: identifierSchema(200).optional() }).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type BindBody = z.infer<typeof bindBodySchema>;

const acceptsIncomplete = z.enum(['true', 'false']).optional();

export const asyncQuerySchema = z.object({ accepts_incomplete: acceptsIncomplete });

/** Deprovision and unbind: `service_id` and `plan_id` are mandatory query parameters. */
export const deleteQuerySchema = z.object({
  accepts_incomplete: acceptsIncomplete,
  service_id: z.string().min(1).max(200),
  plan_id: z.string().min(1).max(200),
});

/** Hints of the platform; each, when present, a non-empty string. */
export const lastOperationQuerySchema = z.object({
  service_id: z.string().min(1).max(200).optional(),
  plan_id: z.string().min(1).max(200).optional(),
  operation: z.string().min(1).max(200).optional(),
});

/** True for a JSON value the audit log (jsonb) can hold: no NUL and no lone surrogate, in keys or values. */
function fitsJsonb(value: unknown, depth = 0): boolean {
  if (depth > 20) return false;
  if (typeof value === 'string') return fitsPostgres(value);
  if (Array.isArray(value)) return value.every((item) => fitsJsonb(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, item]) => fitsJsonb(key) && fitsJsonb(item, depth + 1));
  }
  return true;
}

/**
 * X-Broker-API-Originating-Identity: `<platform> <base64 of a JSON object>`, decoded. A header that is not of this
 * form is refused before anything happens: it is recorded in the audit log with the request's changes.
 */
export const originatingIdentitySchema = z
  .string()
  .max(4000)
  .transform((header, ctx) => {
    const match = /^([\x21-\x7e]{1,100}) ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
    let value: unknown;
    try {
      value = match ? JSON.parse(Buffer.from(match[2]!, 'base64').toString('utf8')) : undefined;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
    if (!match || value === null || typeof value !== 'object' || Array.isArray(value) || !fitsJsonb(value)) {
      ctx.addIssue({ code: 'custom', message: 'expected "<platform> <base64 of a JSON object>"' });
      return z.NEVER;
    }
    return { platform: match[1]!, value: value as Record<string, unknown> };
  });
export type OriginatingIdentity = z.output<typeof originatingIdentitySchema>;

export const osbErrorSchema = z
  .object({
    error: z.string().optional().describe('AsyncRequired, ConcurrencyError, … (OSB error codes)'),
    description: z.string(),
  })
  .describe('An Open Service Broker error');

export const asyncResponseSchema = z.object({ operation: z.string().optional() });
export const lastOperationSchema = z.object({
  state: z.enum(['in progress', 'succeeded', 'failed']),
  description: z.string().optional(),
});
export type LastOperation = z.infer<typeof lastOperationSchema>;

export const bindingCredentialsSchema = z.object({
  issuer: z.string(),
  token_endpoint: z.string(),
  client_id: z.string(),
  client_secret: z.string(),
});
export type BindingCredentials = z.infer<typeof bindingCredentialsSchema>;
export const bindingSchema = z.object({
  credentials: bindingCredentialsSchema,
  endpoints: z.array(z.object({ host: z.string(), ports: z.array(z.string()) })).optional(),
});
export const fetchedInstanceSchema = z.object({
  service_id: z.string(),
  plan_id: z.string(),
  dashboard_url: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()),
});

const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { target: 'draft-4', io: 'input' });

export const osbCatalogSchema = z.object({ services: z.array(z.looseObject({ id: z.string() })) });

/** GET /osb/v2/catalog: plans are the node sizes, with their monthly costs (730 h, smallest storage). */
export function osbCatalog(catalog: Catalog) {
  const provision = jsonSchemaOf(provisionParametersSchema(catalog));
  const update = jsonSchemaOf(updateParametersSchema(catalog));
  const bindingParameters = jsonSchemaOf(z.strictObject({}));
  return {
    services: [
      {
        id: OSB_SERVICE_ID,
        name: OSB_SERVICE_NAME,
        description: 'Managed Keycloak: a dedicated instance behind a trusted-source gateway with TLS.',
        tags: ['keycloak', 'oidc', 'saml', 'iam'],
        bindable: true,
        instances_retrievable: true,
        bindings_retrievable: true,
        plan_updateable: true,
        allow_context_updates: false,
        metadata: {
          displayName: 'Keycloak (Keyhouse)',
          providerDisplayName: 'Keyhouse',
          documentationUrl: catalog.terms.url,
          longDescription:
            'A Keycloak instance of its own with PostgreSQL; a binding is a confidential OIDC client ' +
            '(client credentials) in the first realm.',
        },
        plans: catalog.nodeSizes.map((size) => {
          const price = priceOf(catalog, { nodeSize: size.id, storageGb: catalog.storage.minGb });
          return {
            id: planIdOf(size.id),
            name: size.id,
            description: `${size.vcpu} vCPU, ${size.memoryGb} GB RAM (${size.family}); storage from ${catalog.storage.minGb} GB.`,
            free: false,
            bindable: true,
            plan_updateable: true,
            metadata: {
              displayName: `${size.id} (${size.vcpu} vCPU, ${size.memoryGb} GB)`,
              bullets: [
                `${size.vcpu} vCPU`,
                `${size.memoryGb} GB RAM`,
                `${catalog.storage.minGb} to ${catalog.storage.maxGb} GB storage`,
              ],
              costs: [
                { amount: { [catalog.currency.toLowerCase()]: Number(size.pricePerHour) }, unit: 'HOURLY' },
                {
                  amount: { [catalog.currency.toLowerCase()]: Number(price.perMonth) },
                  unit: `MONTHLY (730 h, with ${catalog.storage.minGb} GB storage)`,
                },
                {
                  amount: { [catalog.currency.toLowerCase()]: Number(catalog.storage.pricePerStepPerMonth) },
                  unit: `MONTHLY per ${catalog.storage.stepGb} GB storage`,
                },
              ],
            },
            schemas: {
              service_instance: {
                create: { parameters: provision },
                update: { parameters: update },
              },
              service_binding: { create: { parameters: bindingParameters } },
            },
          };
        }),
      },
    ],
  };
}
