import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';
import { Agent } from 'undici';
import type { AdminApiAddress } from '../../instances/instance-schemas.js';

/**
 * The shared Keycloak module: the work on a running Keycloak that does not depend on where it runs (this host,
 * a Kubernetes cluster). Every backend's driver calls it once it can reach the instance's admin API at a base URL:
 * the customer's admin replaces the temporary one (admin-handover.ts), the first realm (first-realm.ts), the login
 * check before DONE (login-check.ts); the service broker's OIDC clients (oidc-clients.ts) use it too.
 */

export type AdminCredentials = { username: string; password: string };

/**
 * Where the control plane reaches an instance's admin API, apart from the customer's path: the local driver's
 * Keycloak on loopback (`http://127.0.0.1:<port>`), or a Kubernetes Service (`url` the instance's https address,
 * its host name checked against the certificate, the connection made to `connectTo`, the Service's address).
 */
export type { AdminApiAddress };
/** An address with the certificate authority the instance's TLS certificate chains to (https only). */
export type AdminApi = AdminApiAddress & { ca?: string };

/** Fetch options for `api`: TLS trusting `ca`, connected to `connectTo` with the URL's host name as SNI and Host. */
export function adminApiRequestOptions(api: AdminApi): RequestInit | undefined {
  if (!api.connectTo && !api.ca) return undefined;
  const address = api.connectTo;
  const dispatcher = new Agent({
    connect: {
      ...(api.ca ? { ca: api.ca } : {}),
      ...(address
        ? {
            lookup: (_hostname, options, callback) => {
              const family = address.includes(':') ? 6 : 4;
              if ((options as { all?: boolean }).all) callback(null, [{ address, family }]);
              else (callback as (e: null, a: string, f: number) => void)(null, address, family);
            },
          }
        : {}),
    },
  });
  // undici's fetch (Node's global one) takes a dispatcher beside the standard options.
  return { dispatcher } as RequestInit;
}

export function isAuthRejection(error: unknown): boolean {
  return error instanceof NetworkError && (error.response.status === 401 || error.response.status === 400);
}

export function isConflict(error: unknown): boolean {
  return error instanceof NetworkError && error.response.status === 409;
}

/** An admin API client of the master realm, signed in with `credentials`; throws when that fails. */
export async function connectAdmin(api: AdminApi, credentials: AdminCredentials): Promise<KcAdminClient> {
  const client = new KcAdminClient({
    baseUrl: api.url,
    realmName: 'master',
    requestOptions: adminApiRequestOptions(api),
  });
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
  api: AdminApi,
  credentials: AdminCredentials,
): Promise<KcAdminClient | null> {
  try {
    return await connectAdmin(api, credentials);
  } catch (error) {
    if (isAuthRejection(error)) return null;
    throw error;
  }
}
