import { z } from 'zod';
import { billingProfileInputSchema } from '../billing/billing-profile-schemas.js';
import { catalogSchema, idSchema } from '../catalog/catalog-schemas.js';
import { kubernetesRegionSchema } from './kubernetes-region-schema.js';

const portRangeSchema = z
  .strictObject({ from: z.int().min(1024).max(65535), to: z.int().min(1024).max(65535) })
  .refine((r) => r.from <= r.to, { message: 'from must not exceed to', path: ['from'] });

export const roleSchema = z.enum(['api', 'worker', 'edge']);
export type KeyhouseRole = z.infer<typeof roleSchema>;

const configObjectSchema = z.strictObject({
  /** One program, three roles: all in one process by default; in production each scales on its own. */
  roles: z.array(roleSchema).min(1).max(3),
  server: z.strictObject({
    host: z.string().min(1).max(255),
    port: z.int().min(0).max(65535),
    trustProxy: z.boolean(),
  }),
  dataDir: z.string().min(1).max(4096),
  database: z.strictObject({
    url: z
      .string()
      .max(2048)
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
      .nullable(),
    embeddedPort: z.int().min(1024).max(65535),
  }),
  edge: z.strictObject({
    /** Where the per-instance listeners bind ("::" binds IPv4 and IPv6). */
    listenHost: z.string().min(1).max(255),
    /** Instances are reached at https://<instance name>.<publicHost>:<port>. */
    publicHost: z.string().min(1).max(200),
    portRange: portRangeSchema,
    /**
     * The plain-HTTP listener (80 in production): answers ACME HTTP-01 challenges for custom domains and sends
     * known host names to https; nothing on it reaches Keycloak. Null: none (ACME certificates cannot be obtained).
     */
    httpPort: z.int().min(1).max(65535).nullable(),
    /** The HAProxy program the edge runs (2.6 or newer): a name looked up in PATH, or a path. */
    haproxy: z.string().min(1).max(4096),
    /**
     * Requests per source address and instance: more than `requests` within `windowSeconds` are answered 429 with
     * Retry-After, so one noisy client cannot starve an instance.
     */
    rateLimit: z.strictObject({
      requests: z.int().min(1).max(10_000_000),
      windowSeconds: z.int().min(1).max(3600),
    }),
  }),
  keycloak: z.strictObject({
    /** A built Keycloak distribution to use instead of fetching one per version (KEYCLOAK_HOME). */
    home: z.string().min(1).max(4096).nullable(),
    /** JDK to run Keycloak with (JAVA_HOME); otherwise the newest suitable one under /usr/lib/jvm. */
    javaHome: z.string().min(1).max(4096).nullable(),
    /** Loopback ports for the instances' HTTP and management listeners. */
    portRange: portRangeSchema,
    /**
     * Make the schema template of every catalog version (src/drivers/local/schema-template.ts) when the worker
     * starts, after its distribution is built, so that no customer's first order of a version waits for it; false:
     * the first order of a version on a database server makes it.
     */
    schemaTemplatesAtStart: z.boolean(),
  }),
  /**
   * The instance page's metrics: Keycloak's /metrics on each instance's management port (loopback only), scraped
   * by Prometheus through file-based discovery (`<dataDir>/prometheus/targets/`), queried by the API.
   */
  metrics: z.strictObject({
    /**
     * The provider's Prometheus (its HTTP API, e.g. http://prometheus.internal:9090) instead of the one Keyhouse
     * runs; it scrapes the targets files and the exporter itself. Null: Keyhouse runs `prometheus.binary`.
     */
    prometheusUrl: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL')
      .nullable(),
    prometheus: z.strictObject({
      /** Debian's package: apt-get install prometheus. */
      binary: z.string().min(1).max(4096),
      /** Loopback port of the embedded Prometheus. */
      port: z.int().min(1024).max(65535),
      scrapeIntervalSeconds: z.int().min(1).max(300),
      /** The instance page looks back a week; a day more. */
      retentionDays: z.int().min(8).max(400),
    }),
    /** Loopback port of Keyhouse's own exporter (the instances' database sizes), scraped by Prometheus. */
    exporterPort: z.int().min(1024).max(65535),
  }),
  /** Customers' own host names for their instances (src/domains/). */
  domains: z.strictObject({
    /** Resolvers for the DNS check (`ip` or `ip:port`); empty: the system's. */
    dnsServers: z.array(z.string().min(1).max(60)).max(3),
    /** The ACME directory certificates come from (Let's Encrypt's by default). */
    acmeDirectoryUrl: z
      .string()
      .max(2048)
      .regex(/^https:\/\/[^\s]+$/, 'an https:// URL'),
    /** Contact for the ACME account (expiry notices); optional. */
    acmeEmail: z.email().max(254).nullable(),
    /** PEM file of roots that uploaded chains may end in besides the public ones (e.g. a company CA). */
    extraRootsFile: z.string().min(1).max(4096).nullable(),
  }),
  /** Key for secrets at rest (KEYHOUSE_SECRET_KEY, 32 bytes as base64); otherwise a key file in the data dir. */
  secretKey: z.string().min(1).max(200).nullable(),
  catalog: catalogSchema,
  /** Where customers reach the portal: links in e-mails point here. */
  portal: z.strictObject({ publicUrl: z.url({ protocol: /^https?$/ }).max(500) }),
  mail: z.strictObject({
    /**
     * The SMTP server, e.g. smtp://user:password@mail.example.com:587 (STARTTLS when offered) or smtps://…:465
     * (KEYHOUSE_SMTP_URL). Null: mails wait in the outbox until one is configured.
     */
    smtpUrl: z
      .string()
      .max(2048)
      .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL')
      .nullable(),
    from: z.string().min(3).max(320),
  }),
  /**
   * The provider's operators, created at start when missing (each gets a mail to choose a password). Also:
   * `keyhouse admin create-operator --email …` on the server.
   */
  operators: z
    .array(
      z.strictObject({
        email: z.email().max(254).toLowerCase(),
        role: z.enum(['operator', 'operator-read-only']).default('operator'),
        language: z.enum(['de', 'en']).default('en'),
      }),
    )
    .max(100),
  /**
   * The Open Service Broker API under /osb: off (every /osb route answers 404) unless both credentials are set
   * (KEYHOUSE_OSB_USERNAME / KEYHOUSE_OSB_PASSWORD). Platforms authenticate with them by HTTP basic auth.
   */
  osb: z
    .strictObject({
      username: z
        .string()
        .regex(/^[\x21-\x39\x3b-\x7e]{1,100}$/, '1 to 100 visible ASCII characters without ":"')
        .nullable(),
      password: z.string().min(16, 'at least 16 characters').max(200).nullable(),
      /** Each platform organisation's Keyhouse organisation is billed to a copy of this profile. */
      defaultBillingProfile: billingProfileInputSchema,
    })
    .refine((osb) => (osb.username === null) === (osb.password === null), {
      message: 'set both username and password, or neither',
      path: ['password'],
    }),
  /** Per region with `driver: kubernetes`: its cluster and what is written there (see kubernetes-region-schema.ts). */
  kubernetes: z.record(idSchema, kubernetesRegionSchema).default({}),
});

export const configSchema = configObjectSchema.superRefine(checkKubernetesRegions);

export type Config = z.infer<typeof configSchema>;

/**
 * Every Kubernetes region has its cluster settings, with a node label for each zone and an image per version, and
 * no warm pool.
 */
function checkKubernetesRegions(config: z.infer<typeof configObjectSchema>, ctx: z.RefinementCtx) {
  const versions = config.catalog.serviceTypes.flatMap((type) => type.versions);
  for (const [index, region] of config.catalog.regions.entries()) {
    const settings = config.kubernetes[region.id];
    if (region.driver !== 'kubernetes') {
      if (settings)
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', region.id],
          message: `region "${region.id}" has driver "${region.driver}", not kubernetes`,
        });
      continue;
    }
    if (!settings) {
      ctx.addIssue({
        code: 'custom',
        path: ['catalog', 'regions', index, 'driver'],
        message: `a kubernetes region needs its cluster settings under kubernetes.${region.id}`,
      });
      continue;
    }
    // A warm-pool member waits as a ready Keycloak with its temporary admin; on Kubernetes that would be a namespace
    // of operator objects per member, and the pool's claim, refill and warm-up are built for the local backend.
    if (region.warmPool.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['catalog', 'regions', index, 'warmPool'],
        message: 'warm pools are for local regions only; a kubernetes region provisions every order cold',
      });
    const zoneIds = region.zones.map((zone) => zone.id);
    for (const zoneId of zoneIds)
      if (!settings.zones[zoneId])
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', region.id, 'zones'],
          message: `no topology.kubernetes.io/zone value for zone "${zoneId}"`,
        });
    for (const zoneId of Object.keys(settings.zones))
      if (!zoneIds.includes(zoneId))
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', region.id, 'zones', zoneId],
          message: `region "${region.id}" has no zone "${zoneId}"`,
        });
    for (const version of versions)
      if (!settings.keycloakImages[version])
        ctx.addIssue({
          code: 'custom',
          path: ['kubernetes', region.id, 'keycloakImages'],
          message: `no image for Keycloak ${version} of the catalog`,
        });
  }
  for (const regionId of Object.keys(config.kubernetes))
    if (!config.catalog.regions.some((region) => region.id === regionId))
      ctx.addIssue({
        code: 'custom',
        path: ['kubernetes', regionId],
        message: `the catalog has no region "${regionId}"`,
      });
}
