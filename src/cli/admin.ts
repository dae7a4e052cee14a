import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPasswordResetService } from '../accounts/password-reset-service.js';
import { loadConfig, type Environment } from '../config/load-config.js';
import { connectDatabase } from '../db/database.js';
import { startEmbeddedPostgres } from '../db/embedded-postgres.js';
import { migrate } from '../db/migrate.js';
import { createOperator } from '../operators/operator-service.js';
import { createSecretBox } from '../platform/secret-box.js';

/**
 * `keyhouse admin …`: commands for the provider, run on the server itself. They read Keyhouse's configuration (the
 * same KEYHOUSE_CONFIG, DATA_DIR, DATABASE_URL as the server) and work on its database directly, not through the API.
 */
export const ADMIN_USAGE = `Usage: keyhouse admin create-operator --email <email> [--role operator|operator-read-only]
                                      [--language de|en] [--password-stdin]

  Creates a provider operator. Without --password-stdin the operator gets an e-mail to choose a password
  (sent by the running Keyhouse through its mail outbox).`;

type Io = { out: (text: string) => void; err: (text: string) => void; stdin: () => Promise<string> };

export async function runAdmin(argv: string[], env: Environment, io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'create-operator') {
    io.err(ADMIN_USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: 'string' },
      role: { type: 'string', default: 'operator' },
      language: { type: 'string', default: 'en' },
      'password-stdin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.email) {
    io.err(`keyhouse admin: --email is required\n${ADMIN_USAGE}`);
    return 2;
  }
  if (values.role !== 'operator' && values.role !== 'operator-read-only') {
    io.err('keyhouse admin: --role is operator or operator-read-only');
    return 2;
  }
  if (values.language !== 'de' && values.language !== 'en') {
    io.err('keyhouse admin: --language is de or en');
    return 2;
  }
  const password = values['password-stdin'] ? (await io.stdin()).replace(/\r?\n$/, '') : undefined;
  if (password !== undefined && (password.length < 12 || password.length > 200)) {
    io.err('keyhouse admin: the password needs 12 to 200 characters');
    return 1;
  }

  const config = loadConfig(env);
  let databaseUrl = config.database.url;
  if (!databaseUrl) {
    // The embedded server of this data dir: adopted when Keyhouse runs, started (and left running) otherwise.
    const embedded = await startEmbeddedPostgres({
      directory: path.join(config.dataDir, 'postgres'),
      port: config.database.embeddedPort,
      logFile: path.join(config.dataDir, 'logs', 'postgres.log'),
    });
    databaseUrl = embedded.url('keyhouse');
  }
  const db = connectDatabase(databaseUrl, { max: 2 });
  try {
    await migrate(db);
    const now = () => new Date();
    const secretBox = createSecretBox({ secretKey: config.secretKey, dataDir: config.dataDir });
    const outcome = await createOperator(
      { db, now, passwordResets: createPasswordResetService({ db, secretBox, now }) },
      { email: values.email, role: values.role, language: values.language, password },
      { principal: undefined, label: 'keyhouse admin', requestId: 'cli', sourceAddress: 'localhost' },
    );
    if (outcome === 'exists') {
      io.err(`keyhouse admin: ${values.email} already has an account`);
      return 1;
    }
    io.out(
      password
        ? `operator ${values.email} created; sign in at ${config.portal.publicUrl}/login`
        : `operator ${values.email} created; a mail to choose a password is on its way`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
