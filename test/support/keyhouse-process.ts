import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { inject } from 'vitest';
import { instanceDatabaseName } from '../../src/drivers/local/instance-database.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { waitFor } from './edge-probes.js';
import { killEverythingUnder } from './process-tree.js';
import { testKeycloakCache } from './test-keyhouse.js';

/**
 * Keyhouse as a real process, for the tests that kill it, stop it and start it again: by default the sources run
 * with tsx (`node --import tsx src/main.ts`), or a release built with tsc into a directory of its own. Each runs in
 * a process group of its own, so a SIGKILL to the group takes tsx's helpers with it, while Keycloak and HAProxy,
 * which detach into sessions of their own, must survive.
 */
export type Release = { command: string[]; cwd: string; version: string };

export const sourceRelease: Release = {
  command: [process.execPath, '--import', 'tsx', 'src/main.ts'],
  cwd: packageRoot,
  version: (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string })
    .version,
};

const run = promisify(execFile);

/**
 * A new build as an upgrade brings it: the server compiled by tsc into `<target>/dist`, beside what it reads at run
 * time (package.json with `version`, the default configuration, the migrations) and the installed dependencies.
 */
export async function buildRelease(target: string, version: string): Promise<Release> {
  mkdirSync(target, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeFileSync(path.join(target, 'package.json'), JSON.stringify({ ...manifest, version }, null, 2));
  cpSync(path.join(packageRoot, 'config'), path.join(target, 'config'), { recursive: true });
  cpSync(path.join(packageRoot, 'src', 'db', 'migrations'), path.join(target, 'src', 'db', 'migrations'), {
    recursive: true,
  });
  symlinkSync(path.join(packageRoot, 'node_modules'), path.join(target, 'node_modules'));
  await run(
    process.execPath,
    [
      path.join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      path.join(target, 'dist'),
    ],
    { cwd: packageRoot, timeout: 5 * 60_000 },
  );
  return { command: [process.execPath, path.join(target, 'dist', 'src', 'main.js')], cwd: target, version };
}

export type KeyhouseProcess = {
  readonly apiUrl: string;
  /** Starts `release` and resolves once /readyz answers 200. */
  start(release?: Release): Promise<void>;
  /** SIGKILL goes to the whole process group (a crash); SIGTERM to Keyhouse alone (a normal stop). */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  running(): boolean;
  logTail(lines?: number): string;
  /** JSON from the API; throws with the body when the status is not `status`. */
  json<T>(pathname: string, init: RequestInit, status: number): Promise<T>;
};

export function keyhouseProcess(options: {
  env: NodeJS.ProcessEnv;
  apiPort: number;
  logFile: string;
}): KeyhouseProcess {
  const apiUrl = `http://127.0.0.1:${options.apiPort}`;
  let current: { child: ChildProcess; exited: Promise<void>; gone: boolean } | undefined;

  const logTail = (lines = 20) =>
    existsSync(options.logFile)
      ? readFileSync(options.logFile, 'utf8')
          .split('\n')
          .filter((line) => !line.includes('"reqId"'))
          .slice(-lines)
          .join('\n')
      : '';

  return {
    apiUrl,
    logTail,
    running: () => current !== undefined && !current.gone,
    async start(release = sourceRelease) {
      const out = openSync(options.logFile, 'a');
      const [command, ...args] = release.command;
      const child = spawn(command!, args, {
        cwd: release.cwd,
        env: options.env,
        detached: true,
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      const started = {
        child,
        gone: false,
        exited: new Promise<void>((resolve) => child.once('exit', () => resolve())),
      };
      void started.exited.then(() => (started.gone = true));
      current = started;
      await waitFor(
        async () => {
          if (started.gone) throw new Error(`Keyhouse exited during start-up:\n${logTail()}`);
          const ready = await fetch(`${apiUrl}/readyz`).catch(() => undefined);
          await ready?.body?.cancel();
          return ready?.status === 200;
        },
        120_000,
        'Keyhouse to answer /readyz',
      );
    },
    async stop(signal) {
      const stopping = current;
      current = undefined;
      if (!stopping || stopping.gone) return;
      try {
        process.kill(signal === 'SIGKILL' ? -stopping.child.pid! : stopping.child.pid!, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
      await stopping.exited;
    },
    async json<T>(pathname: string, init: RequestInit, status: number): Promise<T> {
      const answer = await fetch(`${apiUrl}${pathname}`, init);
      const text = await answer.text();
      if (answer.status !== status) throw new Error(`${pathname} answered ${answer.status}: ${text}`);
      return JSON.parse(text) as T;
    },
  };
}

/**
 * A data dir and configuration for a Keyhouse run as a process (roles api, worker, edge): the tests' shared Keycloak
 * cache as its distributions, and edge, Keycloak and metrics ports of its own from a random base, so that tests
 * running side by side never share one. `extraYaml`: further top-level configuration lines.
 */
export function prepareProcessDataDir(prefix: string, extraYaml: string[] = []) {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
  // The worker keeps built distributions in <dataDir>/keycloak/dist: point it at the tests' shared cache.
  mkdirSync(path.join(dir, 'keycloak'), { recursive: true });
  symlinkSync(testKeycloakCache, path.join(dir, 'keycloak', 'dist'));
  const base = 20000 + Math.floor(Math.random() * 20000);
  const configFile = path.join(dir, 'keyhouse.yaml');
  writeFileSync(
    configFile,
    [
      'roles: [api, worker, edge]',
      'edge:',
      '  listenHost: 127.0.0.1',
      `  portRange: { from: ${base}, to: ${base + 20} }`,
      // The plain-HTTP listener (ACME, redirects) off port 80, which another test's edge may hold.
      `  httpPort: ${base + 21}`,
      'keycloak:',
      `  portRange: { from: ${base + 100}, to: ${base + 140} }`,
      'metrics:',
      `  prometheus: { port: ${base + 150} }`,
      `  exporterPort: ${base + 151}`,
      ...extraYaml,
      '',
    ].join('\n'),
  );
  return { dir, configFile };
}

/**
 * After a test with Keyhouse as a process: stops it, kills what a failed run left under `dir`, drops the instances'
 * databases and roles (`instanceNames`, read by the caller while its database still exists) and the scratch
 * database, and removes the data dir.
 */
export async function removeProcessRun(run: {
  keyhouse: KeyhouseProcess | undefined;
  dir: string | undefined;
  database: { drop(): Promise<void> } | undefined;
  instanceNames: string[];
}): Promise<void> {
  await run.keyhouse?.stop('SIGTERM');
  if (run.dir) killEverythingUnder(run.dir);
  if (run.instanceNames.length) {
    const admin = new pg.Client({ connectionString: `${inject('serverUrl')}/postgres` });
    await admin.connect();
    for (const name of run.instanceNames) {
      const id = admin.escapeIdentifier(instanceDatabaseName(name));
      await admin.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${id}`);
    }
    await admin.end();
  }
  await run.database?.drop();
  if (run.dir) rmSync(run.dir, { recursive: true, force: true });
}

/** Signs up a new organisation over HTTP and creates an API token: what a customer's script starts with. */
export async function signUpOverHttp(keyhouse: KeyhouseProcess, organizationName: string) {
  const signup = await fetch(`${keyhouse.apiUrl}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `${organizationName.toLowerCase().replace(/\W+/g, '-')}-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
      organizationName,
    }),
  });
  const text = await signup.text();
  if (signup.status !== 201) throw new Error(`signup answered ${signup.status}: ${text}`);
  const body = JSON.parse(text) as { csrfToken: string; organization: { customerNumber: string } };
  const session = signup.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
  const { token } = await keyhouse.json<{ token: string }>(
    '/api/v1/tokens',
    {
      method: 'POST',
      headers: { cookie: session, 'x-csrf-token': body.csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'test' }),
    },
    201,
  );
  return { token, customerNumber: body.organization.customerNumber };
}
