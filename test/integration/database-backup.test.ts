import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  compatiblePgTools,
  dropDatabaseBackups,
  findPgTools,
  restoreDatabaseBackup,
  takeDatabaseBackup,
  type DatabaseBackup,
} from '../../src/drivers/local/database-backup.js';

/**
 * The upgrade's backup and restore against both PostgreSQL servers of the test projects: the embedded PostgreSQL 17
 * (no pg_dump 17 on this host: a server-side template copy) and the machine's PostgreSQL 15 (pg_dump 15: a dump
 * file). Either way the restore gives back the data as it was, owned by the instance's role.
 */
const serverUrl = inject('serverUrl');
const name = `kc_t${randomBytes(4).toString('hex')}`;
const password = randomBytes(12).toString('hex');
let dumpDir: string;

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

beforeAll(async () => {
  dumpDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-backup-'));
  await query('postgres', `CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
  await query('postgres', `CREATE DATABASE ${name} OWNER ${name}`);
  await asRole('CREATE TABLE realm (id int PRIMARY KEY, name text NOT NULL)');
  await asRole(`INSERT INTO realm VALUES (1, 'master'), (2, 'kd500001')`);
});

afterAll(async () => {
  await query('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await dropDatabaseBackups({ adminDatabaseUrl: `${serverUrl}/postgres`, database: name });
  await query('postgres', `DROP ROLE IF EXISTS ${name}`);
  rmSync(dumpDir, { recursive: true, force: true });
});

async function roundTrip(method?: DatabaseBackup['method']) {
  const backup = await takeDatabaseBackup({
    adminDatabaseUrl: `${serverUrl}/postgres`,
    database: name,
    label: `20260101000000${method === 'template' ? 't' : ''}`,
    dumpDir,
    method,
  });
  // What an upgrade does to the data: migrates it.
  await asRole(`ALTER TABLE realm ADD COLUMN migrated boolean`);
  await asRole(`INSERT INTO realm VALUES (3, 'new', true)`);
  await restoreDatabaseBackup({
    adminDatabaseUrl: `${serverUrl}/postgres`,
    database: name,
    owner: name,
    backup,
  });
  expect(await asRole('SELECT * FROM realm ORDER BY id')).toEqual([
    { id: 1, name: 'master' },
    { id: 2, name: 'kd500001' },
  ]);
  // Still the role's own, so Keycloak can migrate it again.
  await asRole(`INSERT INTO realm VALUES (3, 'again')`);
  await asRole(`DELETE FROM realm WHERE id = 3`);
  const [owner] = await query<{ owner: string }>(
    name,
    `SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'realm'`,
  );
  expect(owner!.owner).toBe(name);
  return backup;
}

describe('database backups for upgrades', () => {
  it('chooses pg_dump when this host has one for the server, the template copy otherwise', async () => {
    const [row] = await query<{ server_version_num: string }>('postgres', 'SHOW server_version_num');
    const major = Math.floor(Number(row!.server_version_num) / 10_000);
    const tools = compatiblePgTools(await findPgTools(), major);
    const backup = await roundTrip();
    expect(backup.method).toBe(tools ? 'pg_dump' : 'template');
  });

  it('restores from a template copy on any server, and drops template backups on request', async () => {
    const backup = await roundTrip('template');
    expect(backup).toMatchObject({ method: 'template', database: `${name}_backup_20260101000000t` });
    const dropped = await dropDatabaseBackups({ adminDatabaseUrl: `${serverUrl}/postgres`, database: name });
    expect(dropped).toContain(`${name}_backup_20260101000000t`);
    const left = await query('postgres', 'SELECT 1 FROM pg_database WHERE starts_with(datname, $1)', [
      `${name}_backup_`,
    ]);
    expect(left).toEqual([]);
  });

  it('knows which pg_dump can dump which server', () => {
    const tools = [
      { major: 15, pgDump: 'a', pgRestore: 'b' },
      { major: 16, pgDump: 'c', pgRestore: 'd' },
    ];
    expect(compatiblePgTools(tools, 15)?.major).toBe(15);
    expect(compatiblePgTools(tools, 14)?.major).toBe(15);
    expect(compatiblePgTools(tools, 17)).toBeUndefined();
  });
});
