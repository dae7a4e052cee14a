// One ACME attempt in a process of its own, for the crash test (test/integration/acme-pebble.test.ts): the test
// SIGKILLs it in the middle, once its challenge is published, and checks what a worker killed there leaves.
// Usage: node --import tsx test/support/acme-attempt-process.ts '<json: see Options>'
import { Agent as HttpsAgent } from 'node:https';
import acme from 'acme-client';
import { connectDatabase } from '../../src/db/database.js';
import { createAcmeCertificates } from '../../src/domains/acme-certificates.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createSecretBox } from '../../src/platform/secret-box.js';

type Options = {
  databaseUrl: string;
  dataDir: string;
  directoryUrl: string;
  /** The CA of pebble's listener (acme-client talks to the directory through axios). */
  directoryCaPem: string;
  listenHost: string;
  httpPort: number;
  instanceId: string;
  /** The test's clock, as an offset from this process's. */
  clockOffsetMs: number;
};

const options = JSON.parse(process.argv[2] ?? '') as Options;
const config = loadConfig({ DATA_DIR: options.dataDir });
config.edge.listenHost = options.listenHost;
config.edge.httpPort = options.httpPort;
config.domains.acmeDirectoryUrl = options.directoryUrl;
acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: options.directoryCaPem });
const db = connectDatabase(options.databaseUrl, { max: 2 });
const certificates = createAcmeCertificates({
  db,
  config,
  secretBox: createSecretBox({ secretKey: null, dataDir: options.dataDir }),
  now: () => new Date(Date.now() + options.clockOffsetMs),
  logger: createLogger({ level: 'silent' }),
  placeCustomDomainOrder: () => Promise.reject(new Error('the test kills this process before')),
});
// Killed during it; should it finish, the test fails on the outcome it prints.
console.log(JSON.stringify(await certificates.attempt(options.instanceId)));
await db.close();
