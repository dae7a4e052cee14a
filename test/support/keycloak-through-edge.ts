import KcAdminClient from '@keycloak/keycloak-admin-client';
import { Agent } from 'undici';

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
  const dispatcher = new Agent({
    connect: {
      ca: options.ca,
      lookup: (_hostname, lookupOptions, callback) => {
        if ((lookupOptions as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4);
      },
    },
  });
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
