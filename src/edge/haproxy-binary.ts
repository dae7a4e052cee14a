import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * The HAProxy program the edge runs. Checked once when the edge role starts, before anything else happens, so a
 * host without it fails at once with what to install instead of half-starting.
 */
export type HaproxyBinary = {
  /** Absolute: HAProxy is started without an environment, so without PATH. */
  path: string;
  version: string;
};

/** The oldest release with everything the edge uses: versioned ACL commits, `set ssl cert`, idle-close-on-response. */
const MINIMUM = [2, 6] as const;
const INSTALL_HINT =
  "Install Debian's package (apt-get install haproxy) or point edge.haproxy in the configuration at the program.";

export class HaproxyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HaproxyUnavailableError';
  }
}

/** Parses the first line of `haproxy -v`, e.g. "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/". */
export function parseHaproxyVersion(output: string): string | undefined {
  return /HAProxy version (\d+\.\d+(?:\.\d+)?)/.exec(output)?.[1];
}

function atLeastMinimum(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
}

/** Where a bare name is looked for after PATH: Debian installs HAProxy in /usr/sbin, which users' PATH lacks. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return false;
    throw error;
  }
}

/** The absolute path of `binary`: as given when it names a path, else from PATH, else from the sbin directories. */
function locate(binary: string): string | undefined {
  if (binary.includes('/')) return isExecutable(binary) ? path.resolve(binary) : undefined;
  try {
    // The shell looks the name up in PATH the way a user's shell would, and prints where it found it.
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { encoding: 'utf8' }).trim();
  } catch (error) {
    // Exit status 1 or 127: not in PATH.
    if (![1, 127].includes((error as { status?: number }).status ?? -1)) throw error;
  }
  return SBIN.map((dir) => path.join(dir, binary)).find(isExecutable);
}

/** Throws HaproxyUnavailableError, one sentence saying what to install, when `binary` is missing or too old. */
export function requireHaproxy(binary: string): HaproxyBinary {
  const resolved = locate(binary);
  if (!resolved) {
    throw new HaproxyUnavailableError(
      `The edge needs HAProxy ${MINIMUM.join('.')} or newer, and "${binary}" was not found. ${INSTALL_HINT}`,
    );
  }
  let output: string;
  try {
    output = execFileSync(resolved, ['-v'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
  } catch (error) {
    throw new HaproxyUnavailableError(
      `The edge needs HAProxy ${MINIMUM.join('.')} or newer, and "${binary} -v" failed ` +
        `(${(error as Error).message}). ${INSTALL_HINT}`,
    );
  }
  const version = parseHaproxyVersion(output);
  if (!version || !atLeastMinimum(version)) {
    throw new HaproxyUnavailableError(
      `The edge needs HAProxy ${MINIMUM.join('.')} or newer; "${binary}" is ${version ? `version ${version}` : 'not HAProxy'}. ${INSTALL_HINT}`,
    );
  }
  return { path: resolved, version };
}
