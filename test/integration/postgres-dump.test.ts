import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  compatiblePgTools,
  dropScratchDatabases,
  dumpDatabase,
  restoreIntoScratch,
  restoringDatabase,
  sha256OfFile,
  swapInRestored,
} from '../../src/drivers/local/postgres-dump.js';

/**
 * The backup mechanism against both PostgreSQL servers of the test projects (the embedded 15 and the machine's 15):
 * a dump taken while another session writes holds one consistent snapshot; a restore goes into a scratch database
 * and replaces the live one only in one transaction; the restored objects belong to the instance's role.
 */
const serverUrl = inject('serverUrl');
const admin = `${serverUrl}/postgres`;
const name = `kc_t${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let dir: string;

async function query<T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: `${serverUrl}/${database}` });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Connects as the instance's role, the way Keycloak does. */
async function asRole<T extends pg.QueryResultRow>(sql: string) {
  const url = new URL(`${serverUrl}/${name}`);
  url.username = name;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const databases = async () =>
  (
    await query<{ datname: string }>(
      'postgres',
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [name],
    )
  )
    .map((row) => row.datname)
    .sort();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-dump-'));
  await query('postgres', `CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
  await query('postgres', `CREATE DATABASE ${name} OWNER ${name}`);
  await asRole('CREATE TABLE realm (id int PRIMARY KEY, name text NOT NULL)');
  await asRole(`INSERT INTO realm VALUES (1, 'master'), (2, 'kd500001')`);
});

afterAll(async () => {
  await query('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await dropScratchDatabases({ adminDatabaseUrl: admin, database: name });
  await query('postgres', `DROP ROLE IF EXISTS ${name}`);
  rmSync(dir, { recursive: true, force: true });
});

describe('instance database dumps', () => {
  it('dumps while another session writes, restores beside the live database, swaps in one transaction', async () => {
    const file = path.join(dir, 'night.dump');
    writeFileSync(`${file}.dead0001.partial`, 'left by a killed attempt');
    // A transaction that has written but not committed when the dump starts: the dump must not see it.
    const writer = new pg.Client({ connectionString: `${serverUrl}/${name}` });
    await writer.connect();
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO realm VALUES (9, 'uncommitted')`);
    const result = await dumpDatabase({ adminDatabaseUrl: admin, database: name, file });
    await writer.query('COMMIT');
    await writer.end();

    expect(result.sizeBytes).toBeGreaterThan(0);
    expect(result.sha256).toBe(await sha256OfFile(file));
    expect(result.postgresMajor).toBeGreaterThanOrEqual(15);
    expect(readdirSync(dir)).toEqual(['night.dump']);

    await asRole(`DELETE FROM realm WHERE id = 2`);
    await restoreIntoScratch({
      adminDatabaseUrl: admin,
      database: name,
      owner: name,
      file,
      sha256: result.sha256,
    });
    // The live database is untouched until the swap.
    expect(await asRole('SELECT id FROM realm ORDER BY id')).toEqual([{ id: 1 }, { id: 9 }]);
    expect(await databases()).toEqual([name, restoringDatabase(name)]);

    expect(await swapInRestored({ adminDatabaseUrl: admin, database: name })).toBe('swapped');
    expect(await asRole('SELECT id, name FROM realm ORDER BY id')).toEqual([
      { id: 1, name: 'master' },
      { id: 2, name: 'kd500001' },
    ]);
    expect(await databases()).toEqual([name]);
    // Still the role's own, so Keycloak can migrate it.
    const [owner] = await query<{ owner: string }>(
      name,
      `SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'realm'`,
    );
    expect(owner!.owner).toBe(name);
    await asRole(`INSERT INTO realm VALUES (3, 'again')`);
    expect(await swapInRestored({ adminDatabaseUrl: admin, database: name })).toBe('already-swapped');
  });

  it('refuses a dump that does not match its checksum, and leaves the live database alone', async () => {
    const file = path.join(dir, 'tampered.dump');
    const result = await dumpDatabase({ adminDatabaseUrl: admin, database: name, file });
    writeFileSync(file, Buffer.concat([Buffer.from('x'), Buffer.alloc(10)]));
    await expect(
      restoreIntoScratch({
        adminDatabaseUrl: admin,
        database: name,
        owner: name,
        file,
        sha256: result.sha256,
      }),
    ).rejects.toThrow(/does not match its checksum/);
    expect(await databases()).toEqual([name]);
  });

  it('a failed restore leaves only the scratch database, which the cleanup drops', async () => {
    const file = path.join(dir, 'garbage.dump');
    writeFileSync(file, 'PGDMP but not really');
    const sha256 = await sha256OfFile(file);
    await expect(
      restoreIntoScratch({ adminDatabaseUrl: admin, database: name, owner: name, file, sha256 }),
    ).rejects.toThrow(/pg_restore exited/);
    expect(await asRole('SELECT count(*)::int AS n FROM realm')).toEqual([{ n: 3 }]);
    expect(await dropScratchDatabases({ adminDatabaseUrl: admin, database: name })).toEqual([
      restoringDatabase(name),
    ]);
    expect(existsSync(file)).toBe(true);
  });

  it('knows which client tools can dump which server', () => {
    const tools = [
      { major: 15, pgDump: 'a', pgRestore: 'b' },
      { major: 17, pgDump: 'c', pgRestore: 'd' },
    ];
    expect(compatiblePgTools(tools, 15)?.major).toBe(15);
    expect(compatiblePgTools(tools, 16)?.major).toBe(17);
    expect(compatiblePgTools(tools, 14)?.major).toBe(15);
    expect(compatiblePgTools(tools, 18)).toBeUndefined();
  });
});
