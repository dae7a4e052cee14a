import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Queryable } from '../db/database.js';
import { findInstance, type StoredInstance } from '../instances/instance-store.js';
import {
  compareVersions,
  type ChangeOrderRequest,
  type CreateOrderRequest,
} from '../orders/order-schemas.js';
import { ValidationError, type FieldError } from '../platform/errors.js';
import { fieldError } from '../platform/field-errors.js';
import { findBackup } from './backup-store.js';
import { findRealmExport } from './realm-transfer.js';

/**
 * The checks of backup orders that need the database, made in the transaction that places the order, and what the
 * order keeps of them (`orders.details`): the backup a restore reads. A backup of another organisation is "not
 * found", like any of its resources.
 */

async function doneBackupOf(
  db: Queryable,
  organizationId: string,
  instanceId: string,
  backupId: string,
  path: string,
) {
  const backup = await findBackup(db, organizationId, instanceId, backupId);
  if (!backup) throw new ValidationError([fieldError(path, 'backup.unknown')]);
  if (backup.status !== 'done')
    throw new ValidationError([fieldError(path, 'backup.notDone', { status: backup.status })]);
  return backup;
}

/**
 * What backup and realm orders keep of their request: a restore in place reads a finished backup of the same
 * instance; a realm import a finished export of any of the organisation's instances.
 */
export async function backupOrderDetails(
  db: Queryable,
  instance: StoredInstance,
  change: ChangeOrderRequest,
): Promise<Record<string, unknown> | null> {
  switch (change.type) {
    case 'restore':
      await doneBackupOf(db, instance.organizationId, instance.id, change.backupId, 'backupId');
      return { backupId: change.backupId };
    case 'realm-export':
      return { realm: change.realm, includeUsers: change.includeUsers };
    case 'realm-import': {
      const exported = await findRealmExport(db, instance.organizationId, change.exportOrderId);
      if (!exported) throw new ValidationError([fieldError('exportOrderId', 'realm.exportUnknown')]);
      return { exportOrderId: change.exportOrderId, realmName: change.realmName ?? exported.realm };
    }
    default:
      return null;
  }
}

/**
 * A new instance restored from a backup of another instance of the organisation: the same or a larger node size
 * (memory and vCPUs) and storage, and a Keycloak version no older than the one the backup was taken with (Keycloak
 * migrates a database forwards, never back).
 */
export async function restoreFromDetails(
  db: Queryable,
  catalog: Catalog,
  organizationId: string,
  request: CreateOrderRequest,
): Promise<Record<string, unknown> | null> {
  if (!request.restoreFrom) return null;
  const { instanceId, backupId } = request.restoreFrom;
  const source = await findInstance(db, organizationId, instanceId);
  if (!source) throw new ValidationError([fieldError('restoreFrom.instanceId', 'restore.sourceUnknown')]);
  const backup = await doneBackupOf(db, organizationId, instanceId, backupId, 'restoreFrom.backupId');
  const size = (id: string) => catalog.nodeSizes.find((n) => n.id === id)!;
  const [from, to] = [size(source.spec.nodeSize), size(request.nodeSize)];
  const issues: FieldError[] = [];
  if (to.memoryGb < from.memoryGb || to.vcpu < from.vcpu)
    issues.push(fieldError('nodeSize', 'restore.nodeSize', { nodeSize: from.id }));
  if (request.storageGb < source.spec.storageGb)
    issues.push(fieldError('storageGb', 'restore.storage', { storageGb: source.spec.storageGb }));
  if (compareVersions(request.version, backup.keycloakVersion) < 0)
    issues.push(fieldError('version', 'restore.version', { version: backup.keycloakVersion }));
  if (issues.length) throw new ValidationError(issues);
  return { restoreFrom: { instanceId, backupId } };
}
