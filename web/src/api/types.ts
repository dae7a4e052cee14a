import type { PublicCatalog } from '../../../src/catalog/catalog-service';
import type { AccountRole, Role } from '../../../src/accounts/roles';
import type { z } from 'zod';
import type { auditEventSchema } from '../../../src/audit/audit-schemas';
import type { Usage } from '../../../src/billing/usage-schemas';
import type { Backup, BackupPolicy, InstanceBackups } from '../../../src/backups/backup-schemas';
import type { Condition, Instance } from '../../../src/instances/instance-schemas';
import type { Order, OrderStatus, OrderStep, priceSchema } from '../../../src/orders/order-schemas';

export type { Backup, BackupPolicy, InstanceBackups, PublicCatalog, Role, Usage };

/** GET /api/v1/audit-events: who did what, when, from where. */
export type AuditEvent = z.infer<typeof auditEventSchema>;

/** Shapes of the REST API v1 (docs: /docs, contract: design.md). */
export type Session = {
  user: { id: string; email: string; role: AccountRole; twoFactorEnabled?: boolean; language?: 'de' | 'en' };
  /** Null for the provider's operators. */
  organization: { id: string; name: string; customerNumber: string; requireTwoFactor?: boolean } | null;
  /** The organisation requires a second factor that this user has not set up yet. */
  mustEnrolTwoFactor?: boolean;
  csrfToken?: string;
  /** The address the server sees for this browser; offered as a trusted source. */
  sourceAddress?: string;
};

/** Orders, instances and their parts: the server's response schemas, so the portal reads what the API sends. */
export type Price = z.infer<typeof priceSchema>;
export type { Condition, Instance, Order, OrderStatus, OrderStep };

export type BillingProfileInput = {
  company: string;
  street: string;
  postalCode: string;
  city: string;
  country: string;
  vatId?: string;
  invoiceEmail: string;
};
export type BillingProfile = BillingProfileInput & { id: string; createdAt?: string };

export type Ticket = {
  id: string;
  subject: string;
  message: string;
  status?: string;
  orderId?: string | null;
  instanceId?: string | null;
  createdAt: string;
};

export type Member = {
  id: string;
  email: string;
  role: Role;
  twoFactorEnabled?: boolean;
  status?: string;
  createdAt?: string;
};

export type Invitation = {
  id?: string;
  email: string;
  role: Role;
  invitationUrl: string;
  expiresAt?: string;
};

export type List<T> = { items: T[]; nextCursor?: string | null };

/** A field at fault: the English message, and its code with parameters for a translation (web/src/messages.ts). */
export type FieldError = {
  path: string;
  message: string;
  code?: string;
  params?: Record<string, string | number>;
};
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId?: string;
  errors?: FieldError[];
  /** 409 of a change order: the order of the instance that still runs (/api/v1/orders/{id}). */
  runningOrder?: string;
  /** 401 of a login: the password was right, the second factor is missing or wrong. */
  twoFactorRequired?: boolean;
  /** A code for refusals the portal words in the reader's language (provider.problems.<reason>). */
  reason?: string;
};
