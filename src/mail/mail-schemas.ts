import { z } from 'zod';
import { languageSchema } from '../accounts/account-schemas.js';
import { messagePartsSchema, orderStatusSchema, orderTypeSchema } from '../orders/order-schemas.js';

/**
 * The e-mails Keyhouse sends, each with the template data it carries in the outbox. Data is never secret: a secret
 * part (the token of a link) travels sealed beside it and is wiped once the mail is sent.
 */
export const mailDataSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('order-finished'),
    orderId: z.uuid(),
    orderType: orderTypeSchema,
    status: orderStatusSchema.extract(['done', 'failed']),
    attempt: z.int(),
    instanceName: z.string().max(63),
    failureReason: z.string().max(2000).nullable(),
    /** The reason's coded parts (orders' `failure_reason_parts`), so that a German mail says it in German. */
    failureReasonParts: messagePartsSchema.nullable().optional(),
  }),
  z.object({
    kind: z.literal('ticket-reply'),
    ticketId: z.uuid(),
    number: z.int(),
    subject: z.string().max(200),
    /** Who wrote the reply: an operator's reply goes to the customer and the other way round. */
    from: z.enum(['operator', 'customer']),
    excerpt: z.string().max(2000),
  }),
  z.object({
    kind: z.literal('invitation'),
    organizationName: z.string().max(120),
    role: z.string().max(40),
    invitedBy: z.string().max(254),
  }),
  z.object({ kind: z.literal('password-reset'), validMinutes: z.int() }),
]);
export type MailData = z.infer<typeof mailDataSchema>;

export const mailStateSchema = z.enum(['pending', 'sending', 'sent', 'unconfirmed']);
export type MailState = z.infer<typeof mailStateSchema>;

/** A mail as the operator console lists it (no body, no secret). */
export const outboxMailSchema = z.object({
  id: z.uuid(),
  kind: z.string(),
  recipient: z.string(),
  language: languageSchema,
  state: mailStateSchema,
  messageId: z.string().nullable(),
  attempts: z.int(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
export type OutboxMail = z.infer<typeof outboxMailSchema>;
