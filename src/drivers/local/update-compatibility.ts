import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { message, type CodedMessage } from '../../platform/messages.js';
import { runCommand, type CommandResult } from '../../platform/process-runner.js';
import {
  KEYCLOAK_BUILD_OPTIONS,
  keycloakProcessEnv,
  type KeycloakDistribution,
} from './keycloak-distribution.js';
import { copyDistributionHome } from './keycloak-home.js';

/**
 * Whether Keycloak itself says an upgrade can run beside the old version (a rolling update): the old home writes
 * its metadata (`kc.sh update-compatibility metadata`), the new version checks it against its own version and
 * configuration (`… check`, with `rolling-updates:v2` so that a patch release of the same minor can pass; the
 * feature only changes what the check answers, not how Keycloak runs). Keycloak knows what changed between two
 * releases (its embedded Infinispan, its features' update policies); a version rule of our own would not.
 */

/** What the check decided; `note` is the step's, `detail` Keycloak's own words for the operator. */
export type RollingVerdict =
  { rolling: true; note: CodedMessage } | { rolling: false; note: CodedMessage; detail: string };

/** The check's exit codes (Keycloak's server guide, "Checking if rolling updates are possible"). */
export function verdictOf(
  check: Pick<CommandResult, 'code' | 'tail'>,
  from: string,
  to: string,
): RollingVerdict {
  if (check.code === 0) return { rolling: true, note: message('step.upgradeRolling', { from, to }) };
  // 3: a recreate is needed; 4: the feature is off; 1, 2: the metadata or an option was not understood.
  const why = incompatibility(check.tail);
  return {
    rolling: false,
    note: why
      ? message('step.upgradeNotRolling', { why })
      : message('step.upgradeCheckFailed', { code: check.code }),
    detail: check.tail,
  };
}

/** Keycloak's line naming what is incompatible, e.g. "'keycloak.version' is incompatible: 26.5.5 -> 26.7.3". */
function incompatibility(output: string): string | null {
  // Also as Keycloak lists several: "Optional[[cacheEmbedded] Rolling Update is not available. '…' is incompatible: a -> b.]".
  return /Rolling Update is not available\.\s*(.+?)\.?\]?\s*$/m.exec(output)?.[1] ?? null;
}

/**
 * Runs both commands. The metadata comes from the running home as it is (`--optimized`). The check needs the
 * feature `rolling-updates:v2`, a build-time option the built distribution does not have, and Keycloak refuses a
 * build-time option that differs under `--optimized` (exit code 2): so it runs in a scratch home of the new
 * version without `--optimized`, with the build options and the instance's configuration, and Keycloak builds
 * that home for it first (seconds; the running Keycloak serves on meanwhile). The scratch home's `lib/quarkus`,
 * which the build rewrites, is a real copy: the rest is hard-linked to the shared distribution.
 */
export async function checkRollingUpdate(options: {
  fromHome: string;
  fromJavaHome: string;
  to: { version: string; distribution: KeycloakDistribution; conf: string };
  from: string;
  /** The instance's folder: the metadata file and the scratch home go there. */
  dir: string;
}): Promise<RollingVerdict> {
  const { dir, to } = options;
  const file = `--file=${path.join(dir, 'update-metadata.json')}`;
  const kc = (home: string, javaHome: string, args: string[]) =>
    runCommand(path.join(home, 'bin', 'kc.sh'), ['update-compatibility', ...args], {
      cwd: dir,
      env: keycloakProcessEnv(javaHome),
    });
  const metadata = await kc(options.fromHome, options.fromJavaHome, ['metadata', '--optimized', file]);
  if (metadata.code !== 0) return verdictOf(metadata, options.from, to.version);
  const scratch = path.join(dir, 'update-check');
  rmSync(scratch, { recursive: true, force: true });
  try {
    await copyDistributionHome(to.distribution, scratch);
    const quarkus = path.join(scratch, 'lib', 'quarkus');
    rmSync(quarkus, { recursive: true, force: true });
    const copied = await runCommand('cp', ['-a', path.join(to.distribution.home, 'lib', 'quarkus'), quarkus]);
    if (copied.code !== 0) return verdictOf(copied, options.from, to.version);
    writeFileSync(path.join(scratch, 'conf', 'keycloak.conf'), to.conf, { mode: 0o600 });
    const check = await kc(scratch, to.distribution.javaHome, [
      'check',
      file,
      ...KEYCLOAK_BUILD_OPTIONS,
      '--features=rolling-updates:v2',
    ]);
    return verdictOf(check, options.from, to.version);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
