import net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import {
  edgeFiles,
  ensureCertificate,
  mapFile,
  patternFile,
  writeCustomCertificate,
  type InstalledCertificate,
} from './edge-files.js';
import { startEdgeRouteFeed, type EdgeRouteFeed, type EdgeSnapshot } from './edge-route-feed.js';
import type { EdgeRoute } from './edge-route-store.js';
import {
  createHaproxyCli,
  HaproxyCliError,
  parseShowSess,
  parseShowStat,
  type HaproxyProcessTable,
} from './haproxy-cli.js';
import { requireHaproxy } from './haproxy-binary.js';
import {
  frontendName,
  loadedFingerprint,
  renderHaproxyConfig,
  type RenderedConfig,
} from './haproxy-config.js';
import {
  checkHaproxyConfig,
  findHaproxyMaster,
  findHaproxyProcesses,
  isAlive,
  listeningPorts,
  reloadHaproxy,
  startHaproxy,
  stopHaproxy,
  type HaproxyPaths,
} from './haproxy-process.js';
import type { LocalCa } from './local-ca.js';
import { compileSourceMatcher, type SourceMatcher } from './source-matcher.js';

/**
 * The edge: Keyhouse's side of HAProxy. It writes the desired state and watches; HAProxy carries every byte.
 *
 * On every change of the route table (and every few seconds) it
 *   1. keeps a certificate file per host name (issued by the local CA, renewed before its end),
 *   2. writes each instance's trusted and admin sources into pattern files,
 *   3. renders the configuration; when it differs from what HAProxy runs (an instance came or went, or a new
 *      Keyhouse release), it is checked with `haproxy -c` and loaded by a seamless reload,
 *   4. replaces changed allowlists in the running workers through the runtime API (prepare/add/commit acl: an
 *      atomic swap, no reload), and ends the streams of sources they no longer admit (show sess + shutdown
 *      session); idle connections of such sources are closed at their next request by the per-request check,
 *   5. swaps renewed certificates in (set/commit ssl cert), again without a reload,
 *   6. keeps the plain-HTTP listener's two map files (ACME challenges, https redirects) and swaps changed ones in
 *      (prepare/add/commit map), so a published challenge is answered within the same second, without a reload.
 * HAProxy is started when none runs for this data dir, adopted when one does, and started again when it dies.
 * Closing the edge leaves HAProxy serving.
 */
export type EdgeOptions = {
  databaseUrl: string;
  dataDir: string;
  edge: Pick<Config['edge'], 'listenHost' | 'haproxy' | 'rateLimit'> & {
    /** The plain-HTTP listener (ACME HTTP-01, redirects to https); absent or null: none. */
    httpPort?: number | null;
  };
  ca: LocalCa;
  /** Opens the sealed private keys of custom domains' certificates (the secret box of src/platform). */
  openSealed: (sealed: string) => string;
  logger: Logger;
  keyhouseVersion: string;
  /** The clock of certificate renewal; tests move it. */
  now?: () => Date;
  /** A certificate with less than this left is replaced (the CA's own renewal window should not be shorter). */
  renewBeforeMs?: number;
  /** Safety-net full resync; notifications make changes visible long before. */
  resyncIntervalMs?: number;
  /** How often the edge looks whether HAProxy still runs. */
  livenessIntervalMs?: number;
  /** Told of every seamless reload (the provider's metrics count them). */
  onReload?: () => void;
};

export type EdgeRouteStatus = {
  instanceId: string;
  hostname: string;
  listenPort: number;
  version: number;
  trustedSources: string[];
  adminSources: string[];
  /** serving: in HAProxy's configuration with these allowlists and this certificate; failed: see `error`. */
  state: 'serving' | 'failed';
  error: string | null;
  certificate: { serial: string; notAfter: string } | null;
  /** The customer's own domain served beside the instance's host name, with its certificate. */
  customDomain: { hostname: string; serial: string; notAfter: string } | null;
};

export type EdgeStatus = {
  databaseConnected: boolean;
  /** The plain-HTTP listener: serving, or why not (its port is another program's). Null: none configured. */
  httpListener: { port: number; state: 'serving' | 'failed'; error: string | null } | null;
  lastSyncAt: string | null;
  haproxy: HaproxyProcessTable | null;
  routes: EdgeRouteStatus[];
};

export type EdgeCounters = { refusedConnections: number; requests: number };

export type Edge = {
  status(): EdgeStatus;
  /** Reads the route table and applies it now; resolves once a sync that started after the call has finished. */
  resync(): Promise<void>;
  /** HAProxy's counters of an instance, summed over its workers (they restart from zero on a reload). */
  counters(instanceId: string): Promise<EdgeCounters>;
  /** Stops watching the routes; HAProxy goes on serving. */
  close(): Promise<void>;
  /** Takes HAProxy down (tests, and an operator retiring the edge of this host). */
  stopHaproxy(): Promise<void>;
};

const DAY_MS = 24 * 60 * 60 * 1000;

/** Why HAProxy could not listen on the port (undefined: it can). */
async function portProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EACCES'
          ? `Port ${port} needs privileges: run HAProxy with CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep ` +
              'on the haproxy program) or as root, or choose a port above 1023 and forward to it.'
          : `Port ${port} is taken by another program on this host.`,
      ),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { ca, logger } = options;
  const clock = options.now ?? (() => new Date());
  const renewBeforeMs = options.renewBeforeMs ?? 30 * DAY_MS;
  const haproxy = requireHaproxy(options.edge.haproxy);
  const files = edgeFiles(options.dataDir);
  const paths: HaproxyPaths = {
    binary: haproxy.path,
    configFile: files.configFile,
    masterSocket: files.masterSocket,
    pidFile: files.pidFile,
    logFile: files.logFile,
  };
  const cli = createHaproxyCli(files.masterSocket);
  const renderOptions = {
    listenHost: options.edge.listenHost,
    rateLimit: options.edge.rateLimit,
    layout: files,
    keyhouseVersion: options.keyhouseVersion,
  };

  // What the running HAProxy is known to have; forgotten (undefined / empty) when it is adopted or restarted.
  let master: number | undefined;
  let table: HaproxyProcessTable | null = null;
  let loaded: string | undefined;
  /** Pattern file → content the workers hold. */
  const appliedLists = new Map<string, string>();
  /** Map file → content the current workers hold. */
  const appliedMaps = new Map<string, string>();
  const httpPort = options.edge.httpPort ?? undefined;
  let httpListener: EdgeStatus['httpListener'] = null;
  /** Certificate file → serial the current workers hold. */
  const appliedCertificates = new Map<string, string>();
  let previousInstances: Set<string> | undefined;
  let routeStatus: EdgeRouteStatus[] = [];

  async function writeConfig(rendered: RenderedConfig): Promise<void> {
    const staging = `${files.configFile}.next`;
    files.write(staging, `${rendered.text}\n`);
    await checkHaproxyConfig(paths.binary, staging);
    files.write(files.configFile, `${rendered.text}\n`);
  }

  function forgetRuntime(): void {
    loaded = undefined;
    appliedLists.clear();
    appliedMaps.clear();
    appliedCertificates.clear();
    previousInstances = undefined;
  }

  /** Starts HAProxy, or adopts the one running; then loads `rendered` unless it runs already. */
  async function converge(rendered: RenderedConfig): Promise<'started' | 'reloaded' | 'unchanged'> {
    if (master === undefined || !isAlive(master)) {
      forgetRuntime();
      master = findHaproxyMaster(files.configFile);
      if (master === undefined) {
        await writeConfig(rendered);
        table = await startHaproxy(paths, cli);
        master = table.masterPid;
        loaded = rendered.fingerprint;
        logger.info({ pid: master, version: haproxy.version }, 'edge: HAProxy started');
        return 'started';
      }
      table = await cli.processes();
      const worker = table.workers[0];
      // No current worker (a failed reload left none): unknown, so loaded again below.
      loaded = worker === undefined ? undefined : loadedFingerprint(await cli.worker(worker, 'show info'));
      logger.info({ pid: master, workers: table.workers }, 'edge: adopted the running HAProxy');
    }
    if (loaded === rendered.fingerprint) {
      table = await cli.processes();
      return 'unchanged';
    }
    await writeConfig(rendered);
    table = await reloadHaproxy(paths, cli);
    loaded = rendered.fingerprint;
    logger.info({ workers: table.workers, oldWorkers: table.oldWorkers }, 'edge: HAProxy reloaded');
    return 'reloaded';
  }

  /**
   * Atomically replaces a pattern file's (`acl`: a CIDR each) or map file's (`map`: "key value" each) entries in one
   * worker; false when that worker does not have the file.
   */
  async function replaceEntries(
    pid: number,
    kind: 'acl' | 'map',
    file: string,
    entries: readonly string[],
  ): Promise<boolean> {
    const answer = await cli.worker(pid, `prepare ${kind} ${file}`);
    const version = /New version created: (\d+)/.exec(answer)?.[1];
    if (!version) {
      if (/^Unknown (ACL|map) identifier/i.test(answer)) return false;
      throw new HaproxyCliError(`prepare ${kind} ${file}: ${answer.trim()}`);
    }
    await cli.silent(pid, [
      ...entries.map((entry) => `add ${kind} @${version} ${file} ${entry}`),
      `commit ${kind} @${version} ${file}`,
    ]);
    return true;
  }

  /** Ends the streams of every worker whose source its frontend no longer admits. */
  async function revoke(workers: readonly number[], matchers: Map<string, SourceMatcher>): Promise<number> {
    let ended = 0;
    for (const pid of workers) {
      const streams = parseShowSess(await cli.worker(pid, 'show sess'));
      for (const stream of streams) {
        const matcher = matchers.get(stream.frontend);
        if (!matcher || matcher.allows(stream.source)) continue;
        const answer = await cli.worker(pid, `shutdown session ${stream.id}`);
        // A stream that ended meanwhile is fine; anything else is not.
        if (answer.trim() !== '' && !/No such session/i.test(answer)) {
          throw new HaproxyCliError(`shutdown session ${stream.id}: ${answer.trim()}`);
        }
        ended++;
      }
    }
    return ended;
  }

  async function installCertificate(pid: number, certificate: InstalledCertificate): Promise<void> {
    const set = await cli.worker(pid, `set ssl cert ${certificate.file} <<\n${certificate.pem.trim()}\n\n`);
    if (!/Transaction (created|updated)/.test(set)) {
      throw new HaproxyCliError(`set ssl cert ${certificate.file}: ${set.trim()}`);
    }
    const commit = await cli.worker(pid, `commit ssl cert ${certificate.file}`);
    if (!/Success!/.test(commit))
      throw new HaproxyCliError(`commit ssl cert ${certificate.file}: ${commit.trim()}`);
  }

  async function loadedSerial(pid: number, file: string): Promise<string | undefined> {
    return /^Serial: ([0-9A-F]+)\s*$/m.exec(await cli.worker(pid, `show ssl cert ${file}`))?.[1];
  }

  async function apply({ routes, challenges }: EdgeSnapshot): Promise<void> {
    const started = performance.now();
    const took: Record<string, number> = {};
    const lap = (phase: string) => (took[phase] = Math.round(performance.now() - started));
    const now = clock();
    const usable: EdgeRoute[] = [];
    const certificates = new Map<string, InstalledCertificate>();
    const customCertificates = new Map<string, InstalledCertificate>();
    const failures = new Map<string, string>();
    const known = master !== undefined && isAlive(master) && table ? table : undefined;
    const heldPorts = listeningPorts(
      known
        ? [known.masterPid, ...known.workers, ...known.oldWorkers]
        : findHaproxyProcesses(files.configFile).map((p) => p.pid),
    );
    for (const route of routes) {
      try {
        const { certificate, renewed } = await ensureCertificate({
          files,
          ca,
          hostname: route.hostname,
          now,
          renewBeforeMs,
        });
        if (renewed) logger.info({ hostname: route.hostname }, 'edge: certificate renewed');
        certificates.set(route.instanceId, certificate);
        if (route.customDomain) installCustomDomain(route, customCertificates);
        files.write(files.trustedSourcesFile(route.instanceId), patternFile(route.trustedSources));
        files.write(files.adminSourcesFile(route.instanceId), patternFile(route.adminSources));
        const problem = heldPorts.has(route.listenPort)
          ? undefined
          : await portProblem(options.edge.listenHost, route.listenPort);
        if (problem) throw new Error(problem);
        usable.push(route);
      } catch (error) {
        failures.set(route.instanceId, errorText(error));
        logger.error(
          { instanceId: route.instanceId, err: errorText(error) },
          'edge: cannot serve the route yet',
        );
      }
    }

    // The plain-HTTP listener's maps: every challenge in flight, and every name served here to its https address.
    const maps = new Map<string, [string, string][]>();
    let listensForHttp = false;
    if (httpPort !== undefined) {
      maps.set(
        files.acmeChallengesMap,
        challenges.map((c) => [`${c.hostname}/${c.token}`, c.keyAuthorization] as [string, string]),
      );
      maps.set(
        files.httpsRedirectsMap,
        usable
          .flatMap((route) =>
            [
              route.hostname,
              ...(customCertificates.has(route.instanceId) ? [route.customDomain!.hostname] : []),
            ].map((name) => [name, `https://${name}:${route.listenPort}`] as [string, string]),
          )
          .sort(([a], [b]) => a.localeCompare(b)),
      );
      for (const [file, entries] of maps) files.write(file, mapFile(entries));
      const problem = heldPorts.has(httpPort)
        ? undefined
        : await portProblem(options.edge.listenHost, httpPort);
      listensForHttp = problem === undefined;
      // Said once when it starts failing, not at every sync.
      if (problem && problem !== httpListener?.error)
        logger.error({ err: problem }, 'edge: no plain-HTTP listener (no ACME, no redirects)');
      httpListener = { port: httpPort, state: problem ? 'failed' : 'serving', error: problem ?? null };
    }

    lap('files');
    const rendered = renderHaproxyConfig(
      usable.map((route) => ({
        ...route,
        customHostname: customCertificates.has(route.instanceId) ? route.customDomain?.hostname : undefined,
      })),
      { ...renderOptions, httpPort: listensForHttp ? httpPort : undefined },
    );
    const outcome = await converge(rendered);
    if (outcome === 'reloaded') options.onReload?.();
    lap(outcome);
    const current = table!;
    const everyWorker = [...current.workers, ...current.oldWorkers];

    // Allowlists: after a start the worker read them from the files; otherwise changed ones are swapped in, in the
    // current and the leaving workers (a leaving worker still serves its open connections).
    const matchers = new Map<string, SourceMatcher>();
    for (const route of usable) {
      for (const [file, cidrs, trusted] of [
        [files.trustedSourcesFile(route.instanceId), route.trustedSources, true],
        [files.adminSourcesFile(route.instanceId), route.adminSources, false],
      ] as const) {
        const content = patternFile(cidrs);
        if (appliedLists.get(file) === content) continue;
        if (outcome !== 'started') {
          for (const pid of everyWorker) {
            const present = await replaceEntries(pid, 'acl', file, cidrs);
            if (!present && current.workers.includes(pid)) {
              throw new HaproxyCliError(`HAProxy's worker ${pid} has no pattern file ${file}.`);
            }
          }
          if (trusted) matchers.set(frontendName(route.instanceId), compileSourceMatcher(cidrs));
        }
        appliedLists.set(file, content);
      }
    }
    // Instances that are gone: whatever a leaving worker still carries for them ends now.
    const wanted = new Set(routes.map((route) => route.instanceId));
    for (const instanceId of previousInstances ?? []) {
      if (!wanted.has(instanceId)) matchers.set(frontendName(instanceId), compileSourceMatcher([]));
    }
    previousInstances = new Set(usable.map((route) => route.instanceId));
    // The plain-HTTP listener's maps: a started or reloaded worker read the files; a running one gets changes.
    if (listensForHttp) {
      for (const [file, entries] of maps) {
        const content = mapFile(entries);
        if (appliedMaps.get(file) === content) continue;
        if (outcome === 'unchanged') {
          for (const pid of current.workers) {
            if (
              !(await replaceEntries(
                pid,
                'map',
                file,
                entries.map(([key, value]) => `${key} ${value}`),
              ))
            )
              throw new HaproxyCliError(`HAProxy's worker ${pid} has no map file ${file}.`);
          }
        }
        appliedMaps.set(file, content);
      }
    }
    lap('allowlists');
    if (matchers.size && outcome !== 'started') {
      const ended = await revoke(everyWorker, matchers);
      if (ended) logger.info({ ended }, 'edge: ended the streams of sources no longer trusted');
      lap('revoke');
    }

    // Certificates: a started or reloaded worker read the files; a renewed one is swapped into the running one.
    for (const route of usable) {
      for (const certificate of [
        certificates.get(route.instanceId)!,
        customCertificates.get(route.instanceId),
      ]) {
        if (!certificate || appliedCertificates.get(certificate.file) === certificate.serial) continue;
        if (outcome === 'unchanged') {
          for (const pid of current.workers) {
            if ((await loadedSerial(pid, certificate.file)) !== certificate.serial) {
              await installCertificate(pid, certificate);
              logger.info({ file: certificate.file, pid }, 'edge: renewed certificate swapped in');
            }
          }
        }
        appliedCertificates.set(certificate.file, certificate.serial);
      }
    }
    for (const file of [...appliedLists.keys()].filter((f) => !wanted.has(instanceOfFile(f)))) {
      appliedLists.delete(file);
    }
    files.removeAllBut({
      instanceIds: wanted,
      hostnames: routes.flatMap((route) => [
        route.hostname,
        ...(customCertificates.has(route.instanceId) ? [route.customDomain!.hostname] : []),
      ]),
    });

    lap('certificates');
    logger.debug({ routes: routes.length, took }, 'edge: routes applied');
    routeStatus = routes.map((route) => {
      const certificate = certificates.get(route.instanceId);
      const custom = customCertificates.get(route.instanceId);
      return {
        instanceId: route.instanceId,
        hostname: route.hostname,
        listenPort: route.listenPort,
        version: route.version,
        trustedSources: [...route.trustedSources],
        adminSources: [...route.adminSources],
        state: failures.has(route.instanceId) ? 'failed' : 'serving',
        error: failures.get(route.instanceId) ?? null,
        certificate: certificate
          ? { serial: certificate.serial, notAfter: certificate.notAfter.toISOString() }
          : null,
        customDomain:
          custom && route.customDomain
            ? {
                hostname: route.customDomain.hostname,
                serial: custom.serial,
                notAfter: custom.notAfter.toISOString(),
              }
            : null,
      };
    });
  }

  /**
   * The certificate file of the route's custom domain. One that cannot be opened leaves the domain out (the instance
   * keeps being served under its own name), said in the log.
   */
  function installCustomDomain(route: EdgeRoute, installed: Map<string, InstalledCertificate>): void {
    const domain = route.customDomain!;
    try {
      installed.set(
        route.instanceId,
        writeCustomCertificate({
          files,
          hostname: domain.hostname,
          chainPem: domain.certificateChainPem,
          keyPem: options.openSealed(domain.sealedPrivateKey),
        }),
      );
    } catch (error) {
      logger.error(
        { instanceId: route.instanceId, hostname: domain.hostname, err: errorText(error) },
        'edge: the custom domain\u2019s certificate cannot be installed; serving the instance\u2019s own name only',
      );
    }
  }

  function instanceOfFile(file: string): string {
    return file.slice(file.lastIndexOf('/') + 1).replace(/\.(trusted|admin)$/, '');
  }

  // One thing at a time touches HAProxy: a sync, or a restart from disk by the liveness check. Never two starts.
  let exclusive: Promise<unknown> = Promise.resolve();
  function serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = exclusive.then(work, work);
    exclusive = next.catch(() => undefined);
    return next;
  }

  /**
   * The data plane does not wait for the database: when no HAProxy runs, the configuration and files on disk (what
   * the last sync wrote) are served at once; the next sync brings them up to date.
   */
  async function startFromDisk(): Promise<void> {
    if (master !== undefined && isAlive(master)) return;
    if (findHaproxyMaster(files.configFile) !== undefined || files.read(files.configFile) === undefined)
      return;
    forgetRuntime();
    try {
      table = await startHaproxy(paths, cli);
      master = table.masterPid;
      const worker = table.workers[0];
      loaded = worker === undefined ? undefined : loadedFingerprint(await cli.worker(worker, 'show info'));
      logger.info({ pid: master }, 'edge: HAProxy started from the configuration on disk');
    } catch (error) {
      logger.error({ err: errorText(error) }, 'edge: HAProxy did not start from the configuration on disk');
    }
  }

  await serialized(startFromDisk);
  const feed: EdgeRouteFeed = await startEdgeRouteFeed({
    databaseUrl: options.databaseUrl,
    logger,
    apply: (routes) => serialized(() => apply(routes)),
    resyncIntervalMs: options.resyncIntervalMs,
  });
  // A dead HAProxy is noticed within a second, started again from disk, and brought up to date by a sync.
  const liveness = setInterval(() => {
    if (master === undefined || isAlive(master)) return;
    logger.error({ pid: master }, 'edge: HAProxy is gone; starting it again');
    void serialized(startFromDisk).then(() => feed.resync());
  }, options.livenessIntervalMs ?? 1_000);
  liveness.unref();

  return {
    status: () => ({
      databaseConnected: feed.databaseConnected(),
      httpListener: httpListener && { ...httpListener },
      lastSyncAt: feed.lastSyncAt(),
      haproxy: master !== undefined && isAlive(master) ? table : null,
      routes: routeStatus.map((route) => ({ ...route })),
    }),
    resync: feed.resync,
    async counters(instanceId) {
      const counters: EdgeCounters = { refusedConnections: 0, requests: 0 };
      const processes = await cli.processes();
      for (const pid of [...processes.workers, ...processes.oldWorkers]) {
        for (const row of parseShowStat(await cli.worker(pid, 'show stat'))) {
          if (row.pxname !== frontendName(instanceId) || row.svname !== 'FRONTEND') continue;
          counters.refusedConnections += Number(row.dcon ?? 0);
          counters.requests += Number(row.req_tot ?? 0);
        }
      }
      return counters;
    },
    async close() {
      clearInterval(liveness);
      await feed.close();
    },
    async stopHaproxy() {
      clearInterval(liveness);
      await feed.close();
      await serialized(() => stopHaproxy(files.configFile));
      master = undefined;
      table = null;
    },
  };
}
