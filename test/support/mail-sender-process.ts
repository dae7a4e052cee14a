// A mail sender in a process of its own, for the crash test: it sends through the SMTP server and is SIGKILLed by its
// own test fault right after the server accepted a mail, before the outbox records it.
// Usage: node --import tsx test/support/mail-sender-process.ts <databaseUrl> <smtpUrl> <dataDir>
import { connectDatabase } from '../../src/db/database.js';
import { startMailSender } from '../../src/mail/mail-sender.js';
import { createLogger } from '../../src/platform/logger.js';
import { createSecretBox } from '../../src/platform/secret-box.js';

const [databaseUrl, smtpUrl, dataDir] = process.argv.slice(2);
if (!databaseUrl || !smtpUrl || !dataDir) throw new Error('usage: <databaseUrl> <smtpUrl> <dataDir>');
const db = connectDatabase(databaseUrl, { max: 2 });
await startMailSender({
  databaseUrl,
  db,
  smtpUrl,
  from: 'Keyhouse <noreply@keyhouse.test>',
  portalUrl: 'https://portal.keyhouse.test',
  secretBox: createSecretBox({ secretKey: null, dataDir }),
  logger: createLogger({ level: 'silent' }),
  dispatchIntervalMs: 200,
  testFaults: { afterSmtpAccepted: () => process.kill(process.pid, 'SIGKILL') },
});
