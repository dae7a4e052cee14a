import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readTextIfExists } from '../../platform/errno.js';
import { message, type CodedMessage } from '../../platform/messages.js';
import { runCommand } from '../../platform/process-runner.js';
import { StepFailure } from '../driver-steps.js';
import type { InstancePorts } from './keycloak-config.js';
import { BUILD_OPTIONS_TAG, type KeycloakDistribution } from './keycloak-distribution.js';
import { findKeycloakProcesses, stopKeycloak, stopNote } from './keycloak-process.js';
import {
  readState,
  recordedPorts,
  writeState,
  type InstancePaths,
  type InstanceState,
} from './instance-files.js';
import { allocatePorts, isPortFree } from './port-allocation.js';

/**
 * An instance's Keycloak home: a hard-linked copy of the built distribution (conf/ and data/ real copies, since
 * they are written to), marked with its version and rebuilt when the version changes; and its two loopback ports,
 * allocated once and kept, so restarts and the edge route stay stable.
 */

const HOME_MARKER = '.keyhouse-home.json';
/** `build`: the distribution's BUILD_OPTIONS_TAG; absent in homes made before build options were recorded. */
type HomeMarker = { version: string; build?: string };

function readHomeMarker(home: string): HomeMarker | null {
  const marker = readTextIfExists(path.join(home, HOME_MARKER));
  return marker === null ? null : (JSON.parse(marker) as HomeMarker);
}

/** The Keycloak version a home was made from; null when there is no (finished) home: the marker comes last. */
export function homeVersion(home: string): string | null {
  return readHomeMarker(home)?.version ?? null;
}

/** Made from a distribution built with today's build options (user event metrics among them). */
export function homeHasCurrentBuild(home: string): boolean {
  return readHomeMarker(home)?.build === BUILD_OPTIONS_TAG;
}

export async function prepareHome(options: {
  version: string;
  name: string;
  paths: InstancePaths;
  distribution: KeycloakDistribution;
  instancesDir: string;
  portRange: { from: number; to: number };
  stopTimeoutMs: number;
  /** Serialises port allocation with the other instances' applies in this process. */
  serialised: <T>(key: string, work: () => Promise<T>) => Promise<T>;
  /**
   * Also make the home again when it was made with other build options (e.g. event metrics added): a restart's
   * business, since it stops Keycloak; a plain apply keeps a running home of the right version.
   */
  refreshBuild?: boolean;
  /** The instance's database was restored from a backup (a new instance from another's backup). */
  restored: boolean;
}): Promise<{ state: InstanceState; note: CodedMessage[] }> {
  const { paths: p, distribution, version } = options;
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  mkdirSync(path.dirname(p.keycloakLog), { recursive: true });
  const notes: CodedMessage[] = [];

  notes.push(
    ...(await installHome(p.home, distribution, version, options.stopTimeoutMs, options.refreshBuild)),
  );

  let state = readState(p.state);
  const running = findKeycloakProcesses(p.home).length > 0;
  const portsBusy = async (ports: InstancePorts) =>
    !(await isPortFree(ports.httpPort)) || !(await isPortFree(ports.managementPort));
  if (!state || (!running && (await portsBusy(state.ports)))) {
    const previous = state;
    // Allocation and recording happen under one lock: a parallel apply must see these ports as taken.
    state = await options.serialised('ports', async () => {
      const [httpPort, managementPort] = await allocatePorts({
        range: options.portRange,
        taken: new Set([
          ...recordedPorts(options.instancesDir, options.name),
          ...(previous?.standby
            ? [previous.standby.ports.httpPort, previous.standby.ports.managementPort]
            : []),
        ]),
        count: 2,
      }).catch((error: Error) => {
        throw new StepFailure('transient', message('failure.noFreePort'), error.message);
      });
      const ports = { httpPort: httpPort!, managementPort: managementPort! };
      const next: InstanceState = previous
        ? { ...previous, ports }
        : {
            ports,
            bootstrapAdmin: {
              username: 'keyhouse-bootstrap',
              password: randomBytes(24).toString('base64url'),
            },
            url: null,
            adminAccountDone: false,
            firstRealmDone: false,
            startedHash: null,
            // A restored database has its master realm: the temporary admin comes from `kc.sh bootstrap-admin`.
            bootstrapAdminBy: options.restored ? 'command' : 'start',
          };
      writeState(p.state, next);
      return next;
    });
    const ports = { http: state.ports.httpPort, management: state.ports.managementPort };
    notes.push(message(previous ? 'step.portsMoved' : 'step.ports', ports));
  }
  return { state, note: notes.length ? notes : [message('step.homeUpToDate')] };
}

/**
 * A hard-linked copy of the built distribution at `target` (which must not exist), with real copies of conf/ and
 * data/: Keycloak writes to them, and must never write into the shared distribution. Throws StepFailure.
 */
export async function copyDistributionHome(
  distribution: KeycloakDistribution,
  target: string,
): Promise<void> {
  const copy = await runCommand('cp', ['-al', distribution.home, target]);
  if (copy.code !== 0) throw new StepFailure('transient', message('failure.keycloakCopyFailed'), copy.tail);
  for (const writable of ['conf', 'data']) {
    const dir = path.join(target, writable);
    rmSync(dir, { recursive: true, force: true });
    const source = path.join(distribution.home, writable);
    if (existsSync(source)) {
      const real = await runCommand('cp', ['-a', source, dir]);
      if (real.code !== 0)
        throw new StepFailure('transient', message('failure.keycloakCopyFailed'), real.tail);
    } else mkdirSync(dir);
  }
}

/**
 * Makes `home` a home of Keycloak `version` (a hard-linked copy of the built distribution), stopping a Keycloak
 * running from it first; with `refreshBuild` also when it was made with other build options. Answers what it did:
 * nothing when the home was up to date.
 */
export async function installHome(
  home: string,
  distribution: KeycloakDistribution,
  version: string,
  stopTimeoutMs: number,
  refreshBuild = false,
): Promise<CodedMessage[]> {
  const marker = readHomeMarker(home);
  const installed = marker?.version ?? null;
  const outdatedBuild = refreshBuild && marker?.build !== BUILD_OPTIONS_TAG;
  if (installed === version && !outdatedBuild) return [];
  const notes: CodedMessage[] = [];
  if (findKeycloakProcesses(home).length) notes.push(stopNote(await stopKeycloak(home, stopTimeoutMs)));
  const staging = `${home}.new`;
  rmSync(staging, { recursive: true, force: true });
  await copyDistributionHome(distribution, staging);
  writeFileSync(
    path.join(staging, HOME_MARKER),
    JSON.stringify({ version, build: BUILD_OPTIONS_TAG } satisfies HomeMarker),
  );
  rmSync(home, { recursive: true, force: true });
  renameSync(staging, home);
  notes.push(message(installed === version ? 'step.homeRebuilt' : 'step.homeCreated', { version }));
  return notes;
}
