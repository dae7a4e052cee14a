import { z } from 'zod';
import { textSchema } from '../platform/text-schemas.js';

/** A support ticket as entered in the portal (browser-safe); the failed-order page prefills it. */
export const ticketInputSchema = z.strictObject({
  subject: textSchema({ min: 3, max: 200 }),
  message: textSchema({ max: 10_000, multiline: true }),
  orderId: z.uuid().optional(),
  instanceId: z.uuid().optional(),
});
export type TicketInput = z.output<typeof ticketInputSchema>;

export const ticketSchema = z.object({
  id: z.uuid(),
  number: z.int(),
  subject: z.string(),
  message: z.string(),
  orderId: z.uuid().nullable(),
  instanceId: z.uuid().nullable(),
  status: z.enum(['open', 'closed']),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Ticket = z.infer<typeof ticketSchema>;
