// A Keyhouse API process for benchmarks: DATABASE_URL given, port chosen by the OS, printed on stdout.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKeyhouse } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/platform/logger.js';

const config = loadConfig({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'keyhouse-bench-')) });
// The API role alone: accepted orders are queued, but no worker provisions thousands of Keycloaks.
config.roles = ['api'];
const keyhouse = await createKeyhouse({
  config,
  databaseUrl: process.env.DATABASE_URL!,
  logger: createLogger({ level: 'warn' }),
});
const address = await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
console.log(address);
process.on('SIGTERM', () => void keyhouse.close().then(() => process.exit(0)));
