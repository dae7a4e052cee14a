import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withConnection } from '../../db/database.js';
import { runCommand } from '../../platform/process-runner.js';

/**
 * The one backup mechanism of instance databases on a PostgreSQL that Keyhouse reaches directly (the local region):
 * `pg_dump --format=custom` while Keycloak runs (pg_dump reads one consistent snapshot, so there is no downtime),
 * and `pg_restore` into a scratch database that replaces the instance's database in one transaction only when it is
 * complete. Nightly, on-demand, pre-upgrade and pre-restore backups all go through here.
 *
 * Crash-safety: the dump streams through this process (checksum and size on the fly) into a `.partial` file that is
 * renamed when complete; if this process dies, pg_dump's pipe breaks and it exits, and the next attempt removes the
 * partial file. A restore reads the dump through this process too, into `<db>_restoring`; a crash leaves only that
 * scratch database, which the next attempt drops. So a half-written dump is never named like a backup, and a
 * half-restored database is never the one Keycloak connects to.
 *
 * The client tools must be of the server's major version or newer (pg_dump refuses newer servers). Keyhouse's
 * embedded PostgreSQL is 15 for this reason: Debian 12's postgresql-client-15 matches it (docs/decisions.md).
 */

export type PgTools = { major: number; pgDump: string; pgRestore: string };

/** The PostgreSQL client tools on this host: Debian's per-version directories and whatever is on PATH. */
export async function findPgTools(): Promise<PgTools[]> {
  const found = new Map<number, PgTools>();
  const debianRoot = '/usr/lib/postgresql';
  const versions = existsSync(debianRoot) ? readdirSync(debianRoot) : [];
  for (const version of versions) {
    const bin = path.join(debianRoot, version, 'bin');
    const pgDump = path.join(bin, 'pg_dump');
    const pgRestore = path.join(bin, 'pg_restore');
    if (/^\d+$/.test(version) && existsSync(pgDump) && existsSync(pgRestore))
      found.set(Number(version), { major: Number(version), pgDump, pgRestore });
  }
  const onPath = await runCommand('pg_dump', ['--version']).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  const major = onPath && Number(/(\d+)(?:\.\d+)?/.exec(onPath.tail)?.[1]);
  if (onPath?.code === 0 && major && !found.has(major))
    found.set(major, { major, pgDump: 'pg_dump', pgRestore: 'pg_restore' });
  return [...found.values()].sort((a, b) => a.major - b.major);
}

/** The tools of the server's own major version, else the oldest newer ones (pg_dump reads older servers). */
export function compatiblePgTools(tools: readonly PgTools[], serverMajor: number): PgTools | undefined {
  return tools.find((t) => t.major === serverMajor) ?? tools.find((t) => t.major > serverMajor);
}

export class MissingPgToolsError extends Error {
  constructor(serverMajor: number) {
    super(
      `No pg_dump/pg_restore for PostgreSQL ${serverMajor} on this host: install postgresql-client-${serverMajor} ` +
        `(Debian/Ubuntu) or another client of that major version or newer.`,
    );
    this.name = 'MissingPgToolsError';
  }
}

export async function serverMajor(adminDatabaseUrl: string): Promise<number> {
  return withConnection(adminDatabaseUrl, async (client) => {
    const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]!.server_version_num) / 10_000);
  });
}

async function toolsFor(adminDatabaseUrl: string): Promise<PgTools & { serverMajor: number }> {
  const major = await serverMajor(adminDatabaseUrl);
  const tools = compatiblePgTools(await findPgTools(), major);
  if (!tools) throw new MissingPgToolsError(major);
  return { ...tools, serverMajor: major };
}

/** libpq settings for the tools: the URL without its password (never on a command line), the password in env. */
function toolTarget(adminDatabaseUrl: string, database: string): { url: string; env: NodeJS.ProcessEnv } {
  const url = new URL(adminDatabaseUrl);
  const password = decodeURIComponent(url.password);
  url.password = '';
  url.pathname = `/${database}`;
  return { url: url.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** Runs a tool with one end of its data piped to `connect`; rejects with the tool's last output lines. */
async function runPiped(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  connect: (child: { stdin: Writable; stdout: Readable }) => Promise<void>,
): Promise<void> {
  const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const piped = connect({ stdin: child.stdin, stdout: child.stdout }).then(
    () => undefined,
    (error: Error) => {
      // The stream broke (our side failed, or the tool stopped reading): the tool must not go on alone.
      child.kill('SIGTERM');
      return error;
    },
  );
  const [code, brokenPipe] = await Promise.all([exited, piped]);
  // The tool's own complaint says more than a broken pipe (e.g. pg_restore refusing its input half-way).
  if (code !== 0)
    throw new Error(`${path.basename(file)} exited with ${code}: ${stderr.trim() || brokenPipe?.message}`);
  if (brokenPipe) throw brokenPipe;
}

export type DumpResult = { sizeBytes: number; sha256: string; durationMs: number; postgresMajor: number };

/** Dumps `database` into `file` (custom format); the file appears only when the dump is complete and synced. */
export async function dumpDatabase(options: {
  adminDatabaseUrl: string;
  database: string;
  file: string;
}): Promise<DumpResult> {
  const started = Date.now();
  const tools = await toolsFor(options.adminDatabaseUrl);
  const target = toolTarget(options.adminDatabaseUrl, options.database);
  removePartialDumps(options.file);
  const partial = `${options.file}.${randomBytes(4).toString('hex')}.partial`;
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await runPiped(
      tools.pgDump,
      ['--format=custom', '--no-owner', '--no-privileges', `--dbname=${target.url}`],
      target.env,
      ({ stdout }) => pipeline(stdout, measure, createWriteStream(partial, { mode: 0o600 })),
    );
    const handle = await open(partial, 'r');
    await handle.sync().finally(() => handle.close());
    renameSync(partial, options.file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return {
    sizeBytes,
    sha256: hash.digest('hex'),
    durationMs: Date.now() - started,
    postgresMajor: tools.serverMajor,
  };
}

/** Partial files of earlier attempts at `file` (their writer is gone, or its pipe broke and it exits). */
export function removePartialDumps(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.`;
  const partials = existsSync(dir)
    ? readdirSync(dir).filter((entry) => entry.startsWith(prefix) && entry.endsWith('.partial'))
    : [];
  for (const entry of partials) rmSync(path.join(dir, entry), { force: true });
  return partials;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** The scratch databases of an instance database: a restore in progress, the one it replaced. */
export const restoringDatabase = (database: string) => `${database}_restoring`.slice(0, 63);
const replacedDatabase = (database: string) => `${database}_replaced`.slice(0, 63);

/**
 * Restores the dump `file` into `<database>_restoring` (dropped first: what an earlier attempt left), as `owner`,
 * after checking the file against `sha256`. Does not touch `database`.
 */
export async function restoreIntoScratch(options: {
  adminDatabaseUrl: string;
  database: string;
  owner: string;
  file: string;
  sha256: string;
}): Promise<void> {
  const stats = await stat(options.file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`the backup file ${options.file} is gone`);
    throw error;
  });
  if (!stats.isFile()) throw new Error(`the backup ${options.file} is not a file`);
  const actual = await sha256OfFile(options.file);
  if (actual !== options.sha256)
    throw new Error(`the backup file ${options.file} does not match its checksum (${actual})`);
  const tools = await toolsFor(options.adminDatabaseUrl);
  const scratch = restoringDatabase(options.database);
  await withConnection(options.adminDatabaseUrl, async (client) => {
    const id = client.escapeIdentifier(scratch);
    await client.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
    await client.query(
      `CREATE DATABASE ${id} OWNER ${client.escapeIdentifier(options.owner)} ENCODING 'UTF8'`,
    );
    await client.query(`REVOKE ALL ON DATABASE ${id} FROM PUBLIC`);
  });
  const target = toolTarget(options.adminDatabaseUrl, scratch);
  // As the instance's role, so every restored object belongs to it; one transaction, so it is all or nothing.
  await runPiped(
    tools.pgRestore,
    [
      '--no-owner',
      '--no-privileges',
      `--role=${options.owner}`,
      '--single-transaction',
      '--exit-on-error',
      `--dbname=${target.url}`,
    ],
    target.env,
    ({ stdin }) => pipeline(createReadStream(options.file), stdin),
  );
}

export type SwapResult = 'swapped' | 'already-swapped';

/**
 * Puts `<database>_restoring` in place of `database` (which may not exist: a new instance) in one transaction, so
 * the name always points at a whole database; then drops the replaced one. Nothing may be connected to `database`:
 * the caller stopped Keycloak, and leftover sessions are ended. Safe to repeat.
 */
export async function swapInRestored(options: {
  adminDatabaseUrl: string;
  database: string;
}): Promise<SwapResult> {
  return withConnection(options.adminDatabaseUrl, async (client) => {
    const names = [options.database, restoringDatabase(options.database), replacedDatabase(options.database)];
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = ANY($1)',
      [names],
    );
    const present = new Set(rows.map((row) => row.datname));
    const [live, restoring, replaced] = names.map((name) => client.escapeIdentifier(name)) as [
      string,
      string,
      string,
    ];
    // Left by an earlier swap that committed but did not get to drop it: obsolete either way.
    await client.query(`DROP DATABASE IF EXISTS ${replaced} WITH (FORCE)`);
    if (!present.has(restoringDatabase(options.database))) return 'already-swapped';
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`,
      [names.slice(0, 2)],
    );
    await client.query('BEGIN');
    try {
      if (present.has(options.database)) await client.query(`ALTER DATABASE ${live} RENAME TO ${replaced}`);
      await client.query(`ALTER DATABASE ${restoring} RENAME TO ${live}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
    await client.query(`DROP DATABASE IF EXISTS ${replaced} WITH (FORCE)`);
    return 'swapped';
  });
}

/**
 * Drops the scratch databases of `database` (an interrupted restore) and the server-side copies of the upgrade
 * backups of earlier Keyhouse versions (`<database>_backup_<timestamp>`). Answers what it dropped.
 */
export async function dropScratchDatabases(options: {
  adminDatabaseUrl: string;
  database: string;
}): Promise<string[]> {
  return withConnection(options.adminDatabaseUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
      [`${options.database}_`],
    );
    for (const row of rows)
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(row.datname)} WITH (FORCE)`);
    return rows.map((row) => row.datname);
  });
}
