import type { Catalog } from '../catalog/catalog-schemas.js';
import type { Queryable } from '../db/database.js';
import type { WarmPoolStatus } from './warm-pool-schemas.js';
import { poolCounts } from './warm-pool-store.js';

/**
 * Every configured pool, and every pool that has members or claims without being configured (misses of other
 * versions and sizes tell the operator what to pool next).
 */
export async function warmPoolStatus(db: Queryable, catalog: Catalog): Promise<WarmPoolStatus[]> {
  const counts = await poolCounts(db);
  const key = (p: { region: string; version: string; nodeSize: string }) =>
    `${p.region}/${p.version}/${p.nodeSize}`;
  const byKey = new Map(counts.map((row) => [key(row), row]));
  const configured = catalog.regions.flatMap((region) =>
    region.warmPool.map((entry) => ({
      region: region.id,
      version: entry.version,
      nodeSize: entry.nodeSize,
      count: entry.count,
    })),
  );
  const empty = { provisioning: 0, ready: 0, retiring: 0, hits: 0, misses: 0 };
  const status: WarmPoolStatus[] = configured.map((pool) => {
    const { claimed: _claimed, ...row } = byKey.get(key(pool)) ?? { ...pool, ...empty, claimed: 0 };
    return {
      ...row,
      region: pool.region,
      version: pool.version,
      nodeSize: pool.nodeSize,
      configured: pool.count,
    };
  });
  const seen = new Set(configured.map(key));
  for (const { claimed: _claimed, ...row } of counts)
    if (!seen.has(key(row))) status.push({ ...row, configured: 0 });
  return status;
}

/** Ready members per region with a warm pool (the capacity view's column); regions without one are absent. */
export function readyByRegion(status: WarmPoolStatus[], catalog: Catalog): Map<string, number> {
  const ready = new Map<string, number>();
  for (const region of catalog.regions)
    if (region.warmPool.length)
      ready.set(
        region.id,
        status.filter((p) => p.region === region.id).reduce((sum, p) => sum + p.ready, 0),
      );
  return ready;
}
