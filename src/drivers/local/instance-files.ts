import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { isNotFound, readTextIfExists } from '../../platform/errno.js';
import { message } from '../../platform/messages.js';
import { StepFailure } from '../driver-steps.js';
import type { TakenBackup } from '../driver.js';
import type { InstancePorts } from './keycloak-config.js';

/**
 * An instance's directory on this host, `<instancesDir>/<name>`: its Keycloak home, logs, pid file, backups, and
 * `state.json`, what the local driver remembers between calls (written whole or not at all).
 */

const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export type InstancePaths = {
  dir: string;
  /** The Keycloak home of the active slot (the one the edge routes to). */
  home: string;
  state: string;
  pid: string;
  keycloakLog: string;
  consoleLog: string;
  /** The instance's backups (dump files), outside its directory: they do not count against its storage. */
  backups: string;
};

/** Where the local driver keeps its instances unless told otherwise. */
export const defaultInstancesDir = (dataDir: string) => path.join(dataDir, 'instances');

/**
 * An instance has two slots for Keycloak homes, so that a scale or restart can start the new Keycloak beside the
 * running one: `a` is `<dir>/keycloak` (where every instance began), `b` is `<dir>/keycloak-b`.
 */
export type Slot = 'a' | 'b';

export const slotHome = (dir: string, slot: Slot) => path.join(dir, slot === 'a' ? 'keycloak' : 'keycloak-b');
export const otherSlot = (slot: Slot): Slot => (slot === 'a' ? 'b' : 'a');

export function instancePaths(instancesDir: string, name: string, backupsDir: string): InstancePaths {
  if (!NAME_PATTERN.test(name))
    throw new StepFailure('permanent', message('failure.instanceNameInvalid'), name);
  const dir = path.join(instancesDir, name);
  const state = path.join(dir, 'state.json');
  return {
    dir,
    home: slotHome(dir, readState(state)?.slot ?? 'a'),
    state,
    pid: path.join(dir, 'keycloak.pid'),
    keycloakLog: keycloakLogFile(instancesDir, name),
    consoleLog: path.join(dir, 'logs', 'console.log'),
    backups: path.join(backupsDir, name),
  };
}

/** Where Keycloak writes the instance's log (its `log-file` option). */
export function keycloakLogFile(instancesDir: string, name: string): string {
  if (!NAME_PATTERN.test(name))
    throw new StepFailure('permanent', message('failure.instanceNameInvalid'), name);
  return path.join(instancesDir, name, 'logs', 'keycloak.log');
}

/** Kept in `<instanceDir>/state.json` (mode 0600: it holds the temporary admin's password until handover). */
export type InstanceState = {
  ports: InstancePorts;
  /** Until the customer's admin exists; then removed from here and from Keycloak. */
  bootstrapAdmin: { username: string; password: string } | null;
  url: string | null;
  adminAccountDone: boolean;
  firstRealmDone: boolean;
  /** Settings hash the running process was started with; another hash means restart. */
  startedHash: string | null;
  /** The restart (order id) whose new Keycloak runs: a retry of that restart does not restart again. */
  restartedFor?: string;
  /** The slot whose home runs the instance's Keycloak; absent on instances from before slots (then `a`). */
  slot?: Slot;
  /**
   * A Keycloak started in the other slot to take over without downtime (scale, restart): its own ports, the hash
   * it was started with, and `routed` once the edge route was moved to it. Removed when the old one is stopped
   * and this one is promoted to `slot`/`ports`/`startedHash`.
   */
  standby?: { slot: Slot; ports: InstancePorts; startedHash: string | null; routed: boolean };
  /**
   * 'command': the database came from a backup, whose master realm exists already, so Keycloak ignores the
   * bootstrap variables; `kc.sh bootstrap-admin` creates the temporary admin before the next start instead.
   */
  bootstrapAdminBy?: 'start' | 'command';
  /** A restore in place in progress; `swapped` once the restored database has taken the instance's name. */
  restore?: { backupId: string; phase: 'restoring' | 'swapped' };
  /** An upgrade in progress (or its rollback), so a retry after a crash resumes it instead of starting over. */
  upgrade?: {
    fromVersion: string;
    toVersion: string;
    backup: TakenBackup;
    /** `switching`: a patch release starting beside the running one (no rollback needed: the old one serves on). */
    phase: 'switching' | 'upgrading' | 'rolling-back';
    failure?: { reason: string; detail: string };
  };
};

/** Null before the first apply wrote it (state.json is written whole, so it never holds half a state). */
export function readState(file: string): InstanceState | null {
  const text = readTextIfExists(file);
  return text === null ? null : (JSON.parse(text) as InstanceState);
}

export function writeState(file: string, state: InstanceState) {
  // Write-then-rename: a crash leaves the old or the new state, never half of one.
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Ports recorded by every instance on this host but `except`, so two never get the same. */
export function recordedPorts(instancesDir: string, except: string): Set<number> {
  const taken = new Set<number>();
  let names: string[] = [];
  try {
    names = readdirSync(instancesDir);
  } catch (error) {
    if (isNotFound(error)) return taken; // no instance yet
    throw error;
  }
  for (const name of names) {
    if (name === except) continue;
    const state = readState(path.join(instancesDir, name, 'state.json'));
    if (!state) continue;
    for (const ports of [state.ports, state.standby?.ports])
      if (ports) [ports.httpPort, ports.managementPort].forEach((p) => taken.add(p));
  }
  return taken;
}

/** Bytes this instance owns on disk: files shared with the distribution through hard links do not count. */
export async function ownedBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry);
    try {
      const stat = await lstat(full);
      if (stat.isDirectory()) total += await ownedBytes(full);
      else if (stat.nlink === 1) total += stat.size;
    } catch (error) {
      if (!isNotFound(error)) throw error; // else removed while we counted
    }
  }
  return total;
}
