import { z } from 'zod';
import { coded, codedIssue } from '../platform/messages.js';
import { textSchema } from '../platform/text-schemas.js';
import { isTimeZone, WEEKDAYS, windowGapsMinutes, MIN_WINDOW_GAP_MINUTES } from './backup-windows.js';

/**
 * The shapes of backups, restores and the backup policy, shared by the REST API, the portal, the CLI and the
 * stores. Browser-safe: only zod and Intl.
 */

/** The catalog's rules for backups: how many nightly backups an instance may keep, and what the extra ones cost. */
export const backupRulesSchema = z.strictObject({
  /** Nightly backups included in the instance price; also the smallest retention. */
  includedRetention: z.int().min(1).max(365),
  maxRetention: z.int().min(1).max(365),
  /** EUR per nightly backup kept beyond the included ones, per storage step (e.g. 50 GB) and month. */
  pricePerExtraNightPerStepPerMonth: z
    .string()
    .regex(/^\d{1,7}(\.\d{1,2})?$/, 'a decimal amount, 2 decimals'),
});
export type BackupRules = z.infer<typeof backupRulesSchema>;
export const DEFAULT_BACKUP_RULES: BackupRules = {
  includedRetention: 7,
  maxRetention: 90,
  pricePerExtraNightPerStepPerMonth: '0.29',
};

const windowsShape = {
  /** IANA time zone of both windows, e.g. Europe/Berlin; daylight-saving changes included. */
  timeZone: z.string().max(64),
  /** The nightly backup runs in the 2 hours from this hour. */
  backupWindow: z.strictObject({ startHour: z.int().min(0).max(23) }),
  /** Patches are applied in the 2.5 hours from this hour on this weekday. */
  maintenanceWindow: z.strictObject({ day: z.enum(WEEKDAYS), startHour: z.int().min(0).max(23) }),
};

/** As stored in an instance's desired spec (checked on the way in by `backupPolicySchema`). */
export const storedBackupPolicySchema = z.object({ retention: z.int(), ...windowsShape });
export type BackupPolicy = z.infer<typeof storedBackupPolicySchema>;

export const DEFAULT_BACKUP_POLICY: BackupPolicy = {
  retention: 7,
  timeZone: 'Europe/Berlin',
  backupWindow: { startHour: 1 },
  maintenanceWindow: { day: 'sunday', startHour: 6 },
};

/** An instance's policy; instances ordered before backups existed have the defaults. */
export function backupPolicyOf(spec: { backups?: BackupPolicy }): BackupPolicy {
  return spec.backups ?? DEFAULT_BACKUP_POLICY;
}

/** A policy the customer asks for: retention within the catalog's bounds, windows 2.5 hours apart. */
export function backupPolicySchema(rules: BackupRules) {
  return z
    .strictObject({
      retention: z
        .int(coded('backup.retention', { min: rules.includedRetention, max: rules.maxRetention }))
        .min(rules.includedRetention, coded('backup.retentionAtLeast', { min: rules.includedRetention }))
        .max(rules.maxRetention, coded('backup.retentionAtMost', { max: rules.maxRetention })),
      ...windowsShape,
      timeZone: windowsShape.timeZone.refine(isTimeZone, coded('backup.timeZone')),
    })
    .superRefine((policy, ctx) => {
      if (!isTimeZone(policy.timeZone)) return;
      const gaps = windowGapsMinutes(policy);
      if (gaps.afterBackup < MIN_WINDOW_GAP_MINUTES || gaps.afterMaintenance < MIN_WINDOW_GAP_MINUTES)
        ctx.addIssue(codedIssue('backup.windowGap', {}, ['maintenanceWindow', 'startHour']));
    });
}

export const backupKindSchema = z.enum(['nightly', 'on-demand', 'pre-upgrade', 'pre-restore']);
export type BackupKind = z.infer<typeof backupKindSchema>;
export const backupStatusSchema = z.enum(['pending', 'running', 'done', 'failed', 'expiring']);
export type BackupStatus = z.infer<typeof backupStatusSchema>;

export const backupSchema = z.object({
  id: z.uuid(),
  instanceId: z.uuid(),
  kind: backupKindSchema,
  /** Nightly backups: the local date of their backup window. */
  night: z.string().nullable(),
  /** On-demand, pre-upgrade and pre-restore backups: the order that took them. */
  orderId: z.uuid().nullable(),
  status: backupStatusSchema,
  keycloakVersion: z.string(),
  postgresMajor: z.int().nullable(),
  sizeBytes: z.number().nullable(),
  sha256: z.string().nullable(),
  durationMs: z.int().nullable(),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** When it will be removed: nightly ones by retention (null: kept while among the newest), others by age. */
  expiresAt: z.string().nullable(),
});
export type Backup = z.infer<typeof backupSchema>;

const timeWindowSchema = z.object({ start: z.string(), end: z.string() });

export const backupKeySchema = z.object({
  fingerprint: z.string(),
  userIds: z.array(z.string()),
  uploadedAt: z.string(),
});

/** GET /api/v1/instances/{id}/backups */
export const instanceBackupsSchema = z.object({
  policy: storedBackupPolicySchema,
  /** The monthly price of the nightly backups kept beyond the included ones ("0.00" within them). */
  retentionPricePerMonth: z.string(),
  nextBackupWindow: timeWindowSchema,
  nextMaintenanceWindow: timeWindowSchema,
  /** The patch release the next maintenance window will apply, if the catalog has one. */
  nextPatch: z.object({ version: z.string(), plannedFor: z.string() }).nullable(),
  encryptionKey: backupKeySchema.nullable(),
  items: z.array(backupSchema),
});
export type InstanceBackups = z.infer<typeof instanceBackupsSchema>;

/** The longest armored key kept (the column's bound). */
export const MAX_ARMORED_KEY_LENGTH = 65536;

/** PUT /api/v1/instances/{id}/backup-key: an ASCII-armored OpenPGP public key. */
export const backupKeyUploadSchema = z.strictObject({
  publicKey: textSchema({ max: MAX_ARMORED_KEY_LENGTH, multiline: true }).refine(
    (text) => text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----'),
    coded('backup.publicKey'),
  ),
});

/** On a create order: the new instance starts from this backup of another of the organisation's instances. */
export const restoreFromSchema = z.strictObject({ instanceId: z.uuid(), backupId: z.uuid() });
export type RestoreFrom = z.infer<typeof restoreFromSchema>;

/** Keycloak's realm names: what its admin console accepts, bounded. */
const realmNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, coded('realm.name'));

/** Export one realm as Keycloak's JSON (users optional: without their passwords, which Keycloak never hands out). */
const realmExportOrderSchema = z.strictObject({
  type: z.literal('realm-export'),
  realm: realmNameSchema,
  includeUsers: z.boolean(),
});

/** Create a realm on this instance from an earlier export of any of the organisation's instances. */
const realmImportOrderSchema = z.strictObject({
  type: z.literal('realm-import'),
  exportOrderId: z.uuid(coded('realm.exportOrderId')),
  /** The new realm's name; default the exported realm's. */
  realmName: realmNameSchema.optional(),
});

export const realmExportSchema = z.object({
  orderId: z.uuid(),
  instanceId: z.uuid(),
  realm: z.string(),
  users: z.int(),
  sizeBytes: z.int(),
  createdAt: z.string(),
});

/** The bodies of this module's change orders as the API documents them, bounded; the service checks the rules. */
export const backupChangeOrderBodySchemas = [
  z.strictObject({ type: z.literal('backup') }),
  z.strictObject({ type: z.literal('restore'), backupId: z.uuid(), confirmName: z.string().max(63) }),
  z.strictObject({
    type: z.literal('backup-policy'),
    policy: z.strictObject({ retention: z.int().min(0).max(1000), ...windowsShape }),
  }),
  realmExportOrderSchema,
  realmImportOrderSchema,
] as const;

/** The change orders of this module, checked against the instance (see changeOrderRequestSchema). */
export function backupChangeOrderSchemas(rules: BackupRules, instance: { name: string }) {
  return [
    z.strictObject({ type: z.literal('backup') }),
    z.strictObject({
      type: z.literal('restore'),
      backupId: z.uuid(coded('backup.id')),
      confirmName: z
        .string()
        .max(63)
        .refine((name) => name === instance.name, coded('order.confirmName', { name: instance.name })),
    }),
    z.strictObject({ type: z.literal('backup-policy'), policy: backupPolicySchema(rules) }),
    realmExportOrderSchema,
    realmImportOrderSchema,
  ] as const;
}
