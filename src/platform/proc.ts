import { readdirSync, readFileSync } from 'node:fs';
import { errnoOf, isNotFound, readTextIfExists } from './errno.js';
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

/** A TCP socket of this host as the kernel lists it (state: 01 established, 0A listening, … as hex). */
export type TcpSocket = { localPort: number; state: string; inode: string };

/** This host's TCP sockets, IPv4 and IPv6, from /proc/net/tcp{,6}; null where there is neither (not Linux). */
export function tcpSockets(procNet = '/proc/net'): TcpSocket[] | null {
  const tables = ['tcp', 'tcp6'].map((table) => readTextIfExists(`${procNet}/${table}`));
  if (tables.every((text) => text === null)) return null;
  const sockets: TcpSocket[] = [];
  for (const text of tables) {
    // No IPv6 on this host: no tcp6.
    for (const line of (text ?? '').split('\n').slice(1)) {
      // sl local_address rem_address st …: local_address is HEXADDR:HEXPORT; field 9 is the inode.
      const fields = line.trim().split(/\s+/);
      const port = fields[1]?.split(':')[1];
      if (!port || !fields[3] || !fields[9]) continue;
      sockets.push({ localPort: parseInt(port, 16), state: fields[3], inode: fields[9] });
    }
  }
  return sockets;
}
