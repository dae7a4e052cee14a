import type pg from 'pg';
import { withConnection } from '../../db/database.js';
import type { Logger } from 'pino';
import { message, type CodedMessage } from '../../platform/messages.js';
import { dropScratchDatabases } from './postgres-dump.js';
import { databaseUrl, type SchemaTemplate } from './schema-template.js';

/**
 * Each local instance's own PostgreSQL database and login role, in the server Keyhouse uses (created through its
 * superuser URL). Other instances' roles cannot connect to it.
 */

/** The database and role of an instance: kc-1a2b3c4d → kc_1a2b3c4d (PostgreSQL identifiers avoid dashes). */
export function instanceDatabaseName(name: string): string {
  const base = name.replace(/^kc-/, '').replace(/[^a-z0-9]/g, '_');
  return `kc_${base}`.slice(0, 63);
}

export type InstanceDatabases = {
  /** Where Keycloak connects to. */
  server: { host: string; port: number };
  /**
   * Creates the role (or sets its password again) and the database it owns; answers a note for the step. With
   * `restore`, a database that does not exist yet is made by it (a new instance from a backup) instead of empty;
   * otherwise, with `template`, as a copy of Keycloak's migrated schema (schema-template.ts) whose objects then
   * belong to the instance's role. A template that cannot be had costs only speed: the database starts empty and
   * Keycloak migrates it itself.
   */
  ensure(
    instance: { name: string; databasePassword: string },
    from?: {
      restore?: () => Promise<{ backupId: string }>;
      /** The template of the instance's version; `make` makes it if it does not exist yet. */
      template?: SchemaTemplate & { make: () => Promise<unknown> };
    },
  ): Promise<CodedMessage[]>;
  /** Drops the database, its scratch databases (an interrupted restore) and the role; safe to repeat. */
  drop(instanceName: string): Promise<CodedMessage[]>;
  /** The database's size, 0 when it does not exist. */
  sizeBytes(instanceName: string): Promise<number>;
};

export function createInstanceDatabases(adminDatabaseUrl: string, logger: Logger): InstanceDatabases {
  const server = new URL(adminDatabaseUrl);

  const withAdminDb = <T>(work: (client: pg.Client) => Promise<T>) => withConnection(adminDatabaseUrl, work);

  /** Inside the instance's database (REASSIGN OWNED acts on the current database's objects only). */
  const reassignTemplateObjects = (database: string, templateOwner: string) =>
    withConnection(databaseUrl(adminDatabaseUrl, database), async (client) => {
      await client.query(
        `REASSIGN OWNED BY ${client.escapeIdentifier(templateOwner)} TO ${client.escapeIdentifier(database)}`,
      );
    });

  return {
    server: { host: server.hostname || '127.0.0.1', port: Number(server.port || 5432) },

    ensure: async (instance, from = {}) => {
      const name = instanceDatabaseName(instance.name);
      // Made (or found) before the admin connection opens: the first order of a version may wait a while for it.
      let template: SchemaTemplate | undefined;
      let templateNote: CodedMessage | undefined;
      const exists = await withAdminDb((client) =>
        client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
      );
      if (exists.rowCount === 0 && !from.restore && from.template) {
        try {
          await from.template.make();
          template = from.template;
        } catch (error) {
          logger.warn(
            { err: error, instance: instance.name },
            'no schema template: the database starts empty',
          );
          templateNote = message('step.schemaTemplateUnavailable');
        }
      }
      return withAdminDb(async (client) => {
        const role = client.escapeIdentifier(name);
        const password = client.escapeLiteral(instance.databasePassword);
        let roleNote = message('step.roleCreated');
        try {
          await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${password}`);
        } catch (error) {
          if ((error as { code?: string }).code !== '42710') throw error; // duplicate_object
          // Set it again: the role may stem from an attempt with another password, or been changed by hand.
          await client.query(`ALTER ROLE ${role} LOGIN PASSWORD ${password}`);
          roleNote = message('step.roleExisted');
        }
        let dbNote = message(template ? 'step.databaseCreatedFromTemplate' : 'step.databaseCreated', {
          database: name,
        });
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0 && from.restore) {
          const restored = await from.restore();
          dbNote = message('step.databaseRestored', { database: name, backup: restored.backupId });
        } else {
          const copyOf = template ? ` TEMPLATE ${client.escapeIdentifier(template.database)}` : '';
          try {
            await client.query(`CREATE DATABASE ${role} OWNER ${role}${copyOf} ENCODING 'UTF8'`);
          } catch (error) {
            if ((error as { code?: string }).code !== '42P04') throw error; // duplicate_database
            await client.query(`ALTER DATABASE ${role} OWNER TO ${role}`);
            dbNote = message('step.databaseExisted', { database: name });
          }
        }
        // Other instances' roles must not even connect to this database.
        await client.query(`REVOKE ALL ON DATABASE ${role} FROM PUBLIC`);
        // Also on a retry after a crash between the copy and this: the copy's objects become the instance's.
        const owner = from.template?.owner;
        if (owner && (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [owner])).rowCount)
          await reassignTemplateObjects(name, owner);
        return templateNote ? [dbNote, roleNote, templateNote] : [dbNote, roleNote];
      });
    },

    drop: (instanceName) => {
      const name = instanceDatabaseName(instanceName);
      return withAdminDb(async (client) => {
        const id = client.escapeIdentifier(name);
        // FORCE: a Keycloak we could not see (another host's?) must not keep the database alive.
        await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
        const scratch = await dropScratchDatabases({ adminDatabaseUrl, database: name });
        await client.query(`DROP ROLE IF EXISTS ${id}`);
        const dropped = message('step.databaseDropped', { database: name });
        return scratch.length
          ? [dropped, message('step.scratchDatabasesDropped', { databases: scratch.join(', ') })]
          : [dropped];
      });
    },

    sizeBytes: (instanceName) =>
      withAdminDb(async (client) => {
        const result = await client.query<{ size: string | null }>(
          'SELECT pg_database_size(datname)::text AS size FROM pg_database WHERE datname = $1',
          [instanceDatabaseName(instanceName)],
        );
        return Number(result.rows[0]?.size ?? 0);
      }),
  };
}
