import { createBindings } from './osb-bindings.js';
import { createOsbContext, type OsbDependencies } from './osb-context.js';
import { createDeprovisioning } from './osb-deprovisioning.js';
import { createInstanceQueries } from './osb-instances.js';
import { createProvisioning } from './osb-provisioning.js';
import { createUpdates } from './osb-updates.js';

/**
 * The broker: Open Service Broker semantics over the same order service as the REST API, one module per use case.
 * Every outcome is an answer value (status and body, as the OSB specification names them; osb-answers.ts); the
 * routes only send it. Domain errors of the order service that mean "refused" become answers too, so the broker
 * never reports a refusal as a broker failure.
 */
export function createOsbService(deps: OsbDependencies) {
  const ctx = createOsbContext(deps);
  const deprovisioning = createDeprovisioning(ctx);
  return {
    ...createProvisioning(ctx),
    ...createInstanceQueries(ctx, deprovisioning.settleDeprovision),
    ...createUpdates(ctx),
    deprovision: deprovisioning.deprovision,
    sweepPendingDeprovisions: deprovisioning.sweepPendingDeprovisions,
    ...createBindings(ctx),
  };
}
export type OsbService = ReturnType<typeof createOsbService>;
