import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errnoOf, isNotFound } from '../../platform/errno.js';
import { message, type CodedMessage } from '../../platform/messages.js';
import { processesWithArgument, readProcFile } from '../../platform/proc.js';

/**
 * The Keycloak process of one instance home. kc.sh does not exec java: it starts java as a child and waits, so an
 * instance is two processes (sh and java) in one process group. The java process is the one that matters; it is
 * recognised by `-Dkc.home.dir=<home>/bin/..` on its command line, which kc.sh derives from the real path of the
 * home. Finding it by scanning /proc (rather than trusting a pid file) also finds a java whose sh wrapper was
 * killed, so we never start a twin next to it.
 */

function homeMarker(home: string): string {
  let real = home;
  try {
    real = realpathSync(home);
  } catch (error) {
    if (!isNotFound(error)) throw error; // else not created yet: nothing can run from it anyway
  }
  return `-Dkc.home.dir=${real}/bin/..`;
}

/** Pids of live Keycloak JVMs started from `home`. */
export function findKeycloakProcesses(home: string): number[] {
  return processesWithArgument(homeMarker(home)).map((process) => process.pid);
}

function processGroup(pid: number): number | null {
  const stat = readProcFile(pid, 'stat');
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgid = Number(fields[2]);
  return Number.isInteger(pgid) && pgid > 1 ? pgid : null;
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if (errnoOf(error) !== 'ESRCH') throw error; // else already gone
  }
}

/** Starts `kc.sh start --optimized` detached (own session), so it outlives Keyhouse; returns the wrapper's pid. */
export async function spawnKeycloak(options: {
  home: string;
  cwd: string;
  consoleLog: string;
  pidFile: string;
  env: NodeJS.ProcessEnv;
}): Promise<number> {
  mkdirSync(path.dirname(options.consoleLog), { recursive: true });
  const out = openSync(options.consoleLog, 'a', 0o600);
  try {
    const child = spawn(path.join(options.home, 'bin', 'kc.sh'), ['start', '--optimized'], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    await Promise.race([
      once(child, 'spawn'),
      once(child, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error('kc.sh did not start');
    // The wrapper's pid is also the process group id: `kill -TERM -<pid>` stops the instance by hand.
    writeFileSync(options.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(out);
  }
}

export type StopResult = 'stopped' | 'killed' | 'not-running';

/** What a stop did, as a step's note. */
export function stopNote(result: StopResult): CodedMessage {
  return message(
    result === 'stopped'
      ? 'step.keycloakStopped'
      : result === 'killed'
        ? 'step.keycloakKilled'
        : 'step.keycloakNotRunning',
  );
}

/** Stops every Keycloak process of `home`: SIGTERM to their process groups, SIGKILL after `timeoutMs`. */
export async function stopKeycloak(home: string, timeoutMs: number, pollMs = 250): Promise<StopResult> {
  const pids = findKeycloakProcesses(home);
  if (pids.length === 0) return 'not-running';
  // Keycloak runs in a session of its own; a `kc.sh` command Keyhouse runs itself (bootstrap-admin, an export)
  // shares Keyhouse's group, which is never a target: signalling it would take Keyhouse (and whatever started it,
  // e.g. a test runner) down with it.
  const own = processGroup(process.pid);
  const groups = new Set(
    pids.map((pid) => processGroup(pid)).filter((g): g is number => g !== null && g !== own),
  );
  const send = (sig: NodeJS.Signals) => {
    for (const group of groups) signal(-group, sig);
    for (const pid of findKeycloakProcesses(home)) signal(pid, sig);
  };
  send('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (findKeycloakProcesses(home).length === 0) return 'stopped';
    await delay(pollMs);
  }
  send('SIGKILL');
  const killDeadline = Date.now() + 10_000;
  while (Date.now() < killDeadline) {
    if (findKeycloakProcesses(home).length === 0) return 'killed';
    await delay(pollMs);
  }
  throw new Error(`Keycloak in ${home} survived SIGKILL (pids ${findKeycloakProcesses(home).join(', ')}).`);
}

/** True when the management interface answers /health/ready with 200. */
export async function isKeycloakReady(
  managementPort: number,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}:${managementPort}/health/ready`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch (error) {
    // No answer: refused or reset (fetch's TypeError), or none within the timeout.
    if (error instanceof TypeError || (error as Error).name === 'TimeoutError') return false;
    throw error;
  }
}

export type ReadyWait = { outcome: 'ready' } | { outcome: 'exited' } | { outcome: 'timeout' };

/** Polls /health/ready until it answers, the process is gone, or the deadline passes. */
export async function waitForKeycloakReady(options: {
  home: string;
  managementPort: number;
  /** The management interface's address; loopback by default. */
  host?: string;
  timeoutMs: number;
  pollMs?: number;
}): Promise<ReadyWait> {
  const deadline = Date.now() + options.timeoutMs;
  // kc.sh needs a moment before java appears; only call it "exited" when neither shows up for a few polls.
  let absentPolls = 0;
  while (Date.now() < deadline) {
    if (await isKeycloakReady(options.managementPort, 2000, options.host)) return { outcome: 'ready' };
    absentPolls = findKeycloakProcesses(options.home).length === 0 ? absentPolls + 1 : 0;
    if (absentPolls >= 8) return { outcome: 'exited' };
    await delay(options.pollMs ?? 500);
  }
  return { outcome: 'timeout' };
}

/** The last lines of a log file, for error details. */
export function logTail(file: string, lines = 20): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
