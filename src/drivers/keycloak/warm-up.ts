import { randomBytes } from 'node:crypto';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { message } from '../../platform/messages.js';
import { StepFailure } from '../driver-steps.js';
import { adminApiRequestOptions, connectAdmin, type AdminApi, type AdminCredentials } from './admin-api.js';

const WARM_UP_REALM = 'keyhouse-warm-up';
/** Rounds of the hand-over's work: the first loads the classes, the next ones let the JIT compile them. */
const ROUNDS = 2;

/**
 * For a warm-pool member (src/warm-pool): runs the admin API paths of the hand-over and the first realm once ahead
 * of time, with the temporary admin, so that the order that claims the member finds a warm JVM (classes loaded,
 * code compiled, caches filled) instead of paying for that in its admin-account and first-realm steps. A throwaway
 * realm with a user that gets a password and a role and logs in, then deleted with everything in it; the master
 * realm is left as it was. Safe to repeat (a leftover realm of an interrupted attempt is deleted first).
 */
export async function warmUpAdminApi(options: {
  api: AdminApi;
  temporaryAdmin: AdminCredentials | null;
}): Promise<string> {
  if (!options.temporaryAdmin)
    throw new StepFailure('permanent', message('failure.warmMemberWithoutAdmin'), 'no bootstrap admin');
  const started = Date.now();
  const client = await connectAdmin(options.api, options.temporaryAdmin);
  for (let round = 0; round < ROUNDS; round++) {
    if (await client.realms.findOne({ realm: WARM_UP_REALM }))
      await client.realms.del({ realm: WARM_UP_REALM });
    await client.realms.create({ realm: WARM_UP_REALM, enabled: true });
    const user = { username: 'warm-up', password: randomBytes(18).toString('base64url') };
    const { id } = await client.users.create({
      realm: WARM_UP_REALM,
      username: user.username,
      enabled: true,
      // The names and address Keycloak's default user profile requires; without them the login is refused.
      firstName: 'Warm',
      lastName: 'Up',
      email: 'warm-up@keyhouse.invalid',
      emailVerified: true,
    });
    await client.users.resetPassword({
      realm: WARM_UP_REALM,
      id,
      credential: { type: 'password', value: user.password, temporary: false },
    });
    const role = await client.roles.findOneByName({ realm: WARM_UP_REALM, name: 'offline_access' });
    if (role?.id && role.name)
      await client.users.addRealmRoleMappings({
        realm: WARM_UP_REALM,
        id,
        roles: [{ id: role.id, name: role.name }],
      });
    await new KcAdminClient({
      baseUrl: options.api.url,
      realmName: WARM_UP_REALM,
      requestOptions: adminApiRequestOptions(options.api),
    }).auth({
      grantType: 'password',
      clientId: 'admin-cli',
      ...user,
    });
    await client.users.find({ realm: WARM_UP_REALM, username: user.username, exact: true });
    await client.realms.del({ realm: WARM_UP_REALM });
  }
  return `admin API warmed up in ${Math.round((Date.now() - started) / 1000)} s (${ROUNDS} throwaway realms)`;
}
