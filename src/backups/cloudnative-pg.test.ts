import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../platform/package-root.js';
import { DEFAULT_BACKUP_POLICY } from './backup-schemas.js';
import {
  backupObject,
  nightlySchedule,
  recoveryBootstrap,
  scheduledBackupObject,
  type CnpgBackupMethod,
} from './cloudnative-pg.js';

/**
 * The CloudNativePG objects of backups against the openAPIV3Schema of the operator's CRDs (v1.30.0, in
 * ../shared/reference). A JSON-schema check of the structural schema: types, enums, required fields. The CEL rules
 * (`x-kubernetes-validations`) are the API server's to evaluate; the Kubernetes driver's tests on a real API server
 * judge the applied objects in full.
 */
const crdDir = path.join(packageRoot, '..', 'shared', 'reference', 'cloudnative-pg-crds', 'v1.30.0');
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
function validatorOf(file: string) {
  const crd = parse(readFileSync(path.join(crdDir, file), 'utf8')) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
  };
  return ajv.compile(crd.spec.versions.find((v) => v.name === 'v1')!.schema.openAPIV3Schema);
}
const validate = {
  ScheduledBackup: validatorOf('postgresql.cnpg.io_scheduledbackups.yaml'),
  Backup: validatorOf('postgresql.cnpg.io_backups.yaml'),
  Cluster: validatorOf('postgresql.cnpg.io_clusters.yaml'),
};
const errorsOf = (kind: keyof typeof validate, object: unknown) => {
  validate[kind](object);
  return validate[kind].errors ?? [];
};

const placement = {
  namespace: 'kh-kc-1a2b3c4d',
  cluster: 'database',
  labels: { 'app.kubernetes.io/managed-by': 'keyhouse' },
};
const plugin: Extract<CnpgBackupMethod, { method: 'plugin' }> = {
  method: 'plugin',
  plugin: 'barman-cloud.cloudnative-pg.io',
  parameters: { barmanObjectName: 'de-north-backups' },
};
const instanceId = '6f1c2f4e-1d7b-4c1a-9f7e-2b1d3c4e5f60';

describe('CloudNativePG backup objects', () => {
  it('a ScheduledBackup in the instance time zone, valid for both methods', () => {
    for (const method of [plugin, { method: 'volumeSnapshot' } as const]) {
      const object = scheduledBackupObject(placement, instanceId, DEFAULT_BACKUP_POLICY, method);
      expect(errorsOf('ScheduledBackup', object)).toEqual([]);
    }
    expect(nightlySchedule(instanceId, DEFAULT_BACKUP_POLICY)).toMatch(
      /^CRON_TZ=Europe\/Berlin 0 \d{1,2} 1 \* \* \*$/,
    );
  });

  it('a Backup per order, named after the backup id', () => {
    const object = backupObject(placement, instanceId, plugin);
    expect(object.metadata.name).toBe(`kh-${instanceId}`);
    expect(errorsOf('Backup', object)).toEqual([]);
  });

  it('a Cluster that restores from another cluster’s backup', () => {
    const cluster = {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'database', namespace: 'kh-kc-9f8e7d6c' },
      spec: {
        instances: 1,
        storage: { size: '50Gi' },
        ...recoveryBootstrap({
          sourceCluster: 'kh-kc-1a2b3c4d-database',
          backupId: '20270105T010000',
          database: 'keycloak',
          owner: 'keycloak',
          method: plugin,
        }),
      },
    };
    expect(errorsOf('Cluster', cluster)).toEqual([]);
  });

  it('the check refuses what the CRD refuses (types and enums)', () => {
    const object = backupObject(placement, instanceId, plugin);
    expect(errorsOf('Backup', { ...object, spec: { ...object.spec, method: 'tape' } })).not.toEqual([]);
    expect(errorsOf('Backup', { ...object, spec: { ...object.spec, online: 'yes' } })).not.toEqual([]);
  });
});
