import KcAdminClient from '@keycloak/keycloak-admin-client';
import { Agent } from 'undici';

/** Connects every host name to loopback, trusting `ca`: fetch through the edge by the instance's host name. */
export function edgeDispatcher(ca: string): Agent {
  return new Agent({
    connect: {
      ca,
      lookup: (_hostname, lookupOptions, callback) => {
        if ((lookupOptions as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4);
      },
    },
  });
}

/** A password-grant token request of `username` in `realm` through the edge; answers the HTTP status. */
export async function passwordLogin(options: {
  url: string;
  ca: string;
  realm: string;
  username: string;
  password: string;
}): Promise<number> {
  const response = await fetch(`${options.url}/realms/${options.realm}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: 'admin-cli',
      username: options.username,
      password: options.password,
    }),
    dispatcher: edgeDispatcher(options.ca),
  } as RequestInit);
  await response.body?.cancel();
  return response.status;
}

/**
 * The Keycloak admin client of an instance, talking to the edge the way a customer's client does: TLS to the
 * instance's host name, trusting Keyhouse's CA. `<name>.localhost` does not resolve on every host, so the connection
 * is pointed at loopback while SNI and Host keep the instance's name.
 */
export async function adminClientThroughEdge(options: {
  url: string;
  ca: string;
  username: string;
  password: string;
}): Promise<KcAdminClient> {
  const dispatcher = edgeDispatcher(options.ca);
  const client = new KcAdminClient({
    baseUrl: options.url,
    realmName: 'master',
    requestOptions: { dispatcher } as RequestInit,
  });
  await client.auth({
    grantType: 'password',
    clientId: 'admin-cli',
    username: options.username,
    password: options.password,
  });
  return client;
}
