import { message, type CodedMessage } from '../../platform/messages.js';
import { StepFailure } from '../driver-steps.js';
import { isConflict, loginAdmin, type AdminApi, type AdminCredentials } from './admin-api.js';

/**
 * Keycloak's bootstrap admin is "temporary" in name only: it never expires. So the customer's permanent admin (a
 * user of the master realm with its admin role) is created with the temporary admin, proven to log in, and only
 * then is the temporary one deleted. Safe to repeat after a crash at any point: with the temporary admin gone, an
 * admin that logs in is the sign of a finished handover.
 */
export async function handOverAdmin(options: {
  /** The instance's admin API, e.g. http://127.0.0.1:19001. */
  api: AdminApi;
  /** The bootstrap admin Keycloak was first started with; null when it is known to be gone. */
  temporaryAdmin: AdminCredentials | null;
  customerAdmin: AdminCredentials;
  /** Where the operator finds out why neither admin can log in (a log file, a pod). */
  diagnostics: string;
}): Promise<CodedMessage[]> {
  const { api, temporaryAdmin, customerAdmin } = options;
  const bootClient = temporaryAdmin ? await loginAdmin(api, temporaryAdmin) : null;
  const note: CodedMessage[] = [];
  if (bootClient) {
    const findAdmin = async () =>
      (await bootClient.users.find({ realm: 'master', username: customerAdmin.username, exact: true }))[0]
        ?.id;
    let userId = await findAdmin();
    if (!userId) {
      try {
        userId = (
          await bootClient.users.create({ realm: 'master', username: customerAdmin.username, enabled: true })
        ).id;
      } catch (error) {
        if (!isConflict(error)) throw error;
        userId = await findAdmin();
      }
    }
    if (!userId) throw new StepFailure('transient', message('failure.adminNotCreated'), 'no user id');
    await bootClient.users.resetPassword({
      realm: 'master',
      id: userId,
      credential: { type: 'password', value: customerAdmin.password, temporary: false },
    });
    const adminRole = await bootClient.roles.findOneByName({ realm: 'master', name: 'admin' });
    if (!adminRole?.id || !adminRole.name)
      throw new StepFailure('transient', message('failure.adminRoleMissing'), 'roles.findOneByName');
    await bootClient.users.addRealmRoleMappings({
      realm: 'master',
      id: userId,
      roles: [{ id: adminRole.id, name: adminRole.name }],
    });
    note.push(message('step.adminCreated'));
  } else note.push(message('step.adminExisted'));

  // The customer's account must work before the temporary one goes.
  const adminClient = await loginAdmin(api, customerAdmin);
  if (!adminClient)
    throw new StepFailure(
      bootClient ? 'transient' : 'permanent',
      message('failure.adminNotSetUp'),
      bootClient
        ? 'admin login failed right after setting its password'
        : `neither "${customerAdmin.username}" nor the temporary admin can log in; see ${options.diagnostics}`,
    );
  if (temporaryAdmin) {
    const temporary = await adminClient.users.find({
      realm: 'master',
      username: temporaryAdmin.username,
      exact: true,
    });
    for (const user of temporary) if (user.id) await adminClient.users.del({ realm: 'master', id: user.id });
    note.push(message('step.temporaryAdminDeleted'));
  }
  return note;
}
