import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { withConnection } from '../../src/db/database.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createInstanceDatabases, instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import {
  createKeycloakDistributions,
  type KeycloakDistributions,
} from '../../src/drivers/local/keycloak-distribution.js';
import {
  createSchemaTemplates,
  databaseUrl,
  schemaTemplateOf,
} from '../../src/drivers/local/schema-template.js';
import { renderStepMessage } from '../../src/platform/messages.js';
import { catalogKeycloakVersions } from '../../src/drivers/local/keycloak-distribution.js';
import { waitFor } from '../support/edge-probes.js';
import { startTestKeyhouse, testKeycloakCache } from '../support/test-keyhouse.js';

/**
 * The schema template of a Keycloak version (schema-template.ts) against a real Keycloak 26.5.6 export and a
 * PostgreSQL server of this file's own: the template must not exist before the test, and other files' drivers
 * make the same template on the shared test server. Keycloak's start on a copy (no migration, master realm and
 * temporary admin created) is the local-driver test's first apply, which goes through the template.
 */
const VERSION = process.env.KEYHOUSE_TEST_KEYCLOAK_VERSION ?? '26.5.6';

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'schema template of a Keycloak version',
  () => {
    let dir: string;
    let server: EmbeddedPostgres;
    let adminDatabaseUrl: string;
    let distributions: KeycloakDistributions;
    /** Every log line of the template makers, parsed. */
    const logLines: { msg: string }[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(JSON.parse(chunk.toString()) as { msg: string });
          done();
        },
      }),
    );
    const template = schemaTemplateOf(VERSION);
    const withServer = <T>(work: (client: pg.Client) => Promise<T>) => withConnection(adminDatabaseUrl, work);

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-schema-template-'));
      server = await startEmbeddedPostgres({
        directory: path.join(dir, 'postgres'),
        port: 20000 + Math.floor(Math.random() * 20000),
        logFile: path.join(dir, 'postgres.log'),
      });
      adminDatabaseUrl = server.url('postgres');
      const config = loadConfig({ DATA_DIR: dir });
      distributions = createKeycloakDistributions({ config, logger, cacheDir: testKeycloakCache });
      await distributions.get(VERSION);
    }, 15 * 60_000);

    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it(
      'is made once when two processes ask at the same moment, never from a half-made attempt',
      async () => {
        // What a crash in the middle of an earlier attempt leaves: the build database, with something in it.
        await withServer((client) => client.query(`CREATE DATABASE ${template.database}_build`));
        await withConnection(databaseUrl(adminDatabaseUrl, `${template.database}_build`), (client) =>
          client.query('CREATE TABLE half_made (id int)'),
        );
        // Two makers with nothing in common but the server, as two worker processes; the first asks twice.
        const makers = [1, 2].map((i) =>
          createSchemaTemplates({
            adminDatabaseUrl,
            distributions,
            // Not there yet, as the instances directory before a host's first order.
            workDir: path.join(dir, `work-${i}`, 'instances'),
            logger,
          }),
        );
        const made = await Promise.all([
          makers[0]!.of(VERSION).make(),
          makers[0]!.of(VERSION).make(),
          makers[1]!.of(VERSION).make(),
        ]);
        expect(made).toEqual([template, template, template]);
        expect(
          logLines.filter((l) => l.msg === 'made the schema template of this Keycloak version'),
        ).toHaveLength(1);

        const { rows } = await withServer((client) =>
          client.query<{
            datname: string;
            template: boolean;
            connections: boolean;
            owner: string;
            me: string;
          }>(
            `SELECT datname, datistemplate AS template, datallowconn AS connections,
                  pg_get_userbyid(datdba) AS owner, current_user AS me
             FROM pg_database WHERE datname LIKE 'keyhouse_schema_%' ORDER BY datname`,
          ),
        );
        // The half-made build database is gone; the template belongs to the superuser, nobody connects to it.
        expect(rows).toEqual([
          {
            datname: template.database,
            template: true,
            connections: false,
            owner: rows[0]!.me,
            me: rows[0]!.me,
          },
        ]);
        const owner = await withServer((client) =>
          client.query<{ login: boolean }>('SELECT rolcanlogin AS login FROM pg_roles WHERE rolname = $1', [
            template.owner,
          ]),
        );
        expect(owner.rows).toEqual([{ login: false }]);
      },
      10 * 60_000,
    );

    it(
      "gives an instance a database with Keycloak's schema, no realm, every object its own role's",
      async () => {
        const name = `kc-${randomBytes(4).toString('hex')}`;
        const database = instanceDatabaseName(name);
        const databases = createInstanceDatabases(adminDatabaseUrl, logger);
        const templates = createSchemaTemplates({ adminDatabaseUrl, distributions, workDir: dir, logger });
        const password = randomBytes(12).toString('hex');
        const ensure = () =>
          databases.ensure({ name, databasePassword: password }, { template: templates.of(VERSION) });
        const notes = (await ensure()).map(renderStepMessage);
        expect(notes[0]).toBe(`${database}: database created with Keycloak's schema`);
        // A crash before the objects were handed over: the next attempt hands them over.
        await withConnection(databaseUrl(adminDatabaseUrl, database), (client) =>
          client.query(`ALTER TABLE realm OWNER TO ${template.owner}`),
        );
        expect((await ensure()).map(renderStepMessage)[0]).toBe(`${database}: database existed`);

        await withConnection(databaseUrl(adminDatabaseUrl, database), async (client) => {
          const counts = await client.query<{ changesets: number; realms: number; users: number }>(
            `SELECT (SELECT count(*)::int FROM databasechangelog) AS changesets,
                  (SELECT count(*)::int FROM realm) AS realms,
                  (SELECT count(*)::int FROM user_entity) AS users`,
          );
          expect(counts.rows[0]!.changesets).toBeGreaterThan(100);
          expect(counts.rows[0]).toMatchObject({ realms: 0, users: 0 });
          // Tables, indexes, sequences, views of the public schema, and the schema and database themselves.
          const owners = await client.query<{ owner: string; objects: number }>(
            `SELECT pg_get_userbyid(c.relowner) AS owner, count(*)::int AS objects
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' GROUP BY 1`,
          );
          expect(owners.rows).toEqual([{ owner: database, objects: owners.rows[0]!.objects }]);
          expect(owners.rows[0]!.objects).toBeGreaterThan(90);
          const left = await client.query(
            `SELECT 1 FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND refobjid = $1::regrole`,
            [template.owner],
          );
          expect(left.rowCount).toBe(0);
          const schema = await client.query<{ owner: string }>(
            `SELECT pg_get_userbyid(d.datdba) AS owner FROM pg_database d WHERE d.datname = current_database()`,
          );
          expect(schema.rows).toEqual([{ owner: database }]);
        });
        // The instance's role, as Keycloak logs in, can read and change its schema.
        const asInstance = new URL(databaseUrl(adminDatabaseUrl, database));
        asInstance.username = database;
        asInstance.password = password;
        await withConnection(asInstance.toString(), async (client) => {
          await client.query('ALTER TABLE realm ADD COLUMN keyhouse_probe int');
          await client.query('ALTER TABLE realm DROP COLUMN keyhouse_probe');
          expect((await client.query('SELECT count(*)::int AS n FROM databasechangelog')).rows[0]).toEqual({
            n: expect.any(Number) as number,
          });
        });
        await databases.drop(name);
      },
      10 * 60_000,
    );
  },
);

describe('schema templates when a worker starts', () => {
  it(
    'makes (or finds) the template of every catalog version before any order, so no first order waits for it',
    async () => {
      const lines: { msg: string; version?: string }[] = [];
      const keyhouse = await startTestKeyhouse(
        (config) => {
          config.roles = ['api', 'worker'];
        },
        {
          logDestination: new Writable({
            write(chunk: Buffer, _encoding, done) {
              for (const line of chunk.toString().split('\n').filter(Boolean))
                lines.push(JSON.parse(line) as { msg: string; version?: string });
              done();
            },
          }),
        },
      );
      try {
        expect(keyhouse.config.keycloak.schemaTemplatesAtStart).toBe(true);
        const versions = catalogKeycloakVersions(keyhouse.config);
        const ready = (version: string) =>
          lines.some((line) => line.msg === 'schema template ready' && line.version === version);
        await waitFor(() => versions.every(ready), 10 * 60_000, `schema templates of ${versions.join(', ')}`);
        const { rows } = await withConnection(keyhouse.databaseUrl, (client) =>
          client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datistemplate'),
        );
        expect(rows.map((row) => row.datname)).toEqual(
          expect.arrayContaining(versions.map((version) => schemaTemplateOf(version).database)),
        );
        const orders = await withConnection(keyhouse.databaseUrl, (client) =>
          client.query('SELECT 1 FROM orders'),
        );
        expect(orders.rowCount).toBe(0);
      } finally {
        await keyhouse.stop();
      }
    },
    15 * 60_000,
  );
});
