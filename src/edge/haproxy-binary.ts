import { execFileSync } from 'node:child_process';

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

/** Throws HaproxyUnavailableError, one sentence saying what to install, when `binary` is missing or too old. */
export function requireHaproxy(binary: string): HaproxyBinary {
  let output: string;
  let resolved: string;
  try {
    // The shell looks the name up in PATH the way a user's shell would, and prints where it found it.
    resolved = execFileSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { encoding: 'utf8' }).trim();
    output = execFileSync(resolved, ['-v'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
  } catch (error) {
    const status = (error as { status?: number }).status;
    const why =
      status === 1 || status === 127
        ? `"${binary}" was not found`
        : `"${binary} -v" failed (${(error as Error).message})`;
    throw new HaproxyUnavailableError(
      `The edge needs HAProxy ${MINIMUM.join('.')} or newer, and ${why}. ${INSTALL_HINT}`,
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
