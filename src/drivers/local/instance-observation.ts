import { existsSync } from 'node:fs';
import type { Condition, ObservedInstance } from '../../instances/instance-schemas.js';
import type { DesiredInstance } from '../driver.js';
import type { InstanceDatabases } from './instance-database.js';
import { ownedBytes, readState, type InstancePaths } from './instance-files.js';
import { findKeycloakProcesses, isKeycloakReady } from './keycloak-process.js';

/**
 * What a local instance looks like from this host: conditions Ready (the process runs and answers /health/ready)
 * and StorageNearlyFull (database plus the instance's own files against the ordered storage; measured, not
 * enforced locally). Only looks; a condition's lastTransitionTime moves only when its status changes.
 */
export function createInstanceObservation(options: { databases: InstanceDatabases; now: () => Date }) {
  /** Last status per instance and condition type. */
  const transitions = new Map<string, { status: string; at: string }>();

  function condition(
    name: string,
    type: string,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Condition {
    const key = `${name}/${type}`;
    const previous = transitions.get(key);
    const at = previous && previous.status === status ? previous.at : options.now().toISOString();
    transitions.set(key, { status, at });
    return { type, status, reason, message, lastTransitionTime: at };
  }

  async function observe(
    instance: Pick<DesiredInstance, 'name' | 'storageGb'>,
    p: InstancePaths,
  ): Promise<ObservedInstance> {
    const state = readState(p.state);
    if (!state || !existsSync(p.home))
      return {
        exists: false,
        ready: false,
        url: null,
        conditions: [
          condition(instance.name, 'Ready', 'False', 'NotProvisioned', 'No Keycloak on this host yet.'),
        ],
        usage: null,
      };
    const running = findKeycloakProcesses(p.home).length > 0;
    const ready = running && (await isKeycloakReady(state.ports.managementPort));
    const conditions = [
      ready
        ? condition(instance.name, 'Ready', 'True', 'Ready', 'Keycloak answers /health/ready.')
        : running
          ? condition(instance.name, 'Ready', 'False', 'Starting', 'Keycloak runs but is not ready yet.')
          : condition(instance.name, 'Ready', 'False', 'ProcessNotRunning', 'No Keycloak process runs.'),
    ];
    const used = (await options.databases.sizeBytes(instance.name)) + (await ownedBytes(p.dir));
    const quota = instance.storageGb * 1024 ** 3;
    const percent = Math.round((used / quota) * 100);
    const nearlyFull = used > quota * 0.9;
    conditions.push(
      condition(
        instance.name,
        'StorageNearlyFull',
        nearlyFull ? 'True' : 'False',
        nearlyFull ? 'Above90Percent' : 'Below90Percent',
        `${percent}% of ${instance.storageGb} GB used.`,
      ),
    );
    return {
      exists: true,
      ready,
      url: state.url,
      conditions,
      usage: { storageUsedBytes: used, storageQuotaBytes: quota },
    };
  }

  return {
    observe,
    /** After the instance is destroyed. */
    forget(name: string) {
      transitions.delete(`${name}/Ready`);
      transitions.delete(`${name}/StorageNearlyFull`);
    },
  };
}
