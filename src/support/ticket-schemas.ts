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

/** open: waits for the provider; waiting: the provider answered and waits for the customer; closed. */
export const ticketStatusSchema = z.enum(['open', 'waiting', 'closed']);
export type TicketStatus = z.infer<typeof ticketStatusSchema>;

export const ticketSchema = z.object({
  id: z.uuid(),
  number: z.int(),
  subject: z.string(),
  message: z.string(),
  orderId: z.uuid().nullable(),
  instanceId: z.uuid().nullable(),
  status: ticketStatusSchema,
  createdBy: z.string(),
  createdAt: z.string(),
});
export type Ticket = z.infer<typeof ticketSchema>;

/** A reply in a ticket's conversation, from the customer's side or the provider's. */
export const ticketReplySchema = z.object({
  id: z.uuid(),
  authorKind: z.enum(['customer', 'operator']),
  /** The customer's e-mail; for the provider just "Keyhouse support" to customers, the operator's e-mail to operators. */
  author: z.string(),
  message: z.string(),
  createdAt: z.string(),
});
export type TicketReply = z.infer<typeof ticketReplySchema>;

export const ticketDetailSchema = ticketSchema.extend({ replies: z.array(ticketReplySchema) });
export type TicketDetail = z.infer<typeof ticketDetailSchema>;

export const ticketReplyInputSchema = z.strictObject({
  message: textSchema({ max: 10_000, multiline: true }),
});

/** An operator's reply may set the status at once (default: waiting for the customer). */
export const operatorTicketReplyInputSchema = ticketReplyInputSchema.extend({
  status: ticketStatusSchema.optional(),
});

export const ticketStatusPatchSchema = z.strictObject({ status: ticketStatusSchema });
