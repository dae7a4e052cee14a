import { z } from 'zod';
import { queryNumber } from '../platform/query-schemas.js';
import { emailSchema } from '../accounts/account-schemas.js';
import { operatorRoleSchema } from '../accounts/roles.js';
import { conditionSchema } from '../instances/instance-schemas.js';
import {
  failureReasonPartsSchema,
  failureReasonSchema,
  orderSchema,
  orderStatusSchema,
  orderStepSchema,
  orderTypeSchema,
} from '../orders/order-schemas.js';
import { pageQuerySchema } from '../platform/pagination.js';
import { identifierSchema } from '../platform/text-schemas.js';

/** Shapes of the operator console (the API under /api/v1/ops and the portal's /ops pages). */

export const createOperatorRequestSchema = z.strictObject({
  email: emailSchema,
  role: operatorRoleSchema.default('operator'),
});
export type CreateOperatorRequest = z.input<typeof createOperatorRequestSchema>;

/** The organisation an order or instance belongs to, as operators see it. */
export const organizationRefSchema = z.object({ id: z.uuid(), name: z.string(), customerNumber: z.string() });

/** A region's id as a filter: one the catalogue does not know simply matches nothing. */
export const regionFilterSchema = identifierSchema(63);

export const opsOrderFilterSchema = pageQuerySchema.extend({
  status: orderStatusSchema.optional(),
  type: orderTypeSchema.optional(),
  region: regionFilterSchema.optional(),
  organizationId: z.uuid().optional(),
  /** Only orders processing for longer than this many minutes (stuck ones). */
  processingLongerThanMinutes: queryNumber(z.coerce.number().int().min(0).max(100_000)).optional(),
});
export type OpsOrderFilter = z.infer<typeof opsOrderFilterSchema>;

export const opsOrderSummarySchema = z.object({
  id: z.uuid(),
  type: orderTypeSchema,
  status: orderStatusSchema,
  attempt: z.int(),
  region: z.string(),
  instanceId: z.uuid(),
  instanceName: z.string(),
  organization: organizationRefSchema,
  failureReason: failureReasonSchema,
  failureReasonParts: failureReasonPartsSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type OpsOrderSummary = z.infer<typeof opsOrderSummarySchema>;

export const opsOrderDetailSchema = orderSchema.extend({
  instanceName: z.string(),
  organization: organizationRefSchema,
  /** The driver's error detail: what went wrong technically (the customer reads only failureReason). */
  operatorDetail: z.string().nullable(),
  attempts: z.array(
    z.object({
      attempt: z.int(),
      steps: z.array(orderStepSchema),
      failureReason: failureReasonSchema,
      failureReasonParts: failureReasonPartsSchema,
      operatorDetail: z.string().nullable(),
      finishedAt: z.string(),
      retriedBy: z.string().nullable(),
    }),
  ),
  /** The last lines of the instance's Keycloak log, secrets cut out; null while it has none or it cannot be read. */
  logTail: z.string().nullable(),
});
export type OpsOrderDetail = z.infer<typeof opsOrderDetailSchema>;

/** Retrying names the attempt that failed: a second click on the same attempt retries nothing more. */
export const retryOrderRequestSchema = z.strictObject({ attempt: z.int().min(1) });

export const opsInstanceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.string(),
  version: z.string(),
  nodeSize: z.string(),
  storageGb: z.int(),
  region: z.string(),
  url: z.string().nullable(),
  conditions: z.array(conditionSchema),
  organization: organizationRefSchema,
  createdAt: z.string(),
});
export type OpsInstance = z.infer<typeof opsInstanceSchema>;

export const regionCapacitySchema = z.object({
  region: z.string(),
  name: z.string(),
  driver: z.string(),
  instances: z.int(),
  maxInstances: z.int(),
  /** Memory the active instances' node sizes ask for, in GB. */
  memoryGb: z.number(),
  processingOrders: z.int(),
  concurrentOrders: z.int(),
  waitingOrders: z.int(),
  /** Ready warm-pool members; null: the region has no warm pool. */
  warmPool: z.int().nullable(),
});
export type RegionCapacity = z.infer<typeof regionCapacitySchema>;
