import { message, type CodedMessage } from '../../platform/messages.js';
import { StepFailure } from '../driver-steps.js';
import { isConflict, loginAdmin, type AdminApi, type AdminCredentials } from './admin-api.js';

/** The customer's first realm, named after their customer number (e.g. kd500001); safe to repeat. */
export async function ensureFirstRealm(options: {
  api: AdminApi;
  customerAdmin: AdminCredentials;
  realm: string;
}): Promise<CodedMessage> {
  const client = await loginAdmin(options.api, options.customerAdmin);
  if (!client)
    throw new StepFailure(
      'permanent',
      message('failure.adminCannotLogIn'),
      'first realm: admin login rejected',
    );
  let created = false;
  if (!(await client.realms.findOne({ realm: options.realm }))) {
    try {
      await client.realms.create({ realm: options.realm, enabled: true });
      created = true;
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
  return message(created ? 'step.realmCreated' : 'step.realmExisted', { realm: options.realm });
}
