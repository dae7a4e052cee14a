import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL without database name; test files create their scratch databases through it. */
    serverUrl: string;
  }
}

/** The machine's PostgreSQL (trust auth) for the DATABASE_URL path. */
const EXTERNAL_SERVER = 'postgres://postgres@127.0.0.1:5432';

export default async function setup(project: TestProject) {
  if (process.env.KEYHOUSE_TEST_DATABASE === 'external') {
    const client = new pg.Client({ connectionString: `${EXTERNAL_SERVER}/postgres` });
    await client.connect().catch((error: Error) => {
      throw new Error(`The external-database tests need PostgreSQL at ${EXTERNAL_SERVER}: ${error.message}`);
    });
    await client.end();
    project.provide('serverUrl', EXTERNAL_SERVER);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-test-pg-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = await startEmbeddedPostgres({
    directory: path.join(dir, 'postgres'),
    port,
    logFile: path.join(dir, 'postgres.log'),
  });
  project.provide('serverUrl', server.url('').replace(/\/$/, ''));
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
