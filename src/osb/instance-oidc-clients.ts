import KcAdminClient from '@keycloak/keycloak-admin-client';
import type { Database } from '../db/database.js';
import { getEdgeRoute } from '../edge/edge-route-store.js';
import { findInstanceForProvisioning } from '../instances/instance-store.js';
import type { SecretBox } from '../platform/secret-box.js';
import { openInstanceSecrets } from '../instances/instance-secrets.js';

/**
 * OIDC clients in an instance's first realm (the realm named after the customer number), managed with the
 * instance's admin account through Keycloak's admin REST API.
 *
 * The control plane talks to the instance's upstream, as recorded in its edge route, not through the edge: the
 * edge admits only the customer's trusted sources, and the broker must work whatever the customer chose. This is
 * the channel the driver itself uses to set up the admin account and the first realm.
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

export function createInstanceOidcClients(deps: { db: Database; secretBox: SecretBox }): InstanceOidcClients {
  async function connect(instanceId: string) {
    const instance = await findInstanceForProvisioning(deps.db.pool, instanceId);
    const route = await getEdgeRoute(deps.db, instanceId);
    if (!instance?.url || !instance.sealedSecrets || !route) {
      throw new InstanceUnreachableError('The instance has no address yet.');
    }
    const secrets = openInstanceSecrets(deps.secretBox, instance.sealedSecrets);
    const realm = instance.customerNumber;
    const issuer = `${instance.url}/realms/${realm}`;
    const target = { issuer, tokenEndpoint: `${issuer}/protocol/openid-connect/token`, realm };
    const host = route.upstreamHost.includes(':') ? `[${route.upstreamHost}]` : route.upstreamHost;
    const client = new KcAdminClient({
      baseUrl: `http://${host}:${route.upstreamPort}`,
      realmName: 'master',
    });
    await client.auth({
      grantType: 'password',
      clientId: 'admin-cli',
      username: instance.adminUsername,
      password: secrets.adminPassword,
    });
    return { client, target };
  }

  return {
    async target(instanceId) {
      const instance = await findInstanceForProvisioning(deps.db.pool, instanceId);
      if (!instance?.url) throw new InstanceUnreachableError('The instance has no address yet.');
      const issuer = `${instance.url}/realms/${instance.customerNumber}`;
      return {
        issuer,
        tokenEndpoint: `${issuer}/protocol/openid-connect/token`,
        realm: instance.customerNumber,
      };
    },

    async ensureClient(instanceId, clientId, secret) {
      const { client, target } = await connect(instanceId);
      const representation = {
        clientId,
        name: `Service binding ${clientId}`,
        description: 'Created by the Keyhouse service broker; removed when the binding is deleted.',
        enabled: true,
        protocol: 'openid-connect',
        publicClient: false,
        bearerOnly: false,
        clientAuthenticatorType: 'client-secret',
        secret,
        serviceAccountsEnabled: true,
        standardFlowEnabled: false,
        implicitFlowEnabled: false,
        directAccessGrantsEnabled: false,
      };
      const [existing] = await client.clients.find({ realm: target.realm, clientId });
      if (existing?.id) {
        await client.clients.update({ realm: target.realm, id: existing.id }, representation);
      } else {
        await client.clients.create({ realm: target.realm, ...representation });
      }
      return target;
    },

    async deleteClient(instanceId, clientId) {
      const { client, target } = await connect(instanceId);
      const found = await client.clients.find({ realm: target.realm, clientId });
      for (const existing of found) {
        if (existing.id) await client.clients.del({ realm: target.realm, id: existing.id });
      }
    },
  };
}
