import type { Database } from '../db/database.js';
import { connectAdmin } from '../drivers/keycloak/admin-api.js';
import { deleteServiceClient, ensureServiceClient } from '../drivers/keycloak/oidc-clients.js';
import { findInstanceAdminApi, findInstanceForProvisioning } from '../instances/instance-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import { openInstanceSecrets } from '../instances/instance-secrets.js';

/**
 * The broker's OIDC clients in an instance's first realm (the realm named after the customer number), managed with
 * the instance's admin account by the shared Keycloak module.
 *
 * The broker talks to the instance's admin API where the worker recorded it from the region's driver (a local
 * Keycloak on loopback, a Kubernetes Service), not through the customer's path: the edge or the load balancer
 * admits only the customer's trusted sources, and the broker must work whatever the customer chose. This is the
 * channel the driver itself uses to set up the admin account and the first realm.
 */
export type OidcClientTarget = {
  /** Public issuer of the first realm: https://<instance host>:<port>/realms/<customer number>. */
  issuer: string;
  tokenEndpoint: string;
  realm: string;
};

export type InstanceOidcClients = {
  target(instanceId: string): Promise<OidcClientTarget>;
  /** Creates the confidential client, or resets an existing one to this secret (idempotent). */
  ensureClient(instanceId: string, clientId: string, secret: string): Promise<OidcClientTarget>;
  /** Removes the client; nothing to do when it is gone already. */
  deleteClient(instanceId: string, clientId: string): Promise<void>;
};

export class InstanceUnreachableError extends Error {}

const targetOf = (instance: { url: string; customerNumber: string }): OidcClientTarget => {
  const issuer = `${instance.url}/realms/${instance.customerNumber}`;
  return { issuer, tokenEndpoint: `${issuer}/protocol/openid-connect/token`, realm: instance.customerNumber };
};

export function createInstanceOidcClients(deps: {
  db: Database;
  secretBox: SecretBox;
  /** Keyhouse's CA (PEM): the instances' TLS certificates chain to it. */
  caPem: string;
}): InstanceOidcClients {
  async function connect(instanceId: string) {
    const instance = await findInstanceForProvisioning(deps.db.pool, instanceId);
    const adminApi = await findInstanceAdminApi(deps.db.pool, instanceId);
    if (!instance?.url || !instance.sealedSecrets || !adminApi) {
      throw new InstanceUnreachableError('The instance has no address yet.');
    }
    const secrets = openInstanceSecrets(deps.secretBox, instance.sealedSecrets);
    const client = await connectAdmin(
      { ...adminApi, ca: deps.caPem },
      {
        username: instance.adminUsername,
        password: secrets.adminPassword,
      },
    );
    return { client, target: targetOf({ ...instance, url: instance.url }) };
  }

  return {
    async target(instanceId) {
      const instance = await findInstanceForProvisioning(deps.db.pool, instanceId);
      if (!instance?.url) throw new InstanceUnreachableError('The instance has no address yet.');
      return targetOf({ ...instance, url: instance.url });
    },

    async ensureClient(instanceId, clientId, secret) {
      const { client, target } = await connect(instanceId);
      await ensureServiceClient(client, {
        realm: target.realm,
        clientId,
        secret,
        description: 'Created by the Keyhouse service broker; removed when the binding is deleted.',
      });
      return target;
    },

    async deleteClient(instanceId, clientId) {
      const { client, target } = await connect(instanceId);
      await deleteServiceClient(client, { realm: target.realm, clientId });
    },
  };
}
