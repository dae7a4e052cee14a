import { createPasswordResetService } from '../../src/accounts/password-reset-service.js';
import { createOperator } from '../../src/operators/operator-service.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { TEST_PASSWORD, uniqueEmail, type Portal } from './portal.js';

/** An operator with a password, made the way `keyhouse admin create-operator --password-stdin` makes one. */
export async function createE2eOperator(portal: Portal, role: 'operator' | 'operator-read-only') {
  const { db, config } = portal.keyhouse;
  const email = uniqueEmail('operator');
  const now = () => new Date();
  const secretBox = createSecretBox({ secretKey: config.secretKey, dataDir: config.dataDir });
  await createOperator(
    { db, now, passwordResets: createPasswordResetService({ db, secretBox, now }) },
    { email, role, password: TEST_PASSWORD },
    { principal: undefined, label: 'e2e', requestId: 'e2e', sourceAddress: '127.0.0.1' },
  );
  return { email };
}
