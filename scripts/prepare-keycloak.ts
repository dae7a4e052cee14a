/**
 * Fetches (Maven) and builds every Keycloak version of the catalog, and the earlier patch release the patch-upgrade
 * test starts from, into the test cache (testKeycloakCache), so that the tests with a real Keycloak do not pay for it. `scripts/prepare-tests.sh` runs it before the tests; running it again is a no-op.
 */
import { loadConfig } from '../src/config/load-config.js';
import {
  catalogKeycloakVersions,
  checkPrerequisites,
  createKeycloakDistributions,
} from '../src/drivers/local/keycloak-distribution.js';
import { createLogger } from '../src/platform/logger.js';
import { earlierPatchRelease, testKeycloakCache } from '../test/support/test-keyhouse.js';

const config = loadConfig(process.env);
const prerequisites = checkPrerequisites(config, { cacheDir: testKeycloakCache });
if (!prerequisites.ok) {
  console.error(prerequisites.message);
  process.exit(1);
}
const distributions = createKeycloakDistributions({
  config,
  logger: createLogger(),
  cacheDir: testKeycloakCache,
});
for (const version of [...catalogKeycloakVersions(config), earlierPatchRelease]) {
  const distribution = await distributions.get(version);
  console.log(`Keycloak ${version} ready in ${distribution.home}`);
}
