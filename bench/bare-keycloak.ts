/**
 * Bare Keycloak processes for the JVM benches (bench/density.ts, bench/cold-start.ts): each one set up the way the
 * local driver sets up an instance (a `cp -al` home with real conf/ and data/, the `keycloak.conf` and JVM options of
 * `renderKeycloakSettings` for the node size, a database and role of its own on the machine's PostgreSQL), started
 * with `kc.sh start --optimized`, without Keyhouse around it. `extraJavaOptions` adds JVM options to compare.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/load-config.js';
import { renderKeycloakSettings } from '../src/drivers/local/keycloak-config.js';
import {
  createKeycloakDistributions,
  keycloakProcessEnv,
  type KeycloakDistribution,
} from '../src/drivers/local/keycloak-distribution.js';
import { installHome } from '../src/drivers/local/keycloak-home.js';
import {
  findKeycloakProcesses,
  logTail,
  spawnKeycloak,
  stopKeycloak,
  waitForKeycloakReady,
} from '../src/drivers/local/keycloak-process.js';
import { writeFileSync } from 'node:fs';
import { createLogger } from '../src/platform/logger.js';
import { testKeycloakCache } from '../test/support/test-keyhouse.js';

export const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';

export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function distribution(version: string): Promise<KeycloakDistribution> {
  const config = loadConfig({ DATA_DIR: os.tmpdir() });
  return createKeycloakDistributions({
    config,
    logger: createLogger({ level: 'warn' }),
    cacheDir: testKeycloakCache,
  }).get(version);
}

export type NodeSize = { id: string; vcpu: number; memoryGb: number };
export const B2_4: NodeSize = { id: 'b2-4', vcpu: 2, memoryGb: 4 };

export type BareKeycloak = {
  name: string;
  home: string;
  database: string;
  /** Spawn → /health/ready, ms. */
  start(): Promise<number>;
  pid(): number;
  /** SIGTERM, SIGKILL after `timeoutMs` (default 60 s; a JVM writing its class archive at exit needs longer). */
  stop(timeoutMs?: number): Promise<void>;
  remove(): Promise<void>;
  /** The last lines of its console (kc.sh, the JVM's own messages such as the archive's). */
  consoleTail(): string;
};

/** A scratch area for one bench run: role, databases and homes, all removed by `cleanup`. */
export async function benchArea(prefix: string) {
  const tag = randomBytes(3).toString('hex');
  const role = `kh_bench_${tag}`;
  const password = randomBytes(12).toString('hex');
  const dir = path.join(os.tmpdir(), `keyhouse-bench-${prefix}-${tag}`);
  mkdirSync(dir, { recursive: true });
  await withAdmin((c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`));
  const databases: string[] = [];
  let creating: Promise<unknown> = Promise.resolve();
  const instances: BareKeycloak[] = [];
  let nextPort = 41000 + Math.floor(Math.random() * 5000) * 2;
  return {
    tag,
    /** A new database: empty (a first start creates the schema), or a copy of `template`. */
    async database(template?: string): Promise<string> {
      // Named and created one at a time: instances are set up in parallel, and a template takes one copy at once.
      const name = `kh_bench_${tag}_${databases.length}`;
      databases.push(name);
      const created = creating.then(() =>
        withAdmin((c) =>
          c.query(`CREATE DATABASE ${name} OWNER ${role}${template ? ` TEMPLATE ${template}` : ''}`),
        ),
      );
      creating = created.catch(() => undefined);
      await created;
      return name;
    },
    async instance(options: {
      dist: KeycloakDistribution;
      database: string;
      nodeSize?: NodeSize;
      extraJavaOptions?: string[];
      /** Replaces the heap options of renderKeycloakSettings. */
      heap?: string;
      /** Replaces JAVA_OPTS whole (kc.sh then adds neither its defaults nor a heap). */
      javaOpts?: string;
    }): Promise<BareKeycloak> {
      const name = `kc-${tag}-${instances.length}`;
      const home = path.join(dir, name, 'keycloak');
      mkdirSync(path.dirname(home), { recursive: true });
      await installHome(home, options.dist, options.dist.version, 30_000);
      const ports = { httpPort: nextPort++, managementPort: nextPort++ };
      const settings = renderKeycloakSettings({
        instance: {
          name,
          nodeSize: options.nodeSize ?? B2_4,
          secrets: { databasePassword: password, adminPassword: 'unused' },
        } as Parameters<typeof renderKeycloakSettings>[0]['instance'],
        ports,
        publicUrl: `http://127.0.0.1:${ports.httpPort}`,
        database: {
          host: '127.0.0.1',
          port: Number(new URL(serverUrl).port || 5432),
          name: options.database,
          user: role,
        },
        logFile: path.join(dir, name, 'keycloak.log'),
        javaHome: options.dist.javaHome,
        maxHeapMb: 1024,
        // installHome makes the home from the distribution as built today, as the driver's homes are.
        responseTimeBuckets: true,
      });
      writeFileSync(path.join(home, 'conf', 'keycloak.conf'), settings.conf);
      const env = { ...settings.env };
      if (options.heap) env.JAVA_OPTS_KC_HEAP = options.heap;
      if (options.javaOpts) env.JAVA_OPTS = options.javaOpts;
      if (options.extraJavaOptions?.length)
        env.JAVA_OPTS_APPEND = `${env.JAVA_OPTS_APPEND ?? ''} ${options.extraJavaOptions.join(' ')}`.trim();
      const instance: BareKeycloak = {
        name,
        home,
        database: options.database,
        async start() {
          const started = performance.now();
          await spawnKeycloak({
            home,
            cwd: path.dirname(home),
            consoleLog: path.join(dir, name, 'console.log'),
            pidFile: path.join(dir, name, 'keycloak.pid'),
            env: keycloakProcessEnv(options.dist.javaHome, {
              ...env,
              KC_BOOTSTRAP_ADMIN_USERNAME: 'bench-admin',
              KC_BOOTSTRAP_ADMIN_PASSWORD: password,
            }),
          });
          // Polls 2 s apart: under a load of 20 and more, kc.sh takes seconds before its java appears.
          const ready = await waitForKeycloakReady({
            home,
            managementPort: ports.managementPort,
            timeoutMs: 15 * 60_000,
            pollMs: 2000,
          });
          if (ready.outcome !== 'ready')
            throw new Error(
              `${name} did not start (${ready.outcome}): ${readFileSync(path.join(dir, name, 'console.log'), 'utf8').slice(-500)}\n${logTail(path.join(dir, name, 'keycloak.log'))}`,
            );
          return performance.now() - started;
        },
        pid() {
          const pid = findKeycloakProcesses(home)[0];
          if (pid === undefined) throw new Error(`${name} runs no JVM`);
          return pid;
        },
        async stop(timeoutMs = 60_000) {
          await stopKeycloak(home, timeoutMs);
        },
        consoleTail: () => logTail(path.join(dir, name, 'console.log')),
        async remove() {
          await stopKeycloak(home, 60_000);
          rmSync(path.dirname(home), { recursive: true, force: true });
        },
      };
      instances.push(instance);
      return instance;
    },
    async cleanup() {
      for (const instance of instances) await instance.remove();
      await withAdmin(async (c) => {
        for (const database of databases) await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await c.query(`DROP ROLE IF EXISTS ${role}`);
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident and proportional set size of a process, MB (PSS divides pages shared with other processes). */
export function memoryOf(pid: number): { rssMb: number; pssMb: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return { rssMb: kb('Rss') / 1024, pssMb: kb('Pss') / 1024 };
}

export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
