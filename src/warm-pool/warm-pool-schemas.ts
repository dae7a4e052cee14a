import { z } from 'zod';

/** One pool (region, version, node size) as the operator sees it: configured size, members by state, claims. */
export const warmPoolStatusSchema = z.object({
  region: z.string().max(63),
  version: z.string().max(20),
  nodeSize: z.string().max(63),
  /** Members the configuration asks for; 0 for a pool no longer configured (its members are being removed). */
  configured: z.int(),
  provisioning: z.int(),
  ready: z.int(),
  retiring: z.int(),
  /** Create orders that claimed a member / that found none ready (of a region with a warm pool). */
  hits: z.int(),
  misses: z.int(),
});
export type WarmPoolStatus = z.infer<typeof warmPoolStatusSchema>;
