import { z } from 'zod';
import { queryNumber } from '../platform/query-schemas.js';
import { coded } from '../platform/messages.js';
import { cursorSchema } from '../platform/pagination.js';

export const auditQuerySchema = z.strictObject({
  limit: queryNumber(z.coerce.number().int().min(1).max(100).default(50)),
  cursor: cursorSchema('serial').optional(),
  action: z
    .string()
    .max(100)
    .regex(/^[a-z0-9.:-]+$/, coded('format.auditAction'))
    .optional(),
});
export type AuditQuery = z.output<typeof auditQuerySchema>;

export const auditEventSchema = z.object({
  id: z.string(),
  /** Who: the user's e-mail, or "system" for the platform's own steps. */
  actor: z.string(),
  actorUserId: z.uuid().nullable(),
  /** What, e.g. order.scale, instance.deletion-protection, instance.credentials.reveal. */
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  outcome: z.enum(['success', 'failure']),
  /** From where: the client address the request came from. */
  sourceAddress: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  /** When. */
  createdAt: z.string(),
});

export const auditPageSchema = z.object({
  items: z.array(auditEventSchema),
  nextCursor: z.string().nullable(),
});
