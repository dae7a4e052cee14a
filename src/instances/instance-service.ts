import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import type { PageQuery } from '../platform/pagination.js';
import type { SecretBox } from '../platform/secret-box.js';
import { openInstanceSecrets } from './instance-secrets.js';
import { withBackupConditions } from '../backups/backup-service.js';
import type { Instance } from './instance-schemas.js';
import {
  findInstance,
  findSealedSecrets,
  listInstances,
  setDeletionProtection,
  type StoredInstance,
} from './instance-store.js';

const publicInstance = (instance: StoredInstance): Instance => ({
  id: instance.id,
  name: instance.name,
  status: instance.status,
  ...instance.spec,
  url: instance.url,
  adminUsername: instance.adminUsername,
  deletionProtection: instance.deletionProtection,
  conditions: instance.conditions,
  usage: instance.usage,
  billingProfileId: instance.billingProfileId,
  createdAt: instance.createdAt,
  updatedAt: instance.updatedAt,
});

export function createInstanceService({ db, secretBox }: { db: Database; secretBox: SecretBox }) {
  return {
    async list(organizationId: string, page: PageQuery) {
      const result = await listInstances(db.pool, organizationId, page);
      const items = await withBackupConditions(db, result.items.map(publicInstance));
      return { items, nextCursor: result.nextCursor };
    },

    async get(organizationId: string, id: string): Promise<Instance> {
      const instance = await findInstance(db.pool, organizationId, id);
      if (!instance) throw new NotFoundError('Instance');
      return (await withBackupConditions(db, [publicInstance(instance)]))[0]!;
    },

    /** Deletion protection on or off (managers and admins, audited). */
    setDeletionProtection: (actor: SignedInActor, id: string, enabled: boolean) =>
      db.transaction(async (tx) => {
        const instance = await findInstance(tx, actor.principal.organizationId, id, { forUpdate: true });
        if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
        await setDeletionProtection(tx, id, enabled);
        await recordAudit(tx, actor, {
          action: 'instance.deletion-protection',
          targetType: 'instance',
          targetId: id,
          details: { from: instance.deletionProtection, to: enabled },
        });
        return publicInstance({ ...instance, deletionProtection: enabled });
      }),

    /** The customer's admin credentials; every reveal is audited (who, when, from where), never the password. */
    revealCredentials: (actor: SignedInActor, id: string) =>
      db.transaction(async (tx) => {
        const instance = await findInstance(tx, actor.principal.organizationId, id);
        if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
        const sealed = await findSealedSecrets(tx, actor.principal.organizationId, id);
        if (!sealed)
          throw new ConflictError('The instance has no credentials yet; wait until its order is done.');
        await recordAudit(tx, actor, {
          action: 'instance.credentials.reveal',
          targetType: 'instance',
          targetId: id,
          details: { username: instance.adminUsername },
        });
        const secrets = openInstanceSecrets(secretBox, sealed);
        return { username: instance.adminUsername, password: secrets.adminPassword };
      }),
  };
}
export type InstanceService = ReturnType<typeof createInstanceService>;
