import { randomUUID } from 'node:crypto';
import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { findInstance } from '../instances/instance-store.js';
import { NotFoundError, ValidationError } from '../platform/errors.js';
import { checkThemeArchive } from './theme-archive.js';
import type { InstanceThemes, ThemeUpload, ThemeVersion } from './theme-schemas.js';
import { insertThemeVersion, listThemeVersions } from './theme-store.js';

/**
 * Login themes of an instance: an upload is checked whole and stored as the theme's next version (nothing runs
 * yet); deploying and removing are change orders (theme-deploy, theme-remove) through the order service, so they
 * queue, show their steps and are audited like every other change.
 */
export function createThemeService({ db }: { db: Database }) {
  return {
    upload: (actor: SignedInActor, instanceId: string, upload: ThemeUpload): Promise<ThemeVersion> =>
      db.transaction(async (tx) => {
        // The row lock orders concurrent uploads of one instance: version numbers never collide.
        const instance = await findInstance(tx, actor.principal.organizationId, instanceId, {
          forUpdate: true,
        });
        if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
        const archive = Buffer.from(upload.archive, 'base64');
        const check = checkThemeArchive(archive);
        if (!check.ok) throw new ValidationError(check.errors);
        const version = await insertThemeVersion(tx, {
          id: randomUUID(),
          organizationId: actor.principal.organizationId,
          instanceId,
          name: check.theme.name,
          fileName: upload.fileName ?? null,
          archive,
          sha256: check.theme.sha256,
          unpackedBytes: check.theme.unpackedBytes,
          fileCount: check.theme.files.length,
          types: check.theme.types,
          uploadedBy: actor.principal.userId,
        });
        await recordAudit(tx, actor, {
          action: 'theme.upload',
          targetType: 'instance',
          targetId: instanceId,
          details: {
            name: version.name,
            version: version.version,
            sha256: version.sha256,
            fileName: version.fileName,
          },
        });
        return version;
      }),

    async list(organizationId: string, instanceId: string): Promise<InstanceThemes> {
      const instance = await findInstance(db.pool, organizationId, instanceId);
      if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
      const versions = await listThemeVersions(db.pool, instanceId);
      const names = [
        ...new Set([...versions.map((v) => v.name), ...instance.spec.themes.map((t) => t.name)]),
      ];
      return {
        themes: names.sort().map((name) => ({
          name,
          deployedVersion: instance.spec.themes.find((t) => t.name === name)?.version ?? null,
          versions: versions.filter((v) => v.name === name),
        })),
      };
    },
  };
}
export type ThemeService = ReturnType<typeof createThemeService>;
