import { z } from 'zod';

/** Optional header that makes retries of a POST safe. Loose: the other headers must stay on the request. */
export const idempotencyHeadersSchema = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, '1 to 200 visible ASCII characters, e.g. a UUID')
    .optional(),
});

export const idParamsSchema = z.object({ id: z.uuid('not a valid id') });
