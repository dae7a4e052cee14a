import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  backupKeySchema,
  backupKeyUploadSchema,
  instanceBackupsSchema,
} from '../../backups/backup-schemas.js';
import type { BackupService } from '../../backups/backup-service.js';
import { signedInActorOf } from '../auth-guard.js';
import { problemResponses } from '../problem.js';
import { idParamsSchema } from '../request-schemas.js';

/** Backups of an instance; ordering a backup or a restore is a change order (POST /api/v1/instances/{id}/orders). */
export function backupRoutes(backups: BackupService): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/instances/:id/backups',
      {
        config: { permission: 'read' },
        schema: {
          operationId: 'listInstanceBackups',
          summary: 'Backups, retention, backup and maintenance windows, the next planned patch',
          tags: ['backups'],
          params: idParamsSchema,
          response: { 200: instanceBackupsSchema, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) =>
        backups.overview(signedInActorOf(request).principal.organizationId, request.params.id),
    );

    app.put(
      '/api/v1/instances/:id/backup-key',
      {
        config: { permission: 'instances:change' },
        schema: {
          operationId: 'putInstanceBackupKey',
          summary: 'Upload the OpenPGP public key that backup downloads are encrypted to (audited)',
          tags: ['backups'],
          params: idParamsSchema,
          body: backupKeyUploadSchema,
          response: { 200: backupKeySchema, ...problemResponses(400, 401, 403, 404) },
        },
      },
      async (request) =>
        backups.uploadKey(signedInActorOf(request), request.params.id, request.body.publicKey),
    );

    app.get(
      '/api/v1/orders/:id/realm-export',
      {
        config: { permission: 'instances:reveal-credentials' },
        schema: {
          operationId: 'downloadRealmExport',
          summary: "A realm-export order's result: the realm as Keycloak's JSON (audited)",
          tags: ['backups'],
          params: idParamsSchema,
          response: {
            200: z.any().describe("application/json: Keycloak's realm representation"),
            ...problemResponses(400, 401, 403, 404),
          },
        },
      },
      async (request, reply) => {
        const file = await backups.downloadRealmExport(signedInActorOf(request), request.params.id);
        return reply
          .header('content-type', 'application/json; charset=utf-8')
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .header('cache-control', 'no-store')
          .send(file.body);
      },
    );

    app.get(
      '/api/v1/instances/:id/backups/:backupId/download',
      {
        config: { permission: 'instances:reveal-credentials' },
        schema: {
          operationId: 'downloadInstanceBackup',
          summary: "A backup (pg_dump custom format) encrypted to the instance's OpenPGP key (audited)",
          tags: ['backups'],
          params: idParamsSchema.extend({ backupId: z.uuid('not a valid id') }),
          response: {
            200: z.any().describe('application/pgp-encrypted: an OpenPGP message'),
            ...problemResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const file = await backups.download(
          signedInActorOf(request),
          request.params.id,
          request.params.backupId,
        );
        return reply
          .header('content-type', 'application/pgp-encrypted')
          .header('content-disposition', `attachment; filename="${file.filename}"`)
          .header('cache-control', 'no-store')
          .send(file.body);
      },
    );
  };
}
