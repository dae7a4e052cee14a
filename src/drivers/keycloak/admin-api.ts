import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';

/**
 * The shared Keycloak module: the work on a running Keycloak that does not depend on where it runs (this host,
 * a Kubernetes cluster). Every backend's driver calls it once it can reach the instance's admin API at a base URL:
 * the customer's admin replaces the temporary one (admin-handover.ts), the first realm (first-realm.ts), the login
 * check before DONE (login-check.ts); the service broker's OIDC clients (oidc-clients.ts) use it too.
 */

export type AdminCredentials = { username: string; password: string };

export function isAuthRejection(error: unknown): boolean {
  return error instanceof NetworkError && (error.response.status === 401 || error.response.status === 400);
}

export function isConflict(error: unknown): boolean {
  return error instanceof NetworkError && error.response.status === 409;
}

/** An admin API client of the master realm, signed in with `credentials`; throws when that fails. */
export async function connectAdmin(baseUrl: string, credentials: AdminCredentials): Promise<KcAdminClient> {
  const client = new KcAdminClient({ baseUrl, realmName: 'master' });
  await client.auth({
    grantType: 'password',
    clientId: 'admin-cli',
    username: credentials.username,
    password: credentials.password,
  });
  return client;
}

/** As connectAdmin, but null when Keycloak rejects the credentials (other failures throw). */
export async function loginAdmin(
  baseUrl: string,
  credentials: AdminCredentials,
): Promise<KcAdminClient | null> {
  try {
    return await connectAdmin(baseUrl, credentials);
  } catch (error) {
    if (isAuthRejection(error)) return null;
    throw error;
  }
}
