import { closeSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errnoOf, isNotFound, readTextIfExists } from './errno.js';

/** True when a process with this pid exists (a zombie counts as gone). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errnoOf(error) !== 'EPERM') return false;
  }
  // Field 3 of /proc/<pid>/stat is the state; a zombie has exited and only waits to be reaped.
  const stat = readTextIfExists(`/proc/${pid}/stat`);
  // No /proc (not Linux): kill(0) said it exists.
  if (stat === null) return true;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

export class LockTimeoutError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: number,
  ) {
    super(`Timed out waiting for ${lockFile}, held by pid ${holder}.`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * Runs `work` while holding a lock file that other processes respect (for example two Keyhouse processes that would
 * build the same Keycloak version). The file holds the owner's pid; a lock whose owner is gone (crash, SIGKILL) is
 * taken over, so a crash never leaves a version locked for ever.
 */
export async function withFileLock<T>(
  lockFile: string,
  work: () => Promise<T>,
  options: { timeoutMs: number; pollMs?: number; onWait?: (holder: number) => void },
): Promise<T> {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + options.timeoutMs;
  let reportedWait = false;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    const held = readTextIfExists(lockFile);
    if (held === null) continue; // released between our open and read: try again at once
    const holder = Number(held.trim());
    // An empty file is a holder between open and write; treat it as alive and wait.
    if (holder > 0 && holder !== process.pid && !isProcessAlive(holder)) {
      try {
        unlinkSync(lockFile);
      } catch (error) {
        if (!isNotFound(error)) throw error; // else another waiter took it over first
      }
      continue;
    }
    if (Date.now() > deadline) throw new LockTimeoutError(lockFile, holder);
    if (!reportedWait) {
      options.onWait?.(holder);
      reportedWait = true;
    }
    await delay(options.pollMs ?? 500);
  }
  try {
    return await work();
  } finally {
    releaseFileLock(lockFile);
  }
}

function releaseFileLock(lockFile: string) {
  if (readTextIfExists(lockFile)?.trim() !== String(process.pid)) return;
  try {
    unlinkSync(lockFile);
  } catch (error) {
    if (!isNotFound(error)) throw error; // else already gone
  }
}

/** Serialises async work per key inside this process (an apply and the supervisor on the same instance). */
export function createKeyedMutex(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
