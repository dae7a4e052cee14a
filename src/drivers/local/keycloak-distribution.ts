import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/config-schema.js';
import { isNotFound, readTextIfExists } from '../../platform/errno.js';
import { withFileLock } from '../../platform/file-lock.js';
import { runCommand } from '../../platform/process-runner.js';

/**
 * The Keycloak distributions the local driver starts instances from: one per catalog version, fetched once with
 * Maven (`org.keycloak:keycloak-quarkus-dist:<version>:zip`, through the local ~/.m2 repository) or copied from
 * KEYCLOAK_HOME, unpacked into `<dataDir>/keycloak/dist/<version>/keycloak` and built once (`kc.sh build`) with the
 * build-time options every instance shares. Instances then run `kc.sh start --optimized` from hard-linked copies,
 * which never rebuild and so never race on the shared `lib/quarkus`.
 */

/**
 * Build-time options. A distribution is cached per version and per these options (`distributionDir`), so changing
 * them builds each version once more beside the old build, which instances started from it keep using until their
 * home is made again (`keycloak-home.ts` compares the options too). User event metrics count logins and failed
 * logins for the instance page's charts (`keycloak_user_events_total`, src/metrics/).
 */
export const KEYCLOAK_BUILD_OPTIONS: readonly string[] = [
  '--db=postgres',
  '--health-enabled=true',
  '--metrics-enabled=true',
  '--event-metrics-user-enabled=true',
];

/** The build options in a directory name: another set of options is another build, never a rebuild in place. */
export const BUILD_OPTIONS_TAG = createHash('sha256')
  .update(JSON.stringify(KEYCLOAK_BUILD_OPTIONS))
  .digest('hex')
  .slice(0, 8);

/** Where `version`, built with KEYCLOAK_BUILD_OPTIONS, lives in a distribution cache. */
export function distributionDir(cacheDir: string, version: string): string {
  return path.join(cacheDir, `${version}-${BUILD_OPTIONS_TAG}`);
}

const MARKER = '.keyhouse-built.json';
const DEFAULT_JVM_DIR = '/usr/lib/jvm';

export type KeycloakDistribution = {
  version: string;
  /** The built distribution; instances copy it, nothing runs in it. */
  home: string;
  javaHome: string;
  javaMajor: number;
};

/** Retrying will not help: the host lacks what this version needs (a suitable Java, the version itself). */
export class DistributionUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DistributionUnavailableError';
  }
}

export type KeycloakDistributions = {
  /** The built distribution of `version`, fetching and building it first if needed (memoised per version). */
  get(version: string): Promise<KeycloakDistribution>;
  /** Prepares every catalog version; call at start-up (in the background) so the first order does not wait. */
  prepareAll(): Promise<KeycloakDistribution[]>;
};

// ---------------------------------------------------------------------------------------------------------------
// Java selection

export type JdkInfo = { home: string; major: number };

/** The major version from a JDK's `release` file (JAVA_VERSION="17.0.15" → 17, "1.8.0_412" → 8). */
export function javaMajorFromRelease(text: string): number | null {
  const match = /^JAVA_VERSION="?(\d+)(?:\.(\d+))?/m.exec(text);
  if (!match) return null;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}

function readJdk(home: string): JdkInfo | null {
  if (!existsSync(path.join(home, 'bin', 'java'))) return null;
  const release = readTextIfExists(path.join(home, 'release'));
  const major = release === null ? null : javaMajorFromRelease(release);
  return major === null ? null : { home, major };
}

/** JDKs installed under `jvmDir`, each once (Debian adds symlinked aliases such as java-1.17.0-openjdk-amd64). */
export function listJdks(jvmDir = DEFAULT_JVM_DIR): JdkInfo[] {
  let entries: string[];
  try {
    entries = readdirSync(jvmDir);
  } catch (error) {
    if (isNotFound(error)) return []; // no JDK installed the Debian way
    throw error;
  }
  const seen = new Set<string>();
  const jdks: JdkInfo[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith('.')) continue;
    let real: string;
    try {
      real = realpathSync(path.join(jvmDir, entry));
    } catch (error) {
      if (isNotFound(error)) continue; // a link to a removed JDK
      throw error;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const jdk = readJdk(real);
    if (jdk) jdks.push(jdk);
  }
  return jdks;
}

/**
 * The Java releases a Keycloak version runs on: 17 (deprecated since 25.x) and 21 for all of 26.x, 25 from 26.6 on.
 * Only LTS releases are listed: Keycloak is not tested on the ones in between.
 */
export function supportedJavaMajors(keycloakVersion: string): number[] {
  const [major = 0, minor = 0] = keycloakVersion.split('.').map(Number);
  if (major > 26 || (major === 26 && minor >= 6)) return [17, 21, 25];
  return [17, 21];
}

export type JavaChoice =
  { ok: true; home: string; major: number; warning: string | null } | { ok: false; message: string };

const JAVA_17_WARNING =
  'Keycloak runs on Java 17, which it deprecates; install JDK 21 (or 25 for Keycloak 26.6 and later).';

/** JAVA_HOME (configured) wins; otherwise the newest installed JDK that the Keycloak version supports. */
export function selectJava(options: {
  keycloakVersion: string;
  configuredJavaHome: string | null;
  jdks: JdkInfo[];
}): JavaChoice {
  const supported = supportedJavaMajors(options.keycloakVersion);
  if (options.configuredJavaHome) {
    const jdk = readJdk(options.configuredJavaHome);
    if (!jdk)
      return {
        ok: false,
        message: `JAVA_HOME (${options.configuredJavaHome}) is not a JDK: it has no bin/java or no release file.`,
      };
    // The operator chose it explicitly; we run it, but say so when Keycloak does not support it.
    const warning = !supported.includes(jdk.major)
      ? `JAVA_HOME is Java ${jdk.major}, which Keycloak ${options.keycloakVersion} does not support (it supports ${supported.join(', ')}).`
      : jdk.major === 17
        ? JAVA_17_WARNING
        : null;
    return { ok: true, home: jdk.home, major: jdk.major, warning };
  }
  const best = options.jdks
    .filter((jdk) => supported.includes(jdk.major))
    .sort((a, b) => b.major - a.major)[0];
  if (!best)
    return {
      ok: false,
      message: `No Java for Keycloak ${options.keycloakVersion}: it needs Java ${supported.join(', ')}.`,
    };
  return {
    ok: true,
    home: best.home,
    major: best.major,
    warning: best.major === 17 ? JAVA_17_WARNING : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Prerequisites

export function catalogKeycloakVersions(config: Config): string[] {
  return config.catalog.serviceTypes.find((type) => type.id === 'keycloak')?.versions ?? [];
}

export function defaultDistributionCacheDir(config: Config): string {
  return path.join(config.dataDir, 'keycloak', 'dist');
}

type Marker = { version: string; buildOptions: string[]; builtAt: string };

function readMarker(versionDir: string): Marker | null {
  // Written whole (write-then-rename) and last: no marker is an unfinished build.
  const marker = readTextIfExists(path.join(versionDir, MARKER));
  return marker === null ? null : (JSON.parse(marker) as Marker);
}

function isBuilt(versionDir: string, version: string): boolean {
  const marker = readMarker(versionDir);
  return (
    marker !== null &&
    marker.version === version &&
    JSON.stringify(marker.buildOptions) === JSON.stringify(KEYCLOAK_BUILD_OPTIONS)
  );
}

/** Runs and exits 0 within 30 s: not missing (spawn error), failing or hanging. */
function commandWorks(file: string, args: string[]): boolean {
  const run = spawnSync(file, args, { stdio: 'ignore', timeout: 30_000 });
  return run.error === undefined && run.status === 0;
}

/** The version a Keycloak home holds, from its version.txt ("Keycloak - Version 26.5.6"). */
export function readKeycloakHomeVersion(home: string): string | null {
  const text = readTextIfExists(path.join(home, 'version.txt'));
  return text === null ? null : (/Version\s+(\S+)/.exec(text)?.[1] ?? null);
}

export type PrerequisiteCheck = { ok: true; warnings: string[] } | { ok: false; message: string };

/**
 * Checks at start-up, not in the middle of an order, that the local region can run Keycloak: a suitable Java for
 * every catalog version, and Maven plus unzip when a distribution still has to be fetched. Everything missing is
 * said in one message, with what to install.
 */
export function checkPrerequisites(
  config: Config,
  options: { jvmDir?: string; cacheDir?: string; mavenCommand?: string } = {},
): PrerequisiteCheck {
  const versions = catalogKeycloakVersions(config);
  const cacheDir = options.cacheDir ?? defaultDistributionCacheDir(config);
  const jdks = listJdks(options.jvmDir);
  const missing: string[] = [];
  const warnings = new Set<string>();

  const noJava = versions
    .map((version) => ({
      version,
      choice: selectJava({ keycloakVersion: version, configuredJavaHome: config.keycloak.javaHome, jdks }),
    }))
    .filter(({ choice }) => {
      if (choice.ok && choice.warning) warnings.add(choice.warning);
      return !choice.ok;
    });
  if (noJava.length) {
    const first = noJava[0]!.choice;
    missing.push(
      config.keycloak.javaHome && !first.ok
        ? first.message
        : `a JDK 21 (e.g. "apt-get install openjdk-21-jdk-headless"; Java 17 also works, 25 only for Keycloak 26.6+) ` +
            `under ${options.jvmDir ?? DEFAULT_JVM_DIR} or named by JAVA_HOME ` +
            `(needed by Keycloak ${noJava.map((n) => n.version).join(', ')})`,
    );
  }

  const unbuilt = versions.filter((version) => !isBuilt(distributionDir(cacheDir, version), version));
  if (config.keycloak.home) {
    const homeVersion = readKeycloakHomeVersion(config.keycloak.home);
    if (!homeVersion)
      missing.push(`a Keycloak distribution at KEYCLOAK_HOME (${config.keycloak.home} has no version.txt)`);
    else if (unbuilt.some((version) => version !== homeVersion))
      warnings.add(
        `KEYCLOAK_HOME holds Keycloak ${homeVersion}; orders for ${unbuilt.filter((v) => v !== homeVersion).join(', ')} will fail.`,
      );
  } else if (unbuilt.length) {
    if (!commandWorks(options.mavenCommand ?? 'mvn', ['-v']))
      missing.push(
        `Maven ("apt-get install maven"), to fetch Keycloak ${unbuilt.join(', ')} once; ` +
          'or set KEYCLOAK_HOME to an unpacked Keycloak distribution',
      );
    if (!commandWorks('unzip', ['-v'])) missing.push('unzip ("apt-get install unzip")');
  }

  if (missing.length)
    return {
      ok: false,
      message: `The local region cannot run Keycloak yet. Install ${missing.join('; and ')}. Then start Keyhouse again.`,
    };
  return { ok: true, warnings: [...warnings] };
}

// ---------------------------------------------------------------------------------------------------------------
// Fetch, unpack, build

/** Maven colours its output even in batch mode on some terminals; logs want plain text. */
const stripAnsi = (line: string) =>
  line.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');

function directorySize(dir: string): number {
  let total = 0;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) total += statSync(path.join(dir, entry.name)).size;
    }
  } catch (error) {
    if (!isNotFound(error)) throw error; // else not there yet
  }
  return total;
}

/** Logs a line every `everyMs` while `work` runs, so a long download or build is visibly alive. */
async function withHeartbeat<T>(everyMs: number, beat: (elapsedS: number) => void, work: () => Promise<T>) {
  const started = Date.now();
  const timer = setInterval(() => beat(Math.round((Date.now() - started) / 1000)), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export function createKeycloakDistributions(options: {
  config: Config;
  logger: Logger;
  /** Where built distributions live; default `<dataDir>/keycloak/dist`. Tests share one across runs. */
  cacheDir?: string;
  jvmDir?: string;
  mavenCommand?: string;
  /** How long to wait for another process building the same version. */
  lockTimeoutMs?: number;
}): KeycloakDistributions {
  const { config } = options;
  const logger = options.logger.child({ component: 'keycloak-distribution' });
  const cacheDir = options.cacheDir ?? defaultDistributionCacheDir(config);
  const inFlight = new Map<string, Promise<KeycloakDistribution>>();

  async function fetchWithMaven(version: string, downloadDir: string): Promise<string> {
    const artifact = `org.keycloak:keycloak-quarkus-dist:${version}:zip`;
    const m2Dir = path.join(
      homedir(),
      '.m2',
      'repository',
      'org',
      'keycloak',
      'keycloak-quarkus-dist',
      version,
    );
    logger.info(
      { version, artifact },
      'fetching Keycloak with Maven (reuses ~/.m2; about 165 MB when not there)',
    );
    mkdirSync(downloadDir, { recursive: true });
    const result = await withHeartbeat(
      15_000,
      (elapsed) =>
        logger.info(
          { version, elapsedS: elapsed, bytesInM2: directorySize(m2Dir) + directorySize(downloadDir) },
          'still fetching Keycloak',
        ),
      () =>
        runCommand(
          options.mavenCommand ?? 'mvn',
          ['-B', 'dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${downloadDir}`],
          {
            cwd: downloadDir,
            logFile: path.join(downloadDir, '..', 'fetch.log'),
            onLine: (line) => {
              if (/Download(ing|ed)|Copying|ERROR/.test(line)) logger.info({ version }, stripAnsi(line));
            },
          },
        ),
    );
    const zip = path.join(downloadDir, `keycloak-quarkus-dist-${version}.zip`);
    if (result.code !== 0 || !existsSync(zip))
      throw new Error(`Maven could not fetch ${artifact} (exit ${result.code}):\n${result.tail}`);
    return zip;
  }

  async function build(version: string): Promise<KeycloakDistribution> {
    const java = selectJava({
      keycloakVersion: version,
      configuredJavaHome: config.keycloak.javaHome,
      jdks: listJdks(options.jvmDir),
    });
    if (!java.ok) throw new DistributionUnavailableError(java.message);
    if (java.warning) logger.warn({ version, javaHome: java.home }, java.warning);

    const versionDir = distributionDir(cacheDir, version);
    const home = path.join(versionDir, 'keycloak');
    const result = { version, home, javaHome: java.home, javaMajor: java.major };
    if (isBuilt(versionDir, version)) return result;

    return withFileLock(
      `${distributionDir(cacheDir, version)}.lock`,
      async () => {
        // Another process may have finished while we waited for the lock.
        if (isBuilt(versionDir, version)) return result;
        const started = Date.now();
        // Whatever is here is a crashed attempt (the marker is written last): start over.
        rmSync(versionDir, { recursive: true, force: true });
        mkdirSync(versionDir, { recursive: true });

        if (config.keycloak.home) {
          const homeVersion = readKeycloakHomeVersion(config.keycloak.home);
          if (homeVersion !== version)
            throw new DistributionUnavailableError(
              `Keycloak ${version} is not available: KEYCLOAK_HOME (${config.keycloak.home}) holds ${homeVersion ?? 'no known version'}.`,
            );
          logger.info({ version, from: config.keycloak.home }, 'copying Keycloak from KEYCLOAK_HOME');
          // A copy, so that our build never changes the operator's distribution.
          const copy = await runCommand('cp', ['-a', `${config.keycloak.home}/.`, home]);
          if (copy.code !== 0) throw new Error(`Copying KEYCLOAK_HOME failed:\n${copy.tail}`);
        } else {
          const downloadDir = path.join(versionDir, 'download');
          const zip = await fetchWithMaven(version, downloadDir);
          logger.info({ version }, 'unpacking Keycloak');
          const unpackDir = path.join(versionDir, 'unpack');
          const unzip = await runCommand('unzip', ['-q', '-o', zip, '-d', unpackDir]);
          if (unzip.code !== 0) throw new Error(`Unpacking ${zip} failed:\n${unzip.tail}`);
          const [top] = readdirSync(unpackDir);
          if (!top) throw new Error(`${zip} is empty.`);
          renameSync(path.join(unpackDir, top), home);
          rmSync(unpackDir, { recursive: true, force: true });
          rmSync(downloadDir, { recursive: true, force: true });
        }

        logger.info(
          { version, javaHome: java.home, options: KEYCLOAK_BUILD_OPTIONS },
          'building Keycloak (kc.sh build, once per version)',
        );
        const built = await withHeartbeat(
          15_000,
          (elapsed) => logger.info({ version, elapsedS: elapsed }, 'still building Keycloak'),
          () =>
            runCommand(path.join(home, 'bin', 'kc.sh'), ['build', ...KEYCLOAK_BUILD_OPTIONS], {
              cwd: home,
              env: keycloakProcessEnv(java.home),
              logFile: path.join(versionDir, 'build.log'),
            }),
        );
        if (built.code !== 0) throw new Error(`kc.sh build of Keycloak ${version} failed:\n${built.tail}`);

        const marker: Marker = {
          version,
          buildOptions: [...KEYCLOAK_BUILD_OPTIONS],
          builtAt: new Date().toISOString(),
        };
        writeFileSync(path.join(versionDir, `${MARKER}.tmp`), JSON.stringify(marker, null, 2));
        renameSync(path.join(versionDir, `${MARKER}.tmp`), path.join(versionDir, MARKER));
        logger.info({ version, seconds: Math.round((Date.now() - started) / 1000) }, 'Keycloak is built');
        return result;
      },
      {
        timeoutMs: options.lockTimeoutMs ?? 30 * 60_000,
        onWait: (holder) => logger.info({ version, holder }, 'waiting for another process building Keycloak'),
      },
    );
  }

  const get = (version: string) => {
    let pending = inFlight.get(version);
    if (!pending) {
      pending = build(version);
      inFlight.set(version, pending);
      // A failure is not memoised: the next order tries again (Maven Central may have been away).
      pending.catch(() => inFlight.delete(version));
    }
    return pending;
  };

  return {
    get,
    async prepareAll() {
      const results: KeycloakDistribution[] = [];
      // One after the other: two parallel 165 MB downloads and builds only slow each other down.
      for (const version of catalogKeycloakVersions(config)) results.push(await get(version));
      return results;
    },
  };
}

/**
 * The environment of a Keycloak process: only what it needs, so that KC_* or JAVA_OPTS variables of the Keyhouse
 * process never leak into customer instances.
 */
export function keycloakProcessEnv(javaHome: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${path.join(javaHome, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
    HOME: homedir(),
    LANG: 'C.UTF-8',
    JAVA_HOME: javaHome,
    ...extra,
  };
}
