import type { Catalog } from '../catalog/catalog-schemas.js';
import type { DesiredInstance } from '../drivers/driver.js';
import type { InstanceSecrets } from '../instances/instance-secrets.js';
import type { ProvisioningView } from '../instances/instance-store.js';
import { effectiveAdminSources, type InstanceSpec } from '../orders/order-schemas.js';

/** What a driver is asked to make of an instance with the given spec (the reconciler's and the supervisor's view). */
export function desiredInstance(
  catalog: Catalog,
  instance: Pick<ProvisioningView, 'id' | 'name' | 'customerNumber'>,
  spec: InstanceSpec,
  secrets: InstanceSecrets,
): DesiredInstance {
  const nodeSize = catalog.nodeSizes.find((n) => n.id === spec.nodeSize)!;
  return {
    instanceId: instance.id,
    name: instance.name,
    customerNumber: instance.customerNumber,
    version: spec.version,
    nodeSize: { id: nodeSize.id, vcpu: nodeSize.vcpu, memoryGb: nodeSize.memoryGb },
    storageGb: spec.storageGb,
    trustedSources: spec.trustedSources,
    adminSources: effectiveAdminSources(spec),
    region: spec.region,
    zone: spec.zone,
    secrets,
  };
}
