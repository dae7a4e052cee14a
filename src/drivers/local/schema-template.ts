import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { withConnection } from '../../db/database.js';
import type { Logger } from 'pino';
import { runCommand } from '../../platform/process-runner.js';
import {
  BUILD_OPTIONS_TAG,
  keycloakProcessEnv,
  type KeycloakDistribution,
  type KeycloakDistributions,
} from './keycloak-distribution.js';
import { copyDistributionHome } from './keycloak-home.js';

/**
 * A PostgreSQL template database per (Keycloak version, build) holding Keycloak's migrated schema and nothing else:
 * no realm, no keys. An instance's database is a copy of it (`CREATE DATABASE … TEMPLATE`, well under a second), so
 * Keycloak's first start skips Liquibase's ~180 changesets (12 s of a 30 s first start on 2 vCPU) and only creates
 * its master realm, with keys of its own. Never clone a database that has a realm: realm keys must be unique.
 *
 * How a template is made, once per server and version (a PostgreSQL advisory lock makes two orders, in one process
 * or several, make it once): Keycloak itself writes the schema as SQL (`migration-strategy=manual` with
 * `initialize-empty=false`: it exports Liquibase's changes to a file and exits without touching a realm) against an
 * empty database under a build name; the SQL is applied there as the template's owner role, checked (schema there,
 * no realm) and only then renamed to the template's name and marked as a template. A crash leaves at most the build
 * database, which the next attempt drops: a half-made template is never used.
 *
 * Ownership: the template's objects belong to a role of its own (NOLOGIN once made), the template database itself
 * (from its creation under the build name on) to the superuser; an instance's copy hands the objects to the
 * instance's role with `REASSIGN OWNED`, which therefore touches only that copy's objects: the role owns no shared
 * object (REASSIGN OWNED would hand over a database it owned too).
 */

export type SchemaTemplate = {
  /** The template database. */
  database: string;
  /** The role that owns its objects; an instance's copy reassigns them to the instance's role. */
  owner: string;
};

export type SchemaTemplates = {
  /** The template of this distribution, made first if it does not exist yet. */
  forDistribution(distribution: KeycloakDistribution): Promise<SchemaTemplate>;
  /** The template of `version`, as InstanceDatabases.ensure takes it: its names, and the work to make it. */
  of(version: string): SchemaTemplate & { make: () => Promise<SchemaTemplate> };
};

/** The template's names for `version`; whether it exists is forDistribution's business. */
export function schemaTemplateOf(version: string): SchemaTemplate {
  const database = schemaTemplateName(version);
  return { database, owner: schemaTemplateOwner(database) };
}

/** How long Keycloak may take to write the schema's SQL (a JVM start without the HTTP part, under load). */
const EXPORT_TIMEOUT_MS = 10 * 60_000;

/**
 * keyhouse_schema_26_5_6_94403b05: version and build options; short enough for the `_owner` and `_build` names
 * beside it within PostgreSQL's 63 characters.
 */
export function schemaTemplateName(version: string): string {
  const safeVersion = version
    .replace(/[^a-zA-Z0-9]/g, '_')
    .toLowerCase()
    .slice(0, 24);
  return `keyhouse_schema_${safeVersion}_${BUILD_OPTIONS_TAG}`;
}

export function schemaTemplateOwner(templateName: string): string {
  return `${templateName}_owner`;
}

/** The same server as `adminDatabaseUrl`, another database. */
export function databaseUrl(adminDatabaseUrl: string, database: string): string {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function freeLoopbackPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function createSchemaTemplates(options: {
  adminDatabaseUrl: string;
  distributions: Pick<KeycloakDistributions, 'get'>;
  /** Where the throwaway Keycloak home of an export lives while it runs (removed afterwards). */
  workDir: string;
  logger: Logger;
}): SchemaTemplates {
  const { adminDatabaseUrl } = options;
  const logger = options.logger.child({ component: 'schema-template' });
  /** Per process, while one is being made: a second order of the version waits for the same work. */
  const inFlight = new Map<string, Promise<SchemaTemplate>>();

  const exists = async (client: pg.Client, database: string) =>
    (
      await client.query<{ template: boolean }>(
        'SELECT datistemplate AS template FROM pg_database WHERE datname = $1',
        [database],
      )
    ).rows[0]?.template === true;

  /** Keycloak writes its schema's SQL for the empty database `build` (and creates Liquibase's two tables there). */
  async function exportSchemaSql(
    distribution: KeycloakDistribution,
    build: { database: string; owner: string; password: string },
  ): Promise<string> {
    mkdirSync(options.workDir, { recursive: true });
    const dir = mkdtempSync(path.join(options.workDir, 'schema-template-'));
    try {
      const home = path.join(dir, 'keycloak');
      await copyDistributionHome(distribution, home);
      const sqlFile = path.join(dir, 'schema.sql');
      const server = new URL(adminDatabaseUrl);
      const args = [
        'start',
        '--optimized',
        `--db-url=jdbc:postgresql://${server.hostname || '127.0.0.1'}:${server.port || 5432}/${build.database}`,
        `--db-username=${build.owner}`,
        // Keycloak exits before it listens; ports of their own all the same, should a version ever not.
        '--http-enabled=true',
        '--http-host=127.0.0.1',
        `--http-port=${await freeLoopbackPort()}`,
        `--http-management-port=${await freeLoopbackPort()}`,
        '--hostname=http://127.0.0.1',
        '--cache=local',
        '--spi-connections-jpa--quarkus--initialize-empty=false',
        '--spi-connections-jpa--quarkus--migration-strategy=manual',
        `--spi-connections-jpa--quarkus--migration-export=${sqlFile}`,
      ];
      const result = await runCommand(path.join(home, 'bin', 'kc.sh'), args, {
        cwd: dir,
        env: keycloakProcessEnv(distribution.javaHome, { KC_DB_PASSWORD: build.password }),
        signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
      });
      // The export ends in an error by design ("please initialize database with <file>"); the file is what counts.
      if (!result.tail.includes('please initialize database with'))
        throw new Error(`Keycloak ${distribution.version} did not export its schema:\n${result.tail}`);
      return readFileSync(sqlFile, 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function make(distribution: KeycloakDistribution): Promise<SchemaTemplate> {
    const template = schemaTemplateOf(distribution.version);
    const { database, owner } = template;
    return withConnection(adminDatabaseUrl, async (admin) => {
      if (await exists(admin, database)) return template;
      // Session-level: held until this connection ends, also when this process dies.
      await admin.query('SELECT pg_advisory_lock(hashtext($1))', [database]);
      if (await exists(admin, database)) return template;
      const started = Date.now();
      const build = `${database}_build`;
      const id = admin.escapeIdentifier(build);
      const ownerId = admin.escapeIdentifier(owner);
      const password = randomBytes(24).toString('base64url');
      // A build database of an attempt that died is never finished: start again.
      await admin.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
      const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [owner]);
      await admin.query(
        `${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ownerId} LOGIN PASSWORD ${admin.escapeLiteral(password)}`,
      );
      try {
        // Owned by the superuser throughout: the owner role must own no database, even for a moment, or an
        // instance's REASSIGN OWNED would take it. It may create in the public schema while the template is made.
        await admin.query(`CREATE DATABASE ${id} ENCODING 'UTF8'`);
        await withConnection(databaseUrl(adminDatabaseUrl, build), (client) =>
          client.query(`GRANT CREATE ON SCHEMA public TO ${ownerId}`),
        );
        const sql = await exportSchemaSql(distribution, { database: build, owner, password });
        await withConnection(databaseUrl(adminDatabaseUrl, build), async (client) => {
          const before = await client.query(`SELECT to_regclass('public.realm') AS realm`);
          if ((before.rows[0] as { realm: string | null }).realm !== null)
            throw new Error(`${build} has Keycloak's tables already`);
          await client.query('BEGIN');
          await client.query(`SET LOCAL ROLE ${ownerId}`);
          await client.query(sql);
          await client.query('COMMIT');
          const { rows } = await client.query<{ changesets: number; realms: number }>(
            `SELECT (SELECT count(*)::int FROM databasechangelog) AS changesets,
                    (SELECT count(*)::int FROM realm) AS realms`,
          );
          const counts = rows[0]!;
          if (counts.changesets === 0 || counts.realms !== 0)
            throw new Error(`${build} is not a bare schema: ${JSON.stringify(counts)}`);
          // The copies' public schema belongs to their owner alone.
          await client.query(`REVOKE CREATE ON SCHEMA public FROM ${ownerId}`);
        });
      } finally {
        await admin.query(`ALTER ROLE ${ownerId} NOLOGIN`);
      }
      await admin.query(`ALTER DATABASE ${id} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      await admin.query(`ALTER DATABASE ${id} RENAME TO ${admin.escapeIdentifier(database)}`);
      logger.info(
        {
          version: distribution.version,
          template: database,
          elapsedS: Math.round((Date.now() - started) / 1000),
        },
        'made the schema template of this Keycloak version',
      );
      return template;
    });
  }

  function forDistribution(distribution: KeycloakDistribution): Promise<SchemaTemplate> {
    const key = schemaTemplateName(distribution.version);
    let pending = inFlight.get(key);
    if (!pending) {
      // Not kept once settled: the next order looks at the server again (a failure is retried, a template an
      // operator dropped is made again).
      pending = make(distribution).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  return {
    forDistribution,
    of: (version) => ({
      ...schemaTemplateOf(version),
      make: async () => forDistribution(await options.distributions.get(version)),
    }),
  };
}
