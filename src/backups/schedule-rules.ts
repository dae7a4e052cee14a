import { compareVersions } from '../orders/order-schemas.js';

/** Pure rules of the schedules, shared by the planner, the API and the Kubernetes mapping. */

/** Nightly backups start spread over the first hour of the window (by instance), not all at its first minute. */
const SPREAD_MINUTES = 60;

/** The newest patch release of the running minor version in the catalog (26.5.6 → 26.5.9), if any. */
export function nextPatchVersion(
  catalog: { serviceTypes: readonly { id: string; versions: readonly string[] }[] },
  serviceType: string,
  version: string,
) {
  const [major, minor] = version.split('.');
  const candidates = (catalog.serviceTypes.find((s) => s.id === serviceType)?.versions ?? []).filter((v) => {
    const [m, n] = v.split('.');
    return m === major && n === minor && compareVersions(v, version) > 0;
  });
  return candidates.sort(compareVersions).at(-1);
}

/** Minutes into the backup window at which an instance's nightly backup is due (stable per instance). */
export function spreadMinutes(instanceId: string): number {
  let hash = 0;
  for (const char of instanceId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SPREAD_MINUTES;
}
