import os from 'node:os';
import { z } from 'zod';
import { backupRulesSchema, DEFAULT_BACKUP_RULES } from '../backups/backup-schemas.js';

/**
 * The catalog: what a customer can order. It lives in the configuration file and is served unchanged (minus
 * operator-only fields) by GET /api/v1/catalog. Money is written as decimal strings so no float ever touches a price.
 */

export const idSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'use lower-case letters, digits and inner dashes');

/** EUR per hour with at most 4 decimals, e.g. "0.11". */
export const hourlyPriceSchema = z
  .string()
  .regex(/^\d{1,6}(\.\d{1,4})?$/, 'a decimal amount with at most 4 decimals');
/** EUR per month with at most 2 decimals, e.g. "14.30". */
export const monthlyPriceSchema = z
  .string()
  .regex(/^\d{1,7}(\.\d{1,2})?$/, 'a decimal amount with at most 2 decimals');

export const keycloakVersionSchema = z
  .string()
  .regex(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/, 'a Keycloak release such as 26.5.6');

export const serviceTypeSchema = z.strictObject({
  id: idSchema,
  name: z.string().min(1).max(80),
  versions: z.array(keycloakVersionSchema).min(1).max(20),
});

export const nodeSizeSchema = z.strictObject({
  id: idSchema,
  family: z.enum(['basic', 'all-purpose', 'ram-optimised', 'cpu-optimised']),
  vcpu: z.int().min(1).max(256),
  memoryGb: z.int().min(1).max(2048),
  pricePerHour: hourlyPriceSchema,
});

export const storageRulesSchema = z
  .strictObject({
    minGb: z.int().min(1).max(65536),
    maxGb: z.int().min(1).max(65536),
    stepGb: z.int().min(1).max(65536),
    pricePerStepPerMonth: monthlyPriceSchema,
  })
  .refine((s) => s.minGb <= s.maxGb, { message: 'minGb must not exceed maxGb', path: ['maxGb'] })
  .refine((s) => s.minGb % s.stepGb === 0 && s.maxGb % s.stepGb === 0, {
    message: 'minGb and maxGb must be multiples of stepGb',
    path: ['stepGb'],
  });

const prefixBoundsSchema = (bits: number) =>
  z
    .strictObject({ min: z.int().min(1).max(bits), max: z.int().min(1).max(bits) })
    .refine((b) => b.min <= b.max, { message: 'min must not exceed max', path: ['min'] });

/** Memory a host keeps for the OS, PostgreSQL, HAProxy and Keyhouse itself (GiB). */
const HOST_RESERVE_GIB = 2;
/**
 * Memory counted per instance (GiB): an idle b2-4 Keycloak holds 376 MB RSS on average, 418 MB at most (8 of them,
 * bench/density.ts, docs/benchmarks.md); the rest is room for its heap to grow under load. The second Keycloak of a switch (scale, restart) counts as one more instance.
 */
const INSTANCE_GIB = 1.25;

/** The instances a host with `totalBytes` of memory takes: what is left after the reserve, per instance. */
export function instancesForHostMemory(totalBytes: number): number {
  return Math.max(1, Math.floor((totalBytes / 2 ** 30 - HOST_RESERVE_GIB) / INSTANCE_GIB));
}

export const zoneSchema = z.strictObject({ id: idSchema, name: z.string().min(1).max(80) });

/**
 * Operator-only: instances of one (version, node size) that the region keeps provisioned ahead of time, in its
 * first zone, for create orders to claim (src/warm-pool). They count against the region's capacity.
 */
export const warmPoolEntrySchema = z.strictObject({
  version: keycloakVersionSchema,
  nodeSize: idSchema,
  count: z.int().min(1).max(100),
});
export type WarmPoolEntry = z.infer<typeof warmPoolEntrySchema>;

export const regionSchema = z.strictObject({
  id: idSchema,
  name: z.string().min(1).max(80),
  /** Which backend provisions instances of this region. */
  driver: z.enum(['local', 'kubernetes']),
  /**
   * A public region accepts only public unicast trusted sources; the built-in `local` region (this machine) also
   * accepts loopback and private ranges, so that it can be tried without a public address.
   */
  public: z.boolean(),
  zones: z.array(zoneSchema).min(1).max(10),
  trustedSourcePrefixes: z
    .strictObject({ ipv4: prefixBoundsSchema(32), ipv6: prefixBoundsSchema(128) })
    .default({ ipv4: { min: 24, max: 32 }, ipv6: { min: 48, max: 128 } }),
  /**
   * Operator-only: how many instances the region holds and how many orders it provisions at once. `host-memory`
   * derives the number from this host's memory (`instancesForHostMemory`), for a local region on this host.
   */
  capacity: z
    .strictObject({
      maxInstances: z.union([
        z.int().min(1).max(100_000),
        z.literal('host-memory').transform(() => instancesForHostMemory(os.totalmem())),
      ]),
      concurrentOrders: z.int().min(1).max(64),
    })
    .default({ maxInstances: 20, concurrentOrders: 2 }),
  /** Operator-only: the warm pool (none unless configured). */
  warmPool: z.array(warmPoolEntrySchema).max(20).default([]),
});

export const termsSchema = z.strictObject({
  version: z.string().min(1).max(40),
  url: z.url().max(500),
});

export const catalogSchema = z
  .strictObject({
    currency: z.literal('EUR'),
    serviceTypes: z.array(serviceTypeSchema).min(1).max(10),
    nodeSizes: z.array(nodeSizeSchema).min(1).max(50),
    storage: storageRulesSchema,
    regions: z.array(regionSchema).min(1).max(50),
    terms: termsSchema,
    /** Retention bounds and the price of nightly backups kept beyond the included ones (src/backups). */
    backups: backupRulesSchema
      .refine((rules) => rules.includedRetention <= rules.maxRetention, {
        message: 'includedRetention must not exceed maxRetention',
        path: ['maxRetention'],
      })
      .default(DEFAULT_BACKUP_RULES),
  })
  .superRefine((catalog, ctx) => {
    for (const [key, list] of [
      ['serviceTypes', catalog.serviceTypes],
      ['nodeSizes', catalog.nodeSizes],
      ['regions', catalog.regions],
    ] as const) {
      const seen = new Set<string>();
      list.forEach((item, index) => {
        if (seen.has(item.id))
          ctx.addIssue({ code: 'custom', path: [key, index, 'id'], message: `duplicate id "${item.id}"` });
        seen.add(item.id);
      });
    }
    const versions = new Set(catalog.serviceTypes.flatMap((type) => type.versions));
    catalog.regions.forEach((region, r) => {
      const pools = new Set<string>();
      region.warmPool.forEach((entry, e) => {
        const path = ['regions', r, 'warmPool', e];
        if (!versions.has(entry.version))
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'version'],
            message: 'not a version of the catalog',
          });
        if (!catalog.nodeSizes.some((size) => size.id === entry.nodeSize))
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'nodeSize'],
            message: 'not a node size of the catalog',
          });
        const key = `${entry.version}/${entry.nodeSize}`;
        if (pools.has(key))
          ctx.addIssue({
            code: 'custom',
            path,
            message: `a second pool of ${entry.version} ${entry.nodeSize}`,
          });
        pools.add(key);
      });
      const members = region.warmPool.reduce((sum, entry) => sum + entry.count, 0);
      if (members >= region.capacity.maxInstances)
        ctx.addIssue({
          code: 'custom',
          path: ['regions', r, 'warmPool'],
          message: `${members} pool members leave no room for orders in capacity.maxInstances ${region.capacity.maxInstances}`,
        });
    });
  });

export type Catalog = z.infer<typeof catalogSchema>;
export type NodeSize = z.infer<typeof nodeSizeSchema>;
export type Region = z.infer<typeof regionSchema>;
export type StorageRules = z.infer<typeof storageRulesSchema>;
