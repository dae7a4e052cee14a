import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { DesiredInstance } from '../driver.js';

/**
 * Pure rendering of one instance's Keycloak settings: `conf/keycloak.conf` (everything that must survive a restart
 * by the supervisor without the desired spec at hand) and the JVM environment. Kept apart from the process handling
 * so it can be unit-tested.
 */

export type InstancePorts = { httpPort: number; managementPort: number };

export type KeycloakSettingsInput = {
  instance: Pick<DesiredInstance, 'name' | 'nodeSize' | 'secrets'>;
  ports: InstancePorts;
  /** The public URL from the edge; Keycloak puts it into issuers and redirects. */
  publicUrl: string;
  database: { host: string; port: number; name: string; user: string };
  logFile: string;
  javaHome: string;
  /** Upper bound of the heap, whatever the node size: this host runs many instances. */
  maxHeapMb: number;
  /**
   * The instance page's metrics (response-time buckets for the p95): only for homes built with today's options, so
   * that an instance made before them keeps its settings, and so its process, until a restart order makes its home
   * again (see keycloak-home.ts).
   */
  responseTimeBuckets: boolean;
  hostCpus?: number;
};

/** Buckets of `http_server_requests_seconds` in ms: enough for a p95 from 5 ms to 10 s, few series per route. */
export const RESPONSE_TIME_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export type KeycloakSettings = {
  /** Contents of conf/keycloak.conf (holds the database password: written with mode 0600). */
  conf: string;
  /** JVM options for kc.sh; the bootstrap admin variables are added separately and only until handover. */
  env: Record<string, string>;
  /** Changes when anything the running process was started with changes: a different hash means restart. */
  hash: string;
};

/**
 * Escapes a value for keycloak.conf, which is a Java properties file whose values SmallRye Config then expands
 * (`${NAME}` is an expression). Properties unescape `\\` to `\`; SmallRye takes `\${` as a literal `${`. Checked
 * against Keycloak 26.5 with a database password of `a$b${x}c\d#e=f!g "h'i$$j`.
 */
export function escapeConfValue(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\$\{/g, '\\\\${')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/^\s/, (space) => `\\${space}`);
}

/**
 * `kc.sh`'s default JAVA_OPTS (the same in Keycloak 26.5 and 26.7), which it uses only when JAVA_OPTS is unset, and
 * then adds JAVA_OPTS_KC_HEAP to. Named here so that options replacing one of them can start from the same list.
 */
export const KEYCLOAK_DEFAULT_JAVA_OPTIONS =
  '-XX:MetaspaceSize=96M -XX:MaxMetaspaceSize=256m -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 ' +
  '-Dsun.err.encoding=UTF-8 -Dstdout.encoding=UTF-8 -Dstderr.encoding=UTF-8 -XX:+ExitOnOutOfMemoryError ' +
  '-Djava.security.egd=file:/dev/urandom -XX:+UseG1GC -XX:FlightRecorderOptions=stackdepth=512 ' +
  '-Djdk.tls.rejectClientInitiatedRenegotiation=true';

/** Half of the node's memory for the heap (the rest is metaspace, threads and the OS), within 256 MB..maxHeapMb. */
export function heapMegabytes(memoryGb: number, maxHeapMb: number): number {
  return Math.max(256, Math.min(maxHeapMb, Math.round((memoryGb * 1024) / 2)));
}

/** Database connections per instance: a few per vCPU, bounded so that many instances fit one PostgreSQL. */
export function databasePoolSize(vcpu: number): number {
  return Math.max(5, Math.min(20, vcpu * 4));
}

export function renderKeycloakSettings(input: KeycloakSettingsInput): KeycloakSettings {
  const { instance, ports, database } = input;
  const options: [string, string][] = [
    ['db-url', `jdbc:postgresql://${database.host}:${database.port}/${database.name}`],
    ['db-username', database.user],
    ['db-password', instance.secrets.databasePassword],
    ['db-pool-max-size', String(databasePoolSize(instance.nodeSize.vcpu))],
    // Plain HTTP on loopback only; TLS and the trusted-source check are the edge's job.
    ['http-enabled', 'true'],
    ['http-host', '127.0.0.1'],
    ['http-port', String(ports.httpPort)],
    // 9000 by default: it would collide between instances.
    ['http-management-port', String(ports.managementPort)],
    ['hostname', input.publicUrl],
    ['proxy-headers', 'xforwarded'],
    // Forwarded headers count only from the edge on this host, never from another local process's guess.
    ['proxy-trusted-addresses', '127.0.0.1'],
    // Single node: no cluster discovery, no ports of its own.
    ['cache', 'local'],
    ['log', 'file'],
    ['log-file', input.logFile],
    ...(input.responseTimeBuckets
      ? ([['http-metrics-slos', RESPONSE_TIME_BUCKETS_MS.join(',')]] as [string, string][])
      : []),
  ];
  const conf =
    '# Written by Keyhouse on every apply; local changes are overwritten.\n' +
    options.map(([key, value]) => `${key}=${escapeConfValue(value)}`).join('\n') +
    '\n';
  const cpus = Math.min(instance.nodeSize.vcpu, input.hostCpus ?? availableParallelism());
  const env: Record<string, string> = {
    JAVA_OPTS_KC_HEAP: `-Xms64m -Xmx${heapMegabytes(instance.nodeSize.memoryGb, input.maxHeapMb)}m`,
    // Thread pools size themselves from the CPU count; make them see the node size, not the whole host.
    JAVA_OPTS_APPEND: `-XX:ActiveProcessorCount=${cpus}`,
  };
  const hash = createHash('sha256')
    .update(JSON.stringify({ conf, env, javaHome: input.javaHome }))
    .digest('hex')
    .slice(0, 16);
  return { conf, env, hash };
}
