import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The processes a test left on this host, found by the data dir in their command line (Keycloak, HAProxy,
 * Prometheus of a test's data dir), and their end.
 */

export type ProcessInfo = { pid: number; pgid: number; argv: string[] };

/** Every live process on this host whose command line mentions `dir` (Keycloak, HAProxy of a test's data dir). */
export function processesUnder(dir: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    let stat: string;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv.some((arg) => arg.includes(`${dir}/`))) continue;
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code === 'ENOENT' ||
        (error as NodeJS.ErrnoException).code === 'ESRCH'
      )
        continue; // exited while we looked
      throw error;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue; // a zombie is already dead
    found.push({ pid: Number(entry), pgid: Number(fields[2]), argv });
  }
  return found;
}

export const isJvm = (p: ProcessInfo) => path.basename(p.argv[0] ?? '') === 'java';
export const isHaproxy = (p: ProcessInfo) => path.basename(p.argv[0] ?? '') === 'haproxy';
export const kcHomeOf = (p: ProcessInfo) =>
  p.argv.find((arg) => arg.startsWith('-Dkc.home.dir='))?.slice('-Dkc.home.dir='.length);

/** The process group of this test process: never a target, or the kill would take the test runner with it. */
export function ownProcessGroup(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** After a test: SIGKILL to every process of `dir` and its group (what a failed run may have left). */
export function killEverythingUnder(dir: string): void {
  const own = ownProcessGroup();
  for (const p of processesUnder(dir)) {
    for (const target of [-p.pgid, p.pid]) {
      if (target === -process.pid || target === -own || target === 0 || target === -1) continue;
      try {
        process.kill(target, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }
}
