import type { KubernetesObject } from '@kubernetes/client-node';
import type { Condition } from '../../instances/instance-schemas.js';
import { message, type CodedMessage } from '../../platform/messages.js';

/**
 * Reading the operators' status, as pure functions: what the Keycloak Operator writes on a `Keycloak` CR
 * (conditions Ready, HasErrors, RollingUpdate, each with the generation it was computed for), what CloudNativePG
 * writes on a `Cluster` (phase, readyInstances, condition Ready) and on a `Backup` (phase), and the load-balancer
 * address of a Service. A status computed for an older generation says nothing about the current spec.
 */

type StatusCondition = {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
};
export type ObjectWithStatus = KubernetesObject & {
  spec?: Record<string, unknown>;
  status?: {
    conditions?: StatusCondition[];
    observedGeneration?: number;
    phase?: string;
    phaseReason?: string;
    readyInstances?: number;
    error?: string;
    loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
  };
};

/** CloudNativePG's phase of a cluster that serves (`Cluster.status.phase`). */
export const CNPG_HEALTHY_PHASE = 'Cluster in healthy state';

const conditionOf = (object: ObjectWithStatus, type: string) =>
  object.status?.conditions?.find((condition) => condition.type === type);

/** A condition that describes the current spec: computed for this generation (or without generation info). */
function current(object: ObjectWithStatus, condition: StatusCondition | undefined): boolean {
  if (!condition) return false;
  const generation = object.metadata?.generation;
  const observed = condition.observedGeneration ?? object.status?.observedGeneration;
  return generation === undefined || observed === undefined || observed >= generation;
}

/** Not ready: what it waits for, coded, so that the order's running step says it in the reader's language. */
export type Readiness = { ready: true } | { ready: false; failed: boolean; message: CodedMessage };

/** The Keycloak CR: Ready for this generation, not rolling, no errors. `failed` when the operator reports errors. */
export function keycloakReadiness(keycloak: ObjectWithStatus | null): Readiness {
  if (!keycloak) return { ready: false, failed: false, message: message('step.kubernetesKeycloakMissing') };
  const ready = conditionOf(keycloak, 'Ready');
  const errors = conditionOf(keycloak, 'HasErrors');
  const rolling = conditionOf(keycloak, 'RollingUpdate');
  if (errors?.status === 'True' && current(keycloak, errors))
    return {
      ready: false,
      failed: true,
      message: message('step.kubernetesKeycloakErrors', { detail: errors.message || '–' }),
    };
  if (!ready || !current(keycloak, ready))
    return {
      ready: false,
      failed: false,
      message: message('step.kubernetesKeycloakNotReconciled'),
    };
  if (rolling?.status === 'True')
    return { ready: false, failed: false, message: message('step.kubernetesKeycloakRolling') };
  if (ready.status !== 'True')
    return {
      ready: false,
      failed: false,
      message: message('step.kubernetesKeycloakStarting', { detail: ready.message || '–' }),
    };
  return { ready: true };
}

/** The CNPG Cluster: healthy phase, its instance ready, condition Ready for this generation. */
export function databaseReadiness(cluster: ObjectWithStatus | null): Readiness {
  if (!cluster) return { ready: false, failed: false, message: message('step.kubernetesDatabaseMissing') };
  const ready = conditionOf(cluster, 'Ready');
  const wanted = Number(cluster.spec?.instances ?? 1);
  const phase = cluster.status?.phase;
  if (phase === CNPG_HEALTHY_PHASE && (cluster.status?.readyInstances ?? 0) >= wanted)
    if (ready?.status === 'True' && current(cluster, ready)) return { ready: true };
  return {
    ready: false,
    failed: false,
    message: message('step.kubernetesDatabaseNotReady', {
      phase: [phase ?? '–', cluster.status?.phaseReason].filter(Boolean).join(': '),
    }),
  };
}

export type BackupState = 'completed' | 'failed' | 'running';

/** A CNPG Backup: `completed`, `failed` (with the operator's error), or still running (any other phase). */
export function backupState(backup: ObjectWithStatus | null): { state: BackupState; message: string } {
  const phase = backup?.status?.phase;
  if (phase === 'completed') return { state: 'completed', message: 'completed' };
  if (phase === 'failed') return { state: 'failed', message: backup?.status?.error ?? 'failed' };
  return { state: 'running', message: phase ?? 'pending' };
}

/** The first load-balancer address of a Service (IP or host name), or null while the cloud assigns none. */
export function loadBalancerAddress(service: ObjectWithStatus | null): string | null {
  const ingress = service?.status?.loadBalancer?.ingress?.[0];
  return ingress?.ip ?? ingress?.hostname ?? null;
}

/** The operators' conditions as the instance page shows them: Keycloak's three, then the database's Ready. */
export function observedConditions(
  keycloak: ObjectWithStatus | null,
  cluster: ObjectWithStatus | null,
  now: string,
): Condition[] {
  const copy = (object: ObjectWithStatus | null, type: string, as: string): Condition => {
    const found = object && conditionOf(object, type);
    return {
      type: as,
      status: found?.status === 'True' || found?.status === 'False' ? found.status : 'Unknown',
      reason: found?.reason ?? (found ? type : 'NotReported'),
      message: found?.message ?? '',
      lastTransitionTime: found?.lastTransitionTime ?? now,
    };
  };
  return [
    copy(keycloak, 'Ready', 'Ready'),
    copy(keycloak, 'HasErrors', 'HasErrors'),
    copy(keycloak, 'RollingUpdate', 'RollingUpdate'),
    copy(cluster, 'Ready', 'DatabaseReady'),
  ];
}
