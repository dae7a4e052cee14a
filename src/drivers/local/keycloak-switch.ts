import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { UpstreamObservation } from '../../edge/edge-upstream.js';
import { message, type CodedMessage } from '../../platform/messages.js';
import { tcpSockets } from '../../platform/proc.js';
import type { ChangeRoom, DesiredInstance } from '../driver.js';
import { StepFailure, type stepper } from '../driver-steps.js';
import {
  otherSlot,
  recordedPorts,
  slotHome,
  writeState,
  type InstancePaths,
  type InstanceState,
  type Slot,
} from './instance-files.js';
import type { InstancePorts, KeycloakSettings } from './keycloak-config.js';
import type { KeycloakDistribution } from './keycloak-distribution.js';
import { installHome } from './keycloak-home.js';
import {
  findKeycloakProcesses,
  logTail,
  stopKeycloak,
  stopNote,
  waitForKeycloakReady,
} from './keycloak-process.js';
import { allocatePorts } from './port-allocation.js';

/**
 * Scale and restart without downtime: the new Keycloak starts in the instance's other slot (its own home and
 * ports, the same database), the edge route moves to it once it is ready, and the old one is stopped once this
 * host's HAProxy sends it nothing any more. Every step is recorded in state.json before it acts (`standby`), so a
 * pass after a crash finds both processes, or one, and finishes: exactly one Keycloak serves at the end.
 *
 * Two Keycloaks on one database at once are safe here: each runs with `cache=local` (no cluster is formed, so
 * no half-joined Infinispan cluster), and Keycloak 26 keeps user sessions in the database (persistent user
 * sessions), so a session begun on the old one is found by the new one. What a local cache cannot do is tell
 * the other process about an admin change during the seconds both run; the old one is stopped right after.
 */

/** What a switch needs of the driver (local-driver.ts). */
export type SwitchContext = {
  instance: DesiredInstance;
  paths: InstancePaths;
  state: InstanceState;
  url: string;
  distribution: KeycloakDistribution;
  step: ReturnType<typeof stepper>;
  instancesDir: string;
  portRange: { from: number; to: number };
  serialised: <T>(key: string, work: () => Promise<T>) => Promise<T>;
  stopTimeoutMs: number;
  readyTimeoutMs: number;
  /** How long the old Keycloak may still get requests from HAProxy workers of the earlier route. */
  drainTimeoutMs: number;
  settingsFor(ports: InstancePorts, home: string): KeycloakSettings;
  /**
   * Brings what the instance keeps in its home (the customer's themes) to the spec in the new home before Keycloak
   * starts there; `restart`: a Keycloak already running there has to start again to see it.
   */
  prepare(home: string): Promise<{ notes: CodedMessage[]; restart: boolean }>;
  /** Writes the settings into `home` and starts Keycloak there; answers the wrapper's pid. */
  start(home: string, settings: KeycloakSettings, slot: Slot): Promise<number>;
  /** Moves the instance's edge route to `upstreamPort` (with everything else the route carries). */
  route(upstreamPort: number): Promise<void>;
  observeUpstream(upstreamPort: number): Promise<UpstreamObservation>;
  /** The restart order this switch serves, recorded with the promotion (a retry of it does not switch again). */
  restartId?: string;
  /** A test's fault (LocalDriverTestFaults.failReadiness): the new Keycloak counts as not ready once it is. */
  failReadiness?: boolean;
};

/** A second JVM needs about this much free memory on the host (an idle b2-4 holds about 0.4 GB, a starting one more). */
export const SECOND_KEYCLOAK_MB = 1024;

/** MemAvailable of /proc/meminfo in MB; null where there is none. */
export function availableMemoryMb(meminfo = '/proc/meminfo'): number | null {
  let text: string;
  try {
    text = readFileSync(meminfo, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const kb = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
  return kb === undefined ? null : Math.floor(Number(kb) / 1024);
}

/** The control plane's room, narrowed by this host's free memory. */
export function hostRoom(room: ChangeRoom, availableMb: number | null): ChangeRoom {
  if (!room.secondInstance) return room;
  if (availableMb !== null && availableMb < SECOND_KEYCLOAK_MB)
    return {
      secondInstance: false,
      why: message('step.roomHostMemory', { available: availableMb, needed: SECOND_KEYCLOAK_MB }),
    };
  return room;
}

const POLL_MS = 200;

/**
 * How long the drain waits for the old Keycloak's last connection to close: HAProxy's `timeout server` bounds a
 * request, but once the edge sends nothing there any more what is left finishes within moments.
 */
export const CONNECTION_DRAIN_MS = 30_000;

/** Established TCP connections to `port` on this host (both ends of a loopback connection count once: ours is the
 * local one); null where the kernel's table cannot be read. */
export function openConnections(port: number, procNet?: string): number | null {
  const sockets = tcpSockets(procNet);
  // 01: established.
  return sockets && sockets.filter((socket) => socket.localPort === port && socket.state === '01').length;
}

/**
 * Waits until nothing is connected to the old Keycloak's HTTP port any more (a request in flight there, e.g. through
 * an edge elsewhere or one that was not seen to switch, finishes instead of being cut by the stop), up to
 * `timeoutMs`. Answers the step's note.
 */
async function drainConnections(port: number, timeoutMs: number): Promise<CodedMessage | null> {
  const started = Date.now();
  const first = openConnections(port);
  if (first === null) return null;
  if (first === 0) return message('step.drainIdle');
  for (;;) {
    await delay(POLL_MS);
    const open = openConnections(port) ?? 0;
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    if (open === 0) return message('step.drainClosed', { count: first, seconds });
    if (Date.now() - started >= timeoutMs) return message('step.drainStillOpen', { count: open, seconds });
  }
}

export async function switchBeside(context: SwitchContext): Promise<void> {
  const { paths: p, state, step } = context;
  const activeSlot = state.slot ?? 'a';

  const standby = await step('keycloak-standby', async () => {
    let standby = state.standby;
    const notes: CodedMessage[] = [];
    if (!standby) {
      const ports = await context.serialised('ports', async () => {
        const taken = new Set([
          ...recordedPorts(context.instancesDir, context.instance.name),
          state.ports.httpPort,
          state.ports.managementPort,
        ]);
        const [httpPort, managementPort] = await allocatePorts({
          range: context.portRange,
          taken,
          count: 2,
        }).catch((error: Error) => {
          throw new StepFailure('transient', message('step.standbyNoPort'), error.message);
        });
        const allocated = { httpPort: httpPort!, managementPort: managementPort! };
        state.standby = { slot: otherSlot(activeSlot), ports: allocated, startedHash: null, routed: false };
        writeState(p.state, state);
        return allocated;
      });
      standby = state.standby!;
      notes.push(
        message('step.standbyPorts', {
          slot: standby.slot,
          http: ports.httpPort,
          management: ports.managementPort,
        }),
      );
    } else notes.push(message('step.standbyResumed', { slot: standby.slot }));
    const home = slotHome(p.dir, standby.slot);
    // Not running yet, or our own standby: making it again with today's build options costs no downtime.
    notes.push(
      ...(await installHome(
        home,
        context.distribution,
        context.instance.version,
        context.stopTimeoutMs,
        true,
      )),
    );
    const prepared = await context.prepare(home);
    notes.push(...prepared.notes);
    const settings = context.settingsFor(standby.ports, home);
    const running = findKeycloakProcesses(home);
    const restart = running.length > 0 && (standby.startedHash !== settings.hash || prepared.restart);
    if (restart) {
      await stopKeycloak(home, context.stopTimeoutMs);
      notes.push(message('step.standbyOtherSettings'));
    }
    if (!running.length || restart) {
      const pid = await context.start(home, settings, standby.slot);
      standby.startedHash = settings.hash;
      writeState(p.state, state);
      notes.push(message('step.keycloakStarted', { pid }));
    } else notes.push(message('step.keycloakAdopted', { pids: running.join(', ') }));
    const ready = await waitForKeycloakReady({
      home,
      managementPort: standby.ports.managementPort,
      timeoutMs: context.readyTimeoutMs,
    });
    const waited =
      ready.outcome === 'ready' && context.failReadiness ? { outcome: 'timeout' as const } : ready;
    if (waited.outcome !== 'ready') {
      // The old one serves on; the next attempt starts the standby again.
      const tail = `${logTail(p.keycloakLog)}\n${logTail(p.consoleLog, 10)}`;
      if (!standby.routed) {
        await stopKeycloak(home, context.stopTimeoutMs);
        delete state.standby;
        writeState(p.state, state);
      }
      throw new StepFailure(
        'transient',
        message(waited.outcome === 'exited' ? 'step.standbyExited' : 'step.standbyNotReady'),
        tail,
      );
    }
    notes.push(message('step.standbyReady'));
    return { value: standby, note: notes };
  });

  await step('edge-switch', async () => {
    standby.routed = true;
    writeState(p.state, state);
    await context.route(standby.ports.httpPort);
    const deadline = Date.now() + context.drainTimeoutMs;
    let last: UpstreamObservation;
    for (;;) {
      last = await context.observeUpstream(standby.ports.httpPort);
      if (last.serves !== 'not-yet' || Date.now() >= deadline) break;
      await delay(POLL_MS);
    }
    switch (last.serves) {
      case 'only-this':
        return { value: null, note: message('step.edgeSwitched', { port: standby.ports.httpPort }) };
      case 'unknown': {
        // The edge runs elsewhere: give its old workers the keep-alive timeout to finish (see haproxy-config.ts).
        const waitMs = Math.min(context.drainTimeoutMs, 35_000);
        await delay(waitMs);
        return {
          value: null,
          note: message('step.edgeUnobserved', { why: last.why, seconds: waitMs / 1000 }),
        };
      }
      case 'not-yet':
        return {
          value: null,
          note: message('step.edgeStillOld', { why: last.why, seconds: context.drainTimeoutMs / 1000 }),
        };
      default:
        return last satisfies never;
    }
  });

  await step('keycloak-drain', async () => {
    const oldHome = slotHome(p.dir, activeSlot);
    const drained = await drainConnections(state.ports.httpPort, CONNECTION_DRAIN_MS);
    const stopped = await stopKeycloak(oldHome, context.stopTimeoutMs);
    state.slot = standby.slot;
    state.ports = standby.ports;
    state.startedHash = standby.startedHash;
    if (context.restartId) state.restartedFor = context.restartId;
    delete state.standby;
    writeState(p.state, state);
    return {
      value: null,
      note: [
        ...(drained ? [drained] : []),
        stopNote(stopped),
        message('step.slotServes', { slot: standby.slot, old: activeSlot }),
      ],
    };
  });
}
