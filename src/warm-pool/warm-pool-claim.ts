import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Queryable } from '../db/database.js';
import type { InstanceSpec } from '../instances/instance-schemas.js';
import { claimReadyMember, countClaim } from './warm-pool-store.js';

/** A claimed member: the new instance takes its id, name and secrets (its Keycloak already runs under them). */
export type ClaimedMember = { id: string; name: string; sealedSecrets: string };

/**
 * The claim, in the transaction that places a create order: a ready member of the ordered region, zone, version
 * and node size becomes the order's instance, or the order provisions cold. Atomic with the order: if the
 * transaction does not commit (a crash, a refusal later in placing), the member is still in the pool; if it does,
 * the member is the order's, and the hand-over (customer's admin, first realm, trusted sources) is the order's
 * ordinary apply, which finds everything before it done. A create from a backup never claims: its database must
 * start as the backup. Regions without a warm pool count nothing.
 */
export async function claimWarmPoolMember(
  tx: Queryable,
  catalog: Catalog,
  spec: InstanceSpec,
  order: { id: string; restoring: boolean },
): Promise<ClaimedMember | undefined> {
  const region = catalog.regions.find((r) => r.id === spec.region);
  if (!region || region.warmPool.length === 0 || order.restoring) return undefined;
  const key = { region: spec.region, version: spec.version, nodeSize: spec.nodeSize };
  const member = await claimReadyMember(tx, { ...key, zone: spec.zone }, order.id);
  await countClaim(tx, key, member ? 'hit' : 'miss');
  return member && { id: member.id, name: member.name, sealedSecrets: member.secrets };
}
