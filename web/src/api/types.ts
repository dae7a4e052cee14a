import type { PublicCatalog } from '../../../src/catalog/catalog-service';
import type { Role } from '../../../src/accounts/roles';

export type { PublicCatalog, Role };

/** Shapes of the REST API v1 (docs: /docs, contract: design.md). */
export type Session = {
  user: { id: string; email: string; role: Role };
  organization: { id: string; name: string; customerNumber: string };
  csrfToken?: string;
  /** The address the server sees for this browser; offered as a trusted source. */
  sourceAddress?: string;
};

export type Price = { currency: string; perHour: string; perMonth: string };

export type OrderStatus = 'new' | 'processing' | 'done' | 'failed';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | string;

export type OrderStep = {
  name: string;
  status: StepStatus;
  startedAt?: string | null;
  finishedAt?: string | null;
};

export type Order = {
  id: string;
  type: string;
  status: OrderStatus;
  steps: OrderStep[];
  instanceId?: string | null;
  price?: Price | null;
  failureReason?: string | null;
  createdAt: string;
  updatedAt: string;
};

export type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
};

export type Instance = {
  id: string;
  name: string;
  status: string;
  serviceType: string;
  version: string;
  nodeSize: string;
  storageGb: number;
  trustedSources: string[];
  region: string;
  zone?: string | null;
  url?: string | null;
  adminUsername?: string | null;
  conditions: Condition[];
  usage?: { storageUsedGb?: number; [key: string]: unknown } | null;
};

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

export type FieldError = { path: string; message: string };
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  requestId?: string;
  errors?: FieldError[];
};
