import type { Catalog } from '../../../src/catalog/catalog-schemas';
import { priceDelta, priceOf, type Price } from '../../../src/catalog/pricing';
import type { BackupPolicy, PublicCatalog } from './types';

/**
 * The price of a spec, computed by the server's own pricing module (prices are computed in one place only). The
 * public catalog has every field priceOf reads (node sizes, storage, currency); it lacks operator-only fields.
 */
export function priceOfSpec(
  catalog: PublicCatalog,
  spec: { nodeSize: string; storageGb: number; backups?: BackupPolicy },
): Price | undefined {
  if (!catalog.nodeSizes.some((n) => n.id === spec.nodeSize)) return undefined;
  return priceOf(catalog as unknown as Catalog, spec);
}

/** The price of the storage alone (what it adds to any node size), e.g. for the storage step. */
export function storagePrice(catalog: PublicCatalog, storageGb: number): Price {
  const nodeSize = catalog.nodeSizes[0]!.id;
  const withStorage = priceOf(catalog as unknown as Catalog, { nodeSize, storageGb });
  const without = priceOf(catalog as unknown as Catalog, { nodeSize, storageGb: 0 });
  return priceDelta(without, withStorage);
}
