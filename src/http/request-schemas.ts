import { z } from 'zod';
import { coded } from '../platform/messages.js';

/** Optional header that makes retries of a POST safe. Loose: the other headers must stay on the request. */
export const idempotencyHeadersSchema = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, coded('format.idempotencyKey'))
    .optional(),
});

export const idParamsSchema = z.object({ id: z.uuid(coded('format.uuid')) });
