import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Queryable } from '../db/database.js';
import { effectiveAdminSources, type InstanceSpec } from '../instances/instance-schemas.js';
import { openInstanceSecrets, type InstanceSecrets } from '../instances/instance-secrets.js';
import { listInstancesToRun, type ProvisioningView } from '../instances/instance-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import type { DesiredInstance } from './driver.js';

/** What a driver is asked to make of an instance with the given spec (the reconciler's and the supervisor's view). */
export function desiredInstance(
  catalog: Catalog,
  instance: Pick<ProvisioningView, 'id' | 'name' | 'customerNumber' | 'adminUsername'>,
  spec: InstanceSpec,
  secrets: InstanceSecrets,
): DesiredInstance {
  const nodeSize = catalog.nodeSizes.find((n) => n.id === spec.nodeSize)!;
  return {
    instanceId: instance.id,
    name: instance.name,
    customerNumber: instance.customerNumber,
    adminUsername: instance.adminUsername,
    version: spec.version,
    nodeSize: { id: nodeSize.id, vcpu: nodeSize.vcpu, memoryGb: nodeSize.memoryGb },
    storageGb: spec.storageGb,
    trustedSources: spec.trustedSources,
    adminSources: effectiveAdminSources(spec),
    region: spec.region,
    zone: spec.zone,
    themes: spec.themes,
    customHostname: spec.customHostname ?? null,
    secrets,
  };
}

/**
 * The instances a backend keeps running in its regions (`regions` by id): every running instance whose secrets
 * exist, as its driver sees it. For a backend's background work (the local supervisor and observer).
 */
export async function desiredInstancesIn(options: {
  db: Queryable;
  catalog: Catalog;
  secretBox: SecretBox;
  regions: readonly string[];
}): Promise<DesiredInstance[]> {
  const desired: DesiredInstance[] = [];
  for (const region of options.regions) {
    for (const instance of await listInstancesToRun(options.db, region)) {
      if (!instance.sealedSecrets) continue;
      const secrets = openInstanceSecrets(options.secretBox, instance.sealedSecrets);
      desired.push(desiredInstance(options.catalog, instance, instance.spec, secrets));
    }
  }
  return desired;
}
