import { execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { tcpSockets } from '../platform/proc.js';
import { HaproxyCliError, type HaproxyCli, type HaproxyProcessTable } from './haproxy-cli.js';

/**
 * HAProxy as a process of its own, in master-worker mode: the master (`-W`) keeps the listening sockets and
 * forks a worker per configuration; a reload re-executes the master, which hands the listeners to the new worker
 * over its socketpair (`-x sockpair@…`, done by the master itself) while the old worker finishes its requests. It
 * runs detached in its own session, like Keycloak and the embedded PostgreSQL: Keyhouse exiting, crashing or being
 * upgraded does not touch it, and the next Keyhouse adopts it instead of starting a twin. It is recognised by its
 * configuration file on the command line (read from /proc), not by a pid file alone, so a stale pid never
 * misleads.
 */
export type HaproxyPaths = {
  binary: string;
  configFile: string;
  masterSocket: string;
  pidFile: string;
  logFile: string;
};

const run = promisify(execFile);

function commandLine(pid: string): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch (error) {
    if (isGoneOrForeign(error)) return undefined; // exited while we looked, or not ours to read
    throw error;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // a zombie has exited
    return Number(fields[1]);
  } catch (error) {
    if (isGoneOrForeign(error)) return undefined;
    throw error;
  }
}

/** Every live HAProxy process (master and workers) started with `configFile`. */
export function findHaproxyProcesses(configFile: string): { pid: number; ppid: number }[] {
  const found: { pid: number; ppid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = commandLine(entry);
    if (!argv || !argv.includes('-W')) continue;
    const at = argv.indexOf('-f');
    if (at < 0 || argv[at + 1] !== configFile) continue;
    const ppid = parentPid(Number(entry));
    if (ppid !== undefined) found.push({ pid: Number(entry), ppid });
  }
  return found;
}

/** The master of `configFile`: the one of its processes whose parent is not one of them. */
export function findHaproxyMaster(configFile: string): number | undefined {
  const processes = findHaproxyProcesses(configFile);
  const pids = new Set(processes.map((p) => p.pid));
  return processes.find((p) => !pids.has(p.ppid))?.pid;
}

/** Errors of reading another process's /proc entries that only mean "it is gone" or "not ours". */
function isGoneOrForeign(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM';
}

/**
 * The TCP ports HAProxy's processes listen on, from the kernel: their socket inodes matched against the listening
 * sockets of /proc/net/tcp{,6}. These ports are HAProxy's own, not "taken": a reload hands them to the new worker.
 */
export function listeningPorts(pids: readonly number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch (error) {
      if (isGoneOrForeign(error)) continue;
      throw error;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) inodes.add(inode);
      } catch (error) {
        if (!isGoneOrForeign(error)) throw error;
      }
    }
  }
  const ports = new Set<number>();
  // 0A: listening.
  for (const socket of tcpSockets() ?? [])
    if (socket.state === '0A' && inodes.has(socket.inode)) ports.add(socket.localPort);
  return ports;
}

export function logTail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** `haproxy -c`: throws with HAProxy's own words when the file would not load. */
export async function checkHaproxyConfig(binary: string, file: string): Promise<void> {
  try {
    await run(binary, ['-c', '-f', file], { timeout: 30_000 });
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    // Exit code 2: valid, but without any listener (no instance yet). The master-worker mode runs it anyway.
    if (failed.code === 2) return;
    const alerts = `${failed.stderr ?? ''}${failed.stdout ?? ''}`
      .split('\n')
      .filter((line) => line.includes('[ALERT]'));
    throw new Error(`HAProxy refuses the rendered configuration ${file}:\n${alerts.join('\n')}`);
  }
}

/** Socket errors while the master re-executes itself on a reload, or a worker has just been replaced. */
function isTransient(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return (
    error instanceof HaproxyCliError ||
    code === 'ECONNREFUSED' ||
    code === 'ENOENT' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE'
  );
}

/** Waits until the master answers and its current worker answers too; the table of that moment. */
async function waitUntilServing(
  cli: HaproxyCli,
  isDone: (table: HaproxyProcessTable) => boolean | 'failed',
  options: { timeoutMs: number; masterAlive: () => boolean; what: string; logFile: string },
): Promise<HaproxyProcessTable> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!options.masterAlive()) {
      throw new Error(`HAProxy exited while ${options.what}:\n${logTail(options.logFile)}`);
    }
    try {
      const table = await cli.processes();
      const done = isDone(table);
      if (done === 'failed') throw new Error(`HAProxy failed ${options.what}:\n${logTail(options.logFile)}`);
      const worker = table.workers[0];
      if (done && worker !== undefined) {
        await cli.worker(worker, 'show info');
        return table;
      }
      last = `master ${table.masterPid}, workers ${table.workers.join(',') || 'none'}`;
    } catch (error) {
      if (!isTransient(error)) throw error;
      last = (error as Error).message;
    }
    await delay(20);
  }
  throw new Error(`HAProxy did not finish ${options.what} within ${options.timeoutMs} ms (${last}).`);
}

export function isAlive(pid: number): boolean {
  return parentPid(pid) !== undefined;
}

/** Starts the master detached; resolves once its first worker serves. */
export async function startHaproxy(
  paths: HaproxyPaths,
  cli: HaproxyCli,
  timeoutMs = 30_000,
): Promise<HaproxyProcessTable> {
  mkdirSync(path.dirname(paths.logFile), { recursive: true });
  const out = openSync(paths.logFile, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(
      paths.binary,
      ['-W', '-S', `${paths.masterSocket},mode,600`, '-f', paths.configFile, '-p', paths.pidFile],
      // Its own session: signals to Keyhouse's process group never reach it. No environment: the configuration
      // is complete, and Keyhouse's secrets have no business in HAProxy's.
      { detached: true, stdio: ['ignore', out, out], env: {} },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  if (pid === undefined) throw new Error('HAProxy did not start.');
  const master = pid;
  // -p writes the pid only once the worker runs; written here too, for an operator who looks early.
  writeFileSync(paths.pidFile, `${master}\n`);
  return waitUntilServing(cli, (table) => table.masterPid === master, {
    timeoutMs,
    masterAlive: () => isAlive(master),
    what: 'starting',
    logFile: paths.logFile,
  });
}

/** Reloads onto the configuration file as it is now; resolves once the new worker serves. */
export async function reloadHaproxy(
  paths: HaproxyPaths,
  cli: HaproxyCli,
  timeoutMs = 30_000,
): Promise<HaproxyProcessTable> {
  const before = await cli.processes();
  try {
    await cli.master('reload');
  } catch (error) {
    // "Note that a reload will close the connection to the master CLI."
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
  }
  return waitUntilServing(
    cli,
    (table) => {
      if (table.failedReloads > before.failedReloads) return 'failed';
      return table.reloads > before.reloads && table.workers.some((pid) => !before.workers.includes(pid));
    },
    { timeoutMs, masterAlive: () => isAlive(before.masterPid), what: 'reloading', logFile: paths.logFile },
  );
}

/** Stops master and workers (tests, and an operator taking the edge down); SIGKILL after `timeoutMs`. */
export async function stopHaproxy(configFile: string, timeoutMs = 10_000): Promise<void> {
  const master = findHaproxyMaster(configFile);
  if (master !== undefined) signal(master, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (findHaproxyProcesses(configFile).length) {
    if (Date.now() > deadline) {
      for (const { pid } of findHaproxyProcesses(configFile)) signal(pid, 'SIGKILL');
    }
    await delay(20);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
