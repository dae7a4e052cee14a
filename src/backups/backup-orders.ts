import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Queryable } from '../db/database.js';
import { findInstance, type StoredInstance } from '../instances/instance-store.js';
import {
  compareVersions,
  type ChangeOrderRequest,
  type CreateOrderRequest,
} from '../orders/order-schemas.js';
import { ValidationError } from '../platform/errors.js';
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
  if (!backup) throw new ValidationError([{ path, message: 'No backup with this id for this instance.' }]);
  if (backup.status !== 'done')
    throw new ValidationError([
      { path, message: `This backup is ${backup.status}; only finished backups restore.` },
    ]);
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
      if (!exported)
        throw new ValidationError([
          {
            path: 'exportOrderId',
            message: 'No finished realm export with this order id in your organisation.',
          },
        ]);
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
  if (!source)
    throw new ValidationError([
      { path: 'restoreFrom.instanceId', message: 'No instance with this id in your organisation.' },
    ]);
  const backup = await doneBackupOf(db, organizationId, instanceId, backupId, 'restoreFrom.backupId');
  const size = (id: string) => catalog.nodeSizes.find((n) => n.id === id)!;
  const [from, to] = [size(source.spec.nodeSize), size(request.nodeSize)];
  const issues: { path: string; message: string }[] = [];
  if (to.memoryGb < from.memoryGb || to.vcpu < from.vcpu)
    issues.push({
      path: 'nodeSize',
      message: `a restore needs the same or a larger node size than ${from.id}`,
    });
  if (request.storageGb < source.spec.storageGb)
    issues.push({
      path: 'storageGb',
      message: `a restore needs at least the ${source.spec.storageGb} GB of the source`,
    });
  if (compareVersions(request.version, backup.keycloakVersion) < 0)
    issues.push({
      path: 'version',
      message: `the backup was taken with Keycloak ${backup.keycloakVersion}; choose that version or a newer one`,
    });
  if (issues.length) throw new ValidationError(issues);
  return { restoreFrom: { instanceId, backupId } };
}
