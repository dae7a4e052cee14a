import { readdirSync, readFileSync } from 'node:fs';
import { errnoOf, isNotFound } from './errno.js';
import { isProcessAlive } from './file-lock.js';

/**
 * Finding this host's processes by their command line in /proc, for the detached processes Keyhouse adopts after a
 * restart (Keycloak, Prometheus): scanning finds a process whatever became of a pid file.
 */

/** A file of /proc/<pid>; null when the process exited while we looked (ENOENT, ESRCH) or is not ours (EACCES). */
export function readProcFile(pid: number | string, name: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch (error) {
    if (isNotFound(error) || errnoOf(error) === 'ESRCH' || errnoOf(error) === 'EACCES') return null;
    throw error;
  }
}

/** Live processes whose command line has `argument` as one of its arguments, with their arguments. */
export function processesWithArgument(argument: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch (error) {
    if (isNotFound(error)) return found; // no /proc: not Linux
    throw error;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = readProcFile(entry, 'cmdline');
    if (cmdline === null) continue;
    const argv = cmdline.split('\0').filter((part, index, all) => part !== '' || index < all.length - 1);
    if (argv.includes(argument) && isProcessAlive(Number(entry))) found.push({ pid: Number(entry), argv });
  }
  return found;
}
