import { describe, expect, it } from 'vitest';
import { message } from '../../platform/messages.js';
import {
  backupState,
  CNPG_HEALTHY_PHASE,
  databaseReadiness,
  keycloakReadiness,
  loadBalancerAddress,
  type ObjectWithStatus,
} from './instance-status.js';

const keycloak = (
  generation: number,
  conditions: { type: string; status: string; message?: string; observedGeneration?: number }[],
): ObjectWithStatus => ({
  apiVersion: 'k8s.keycloak.org/v2beta1',
  kind: 'Keycloak',
  metadata: { name: 'keycloak', generation },
  status: { conditions },
});

describe('reading the operators’ status', () => {
  it('takes Keycloak as ready only when Ready is True for the current generation, not rolling, without errors', () => {
    const healthy = [
      { type: 'Ready', status: 'True', observedGeneration: 3 },
      { type: 'HasErrors', status: 'False', observedGeneration: 3 },
      { type: 'RollingUpdate', status: 'False', observedGeneration: 3 },
    ];
    expect(keycloakReadiness(keycloak(3, healthy))).toEqual({ ready: true });
    // A spec change the operator has not seen yet: the old Ready says nothing about it.
    expect(keycloakReadiness(keycloak(4, healthy))).toMatchObject({ ready: false, failed: false });
    expect(
      keycloakReadiness(keycloak(3, [healthy[0]!, healthy[1]!, { ...healthy[2]!, status: 'True' }])),
    ).toEqual({ ready: false, failed: false, message: message('step.kubernetesKeycloakRolling') });
    expect(
      keycloakReadiness(
        keycloak(3, [
          { ...healthy[0]!, status: 'False' },
          { ...healthy[1]!, status: 'True', message: 'ErrImagePull' },
          healthy[2]!,
        ]),
      ),
    ).toEqual({
      ready: false,
      failed: true,
      message: message('step.kubernetesKeycloakErrors', { detail: 'ErrImagePull' }),
    });
    expect(keycloakReadiness(null)).toMatchObject({ ready: false, failed: false });
  });

  it('takes a CNPG cluster as ready in its healthy phase with its instances ready and Ready current', () => {
    const cluster = (
      phase: string,
      readyInstances: number,
      observedGeneration: number,
    ): ObjectWithStatus => ({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'database', generation: 2 },
      spec: { instances: 1 },
      status: {
        phase,
        readyInstances,
        conditions: [{ type: 'Ready', status: 'True', observedGeneration }],
      },
    });
    expect(databaseReadiness(cluster(CNPG_HEALTHY_PHASE, 1, 2))).toEqual({ ready: true });
    expect(databaseReadiness(cluster(CNPG_HEALTHY_PHASE, 1, 1))).toMatchObject({ ready: false });
    expect(databaseReadiness(cluster('Setting up primary', 0, 2))).toEqual({
      ready: false,
      failed: false,
      message: message('step.kubernetesDatabaseNotReady', { phase: 'Setting up primary' }),
    });
  });

  it('reads a backup’s phase and a Service’s load-balancer address', () => {
    const backup = (phase?: string, error?: string): ObjectWithStatus => ({ status: { phase, error } });
    expect(backupState(backup('completed')).state).toBe('completed');
    expect(backupState(backup('failed', 'no snapshot class'))).toEqual({
      state: 'failed',
      message: 'no snapshot class',
    });
    expect(backupState(backup('running')).state).toBe('running');
    expect(backupState(null).state).toBe('running');
    expect(loadBalancerAddress({ status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }] } } })).toBe(
      'lb.example',
    );
    expect(loadBalancerAddress({ status: { loadBalancer: {} } })).toBeNull();
  });
});
