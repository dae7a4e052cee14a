import type { z } from 'zod';
import type { sessionSummarySchema, totpEnrolmentSchema } from '../../../src/accounts/account-schemas';
import type {
  opsInstanceSchema,
  opsOrderDetailSchema,
  opsOrderSummarySchema,
  regionCapacitySchema,
} from '../../../src/operators/operator-schemas';
import type { outboxMailSchema } from '../../../src/mail/mail-schemas';
import type { ticketDetailSchema, ticketSchema, TicketStatus } from '../../../src/support/ticket-schemas';

/** Shapes of the provider's side of the API, inferred from the server's schemas (one schema per shape). */
export type OpsOrderSummary = z.infer<typeof opsOrderSummarySchema>;
export type OpsOrderDetail = z.infer<typeof opsOrderDetailSchema>;
export type OpsInstance = z.infer<typeof opsInstanceSchema>;
export type RegionCapacity = z.infer<typeof regionCapacitySchema>;
export type OutboxMail = z.infer<typeof outboxMailSchema>;
export type TicketDetail = z.infer<typeof ticketDetailSchema>;
export type OpsTicket = z.infer<typeof ticketSchema> & {
  organizationName: string;
  customerNumber: string;
  updatedAt: string;
};
export type SessionSummary = z.infer<typeof sessionSummarySchema>;
export type TotpEnrolment = z.infer<typeof totpEnrolmentSchema>;
export type { TicketStatus };
