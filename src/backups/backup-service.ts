import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Catalog } from '../catalog/catalog-schemas.js';
import { formatAmount, retentionPricePerMonth } from '../catalog/pricing.js';
import type { Database } from '../db/database.js';
import type { Condition } from '../instances/instance-schemas.js';
import { findInstance, type StoredInstance } from '../instances/instance-store.js';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../platform/errors.js';
import { fieldError } from '../platform/field-errors.js';
import type { MessageCode, MessageParams } from '../platform/messages.js';
import { plainText } from '../platform/text-schemas.js';
import { nextPatchVersion } from './schedule-rules.js';
import {
  backupPolicyOf,
  MAX_ARMORED_KEY_LENGTH,
  type Backup,
  type InstanceBackups,
} from './backup-schemas.js';
import {
  findBackup,
  findBackupKey,
  latestNightlyBackups,
  listBackups,
  upsertBackupKey,
  type StoredBackup,
} from './backup-store.js';
import { nextBackupWindow, nextMaintenanceWindow } from './backup-windows.js';
import { backupExpiresAt } from './retention.js';
import { findRealmExport } from './realm-transfer.js';
import type { SecretBox } from '../platform/secret-box.js';

/**
 * What customers do with backups besides ordering them: list them with the windows and the next patch, upload the
 * OpenPGP key that downloads are encrypted to, and download a backup (audited; without a key, no download).
 */

const publicBackup = (backup: StoredBackup): Backup => ({
  id: backup.id,
  instanceId: backup.instanceId,
  kind: backup.kind,
  night: backup.night,
  orderId: backup.orderId,
  status: backup.status,
  keycloakVersion: backup.keycloakVersion,
  postgresMajor: backup.postgresMajor,
  sizeBytes: backup.sizeBytes,
  sha256: backup.sha256,
  durationMs: backup.durationMs,
  failureReason: backup.failureReason,
  createdAt: backup.createdAt,
  startedAt: backup.startedAt,
  finishedAt: backup.finishedAt,
  expiresAt: backupExpiresAt(backup),
});

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The instance's backup condition, from its latest finished nightly backup: a failed night shows on the instance
 * until a later one succeeds.
 */
export function backupCondition(latest: StoredBackup | undefined): Condition | undefined {
  if (!latest) return undefined;
  const at = latest.finishedAt ?? latest.createdAt;
  return latest.status === 'failed'
    ? {
        type: 'BackupSucceeded',
        status: 'False',
        reason: 'NightlyBackupFailed',
        message: `The nightly backup of ${latest.night} failed: ${latest.failureReason ?? 'unknown reason'}`,
        lastTransitionTime: at,
      }
    : {
        type: 'BackupSucceeded',
        status: 'True',
        reason: 'NightlyBackupDone',
        message: `The nightly backup of ${latest.night} succeeded.`,
        lastTransitionTime: at,
      };
}

/** Adds the backup condition to instances as the API shows them. */
export async function withBackupConditions<T extends { id: string; conditions: Condition[] }>(
  db: Database,
  instances: T[],
): Promise<T[]> {
  const latest = await latestNightlyBackups(
    db.pool,
    instances.map((i) => i.id),
  );
  return instances.map((instance) => {
    const condition = backupCondition(latest.get(instance.id));
    return condition ? { ...instance, conditions: [...instance.conditions, condition] } : instance;
  });
}

export type BackupReader = (
  instance: { id: string; name: string; spec: StoredInstance['spec'] },
  location: string,
) => Promise<Readable>;

export function createBackupService(deps: {
  db: Database;
  catalog: Catalog;
  now: () => Date;
  /** The region's driver's reader; undefined in a process without the worker role. */
  readBackup: BackupReader | undefined;
  secretBox: SecretBox;
}) {
  const { db, catalog } = deps;

  async function ownInstance(organizationId: string, id: string) {
    const instance = await findInstance(db.pool, organizationId, id);
    if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
    return instance;
  }

  return {
    async overview(organizationId: string, instanceId: string): Promise<InstanceBackups> {
      const instance = await ownInstance(organizationId, instanceId);
      const policy = backupPolicyOf(instance.spec);
      const now = deps.now().getTime();
      const backupWindow = nextBackupWindow(policy, now);
      const maintenance = nextMaintenanceWindow(policy, now);
      const patch = nextPatchVersion(catalog, instance.spec.serviceType, instance.spec.version);
      const key = await findBackupKey(db.pool, instance.id);
      return {
        policy,
        retentionPricePerMonth: formatAmount(retentionPricePerMonth(catalog, instance.spec), 2),
        nextBackupWindow: { start: iso(backupWindow.start), end: iso(backupWindow.end) },
        nextMaintenanceWindow: { start: iso(maintenance.start), end: iso(maintenance.end) },
        nextPatch: patch ? { version: patch, plannedFor: iso(maintenance.start) } : null,
        encryptionKey: key
          ? { fingerprint: key.fingerprint, userIds: key.userIds, uploadedAt: key.uploadedAt }
          : null,
        items: (await listBackups(db.pool, instance.id)).map(publicBackup),
      };
    },

    /** The OpenPGP public key downloads are encrypted to: one per instance, replaced by the next upload. */
    async uploadKey(actor: SignedInActor, instanceId: string, armoredKey: string) {
      const instance = await ownInstance(actor.principal.organizationId, instanceId);
      const invalid = (code: MessageCode, params: MessageParams = {}) =>
        new ValidationError([fieldError('publicKey', code, params)]);
      // OpenPGP's own words on what is wrong with the key, bounded and plain.
      const reasonOf = (error: unknown) => plainText((error as Error).message).slice(0, 200);
      let key: openpgp.Key;
      try {
        key = await openpgp.readKey({ armoredKey });
      } catch (error) {
        throw invalid('backup.keyUnreadable', { reason: reasonOf(error) });
      }
      if (key.isPrivate()) throw invalid('backup.keyPrivate');
      try {
        await key.getEncryptionKey();
      } catch (error) {
        throw invalid('backup.keyCannotEncrypt', { reason: reasonOf(error) });
      }
      // Kept in OpenPGP's standard armor, which may be longer than what was sent (other line lengths).
      const armored = key.armor();
      if (armored.length > MAX_ARMORED_KEY_LENGTH)
        throw invalid('backup.keyTooLarge', { max: MAX_ARMORED_KEY_LENGTH });
      const stored = await db.transaction(async (tx) => {
        const saved = await upsertBackupKey(tx, instance.id, {
          armoredKey: armored,
          fingerprint: key.getFingerprint(),
          // User ids are only shown; a key may carry any bytes in them, NUL included, which PostgreSQL refuses.
          userIds: key
            .getUserIDs()
            .map((id) => plainText(id).slice(0, 200))
            .slice(0, 20),
          uploadedBy: actor.principal.userId,
        });
        await recordAudit(tx, actor, {
          action: 'instance.backup-key',
          targetType: 'instance',
          targetId: instance.id,
          details: { fingerprint: saved.fingerprint },
        });
        return saved;
      });
      return { fingerprint: stored.fingerprint, userIds: stored.userIds, uploadedAt: stored.uploadedAt };
    },

    /** A finished realm export as Keycloak's JSON (audited). */
    async downloadRealmExport(actor: SignedInActor, orderId: string) {
      const exported = await findRealmExport(db.pool, actor.principal.organizationId, orderId);
      if (!exported) throw new NotFoundError('Realm export');
      await recordAudit(db.pool, actor, {
        action: 'realm.export.download',
        targetType: 'order',
        targetId: orderId,
        details: { instanceId: exported.instanceId, realm: exported.realm, users: exported.users },
      });
      return { filename: `${exported.realm}-realm.json`, body: deps.secretBox.open(exported.sealedJson) };
    },

    /**
     * A finished backup as an OpenPGP message encrypted to the instance's key, streamed (the dump is never held in
     * memory or written decrypted anywhere else). Audited before the first byte leaves.
     */
    async download(actor: SignedInActor, instanceId: string, backupId: string) {
      const instance = await ownInstance(actor.principal.organizationId, instanceId);
      const backup = await findBackup(db.pool, actor.principal.organizationId, instance.id, backupId);
      if (!backup) throw new NotFoundError('Backup');
      if (backup.status !== 'done' || !backup.location)
        throw new ConflictError(`This backup is ${backup.status}; only finished backups can be downloaded.`);
      const key = await findBackupKey(db.pool, instance.id);
      if (!key)
        throw new ConflictError(
          'Upload an OpenPGP public key for this instance first (PUT /api/v1/instances/{id}/backup-key): backups are ' +
            'only downloaded encrypted to it.',
        );
      if (!deps.readBackup) throw new UnavailableError('Backups cannot be read by this Keyhouse process.');
      const plain = await deps.readBackup(instance, backup.location);
      const encrypted = await openpgp.encrypt({
        message: await openpgp.createMessage({ binary: Readable.toWeb(plain) as ReadableStream<Uint8Array> }),
        encryptionKeys: await openpgp.readKey({ armoredKey: key.armoredKey }),
        format: 'binary',
      });
      await recordAudit(db.pool, actor, {
        action: 'backup.download',
        targetType: 'backup',
        targetId: backup.id,
        details: { instanceId: instance.id, fingerprint: key.fingerprint, sha256: backup.sha256 },
      });
      const label = backup.night ?? backup.createdAt.slice(0, 10);
      return {
        filename: `${instance.name}-${label}-${backup.kind}.dump.pgp`,
        body: Readable.fromWeb(encrypted as import('node:stream/web').ReadableStream<Uint8Array>),
      };
    },
  };
}
export type BackupService = ReturnType<typeof createBackupService>;
