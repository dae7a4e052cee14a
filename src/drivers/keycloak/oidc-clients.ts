import type KcAdminClient from '@keycloak/keycloak-admin-client';

/**
 * Confidential OIDC clients for services (the service broker's bindings): client credentials through a service
 * account, no browser flows, in one realm of an instance, through an admin API client (admin-api.ts).
 */

/** Creates the client, or resets an existing one to this secret (idempotent). */
export async function ensureServiceClient(
  admin: KcAdminClient,
  options: { realm: string; clientId: string; secret: string; description: string },
): Promise<void> {
  const { realm, clientId } = options;
  const representation = {
    clientId,
    name: `Service binding ${clientId}`,
    description: options.description,
    enabled: true,
    protocol: 'openid-connect',
    publicClient: false,
    bearerOnly: false,
    clientAuthenticatorType: 'client-secret',
    secret: options.secret,
    serviceAccountsEnabled: true,
    standardFlowEnabled: false,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
  };
  const [existing] = await admin.clients.find({ realm, clientId });
  if (existing?.id) {
    await admin.clients.update({ realm, id: existing.id }, representation);
  } else {
    await admin.clients.create({ realm, ...representation });
  }
}

/** Removes the client; nothing to do when it is gone already. */
export async function deleteServiceClient(
  admin: KcAdminClient,
  options: { realm: string; clientId: string },
): Promise<void> {
  const found = await admin.clients.find({ realm: options.realm, clientId: options.clientId });
  for (const existing of found) {
    if (existing.id) await admin.clients.del({ realm: options.realm, id: existing.id });
  }
}
