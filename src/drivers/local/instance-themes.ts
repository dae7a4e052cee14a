import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readTextIfExists } from '../../platform/errno.js';
import { message, type CodedMessage } from '../../platform/messages.js';
import { checkThemeArchive } from '../../themes/theme-archive.js';
import type { ThemeRef } from '../../themes/theme-schemas.js';
import { StepFailure } from '../driver-steps.js';

/**
 * The customer's login themes in an instance's Keycloak home: each unpacked into `themes/<name>/` (Keycloak's
 * folder theme provider finds a new folder there without a restart), marked with the version it holds, so only
 * folders of ours are ever replaced or removed. Keycloak caches a theme once it was used: a replaced or removed
 * theme takes effect with a restart, which the caller does when `restart` says so.
 */

const MARKER = '.keyhouse-theme.json';

/** The themes of ours in a home's themes folder, by the marker each holds. */
export function deployedThemes(home: string): ThemeRef[] {
  const dir = path.join(home, 'themes');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (!entry.isDirectory()) return [];
    const marker = readTextIfExists(path.join(dir, entry.name, MARKER));
    return marker === null ? [] : [JSON.parse(marker) as ThemeRef];
  });
}

/**
 * Whether bringing `home` to `themes` replaces or removes a theme Keycloak may have cached (a new one it finds by
 * itself): then a running Keycloak has to be replaced, beside itself when there is room.
 */
export function themesNeedRestart(home: string, themes: readonly ThemeRef[]): boolean {
  return deployedThemes(home).some(
    (present) => themes.find((theme) => theme.name === present.name)?.version !== present.version,
  );
}

export async function syncThemes(options: {
  home: string;
  themes: readonly ThemeRef[];
  /** The archive of an uploaded version (stored by the control plane). */
  archiveOf: (theme: ThemeRef) => Promise<Buffer | undefined>;
}): Promise<{ notes: CodedMessage[]; restart: boolean }> {
  const dir = path.join(options.home, 'themes');
  mkdirSync(dir, { recursive: true });
  const present = deployedThemes(options.home);
  const notes: CodedMessage[] = [];
  let restart = false;
  for (const theme of options.themes) {
    const current = present.find((p) => p.name === theme.name);
    if (current?.version === theme.version) continue;
    const archive = await options.archiveOf(theme);
    if (!archive)
      throw new StepFailure(
        'permanent',
        message('failure.themeVersionGone', { version: theme.version, theme: theme.name }),
        '',
      );
    // Checked again where it is unpacked: what reaches the disk passed the same rules as the upload.
    const check = checkThemeArchive(archive);
    if (!check.ok || check.theme.name !== theme.name)
      throw new StepFailure(
        'permanent',
        message('failure.themeNotDeployable', { theme: theme.name }),
        check.ok ? `the archive holds ${check.theme.name}` : check.errors.map((e) => e.message).join(' '),
      );
    const staging = path.join(dir, `.${theme.name}.keyhouse-new`);
    rmSync(staging, { recursive: true, force: true });
    for (const file of check.theme.files) {
      const target = path.join(staging, file.path);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, file.bytes);
    }
    writeFileSync(path.join(staging, MARKER), JSON.stringify(theme satisfies ThemeRef));
    const live = path.join(dir, theme.name);
    if (existsSync(live)) {
      const old = path.join(dir, `.${theme.name}.keyhouse-old`);
      rmSync(old, { recursive: true, force: true });
      renameSync(live, old);
      renameSync(staging, live);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(staging, live);
    if (current) restart = true;
    notes.push(
      current
        ? message('step.themeReplaced', { name: theme.name, from: current.version, to: theme.version })
        : message('step.themeAdded', { name: theme.name, version: theme.version }),
    );
  }
  for (const theme of present) {
    if (options.themes.some((t) => t.name === theme.name)) continue;
    rmSync(path.join(dir, theme.name), { recursive: true, force: true });
    restart = true;
    notes.push(message('step.themeRemoved', { name: theme.name }));
  }
  return { notes, restart };
}
