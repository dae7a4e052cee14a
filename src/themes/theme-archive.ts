import { createHash } from 'node:crypto';
import { unzipSync, type UnzipFileInfo } from 'fflate';
import type { FieldError } from '../platform/errors.js';

/**
 * A customer's login theme as uploaded: a zip in Keycloak's theme folder layout (`<name>/<type>/theme.properties`
 * …) or a theme JAR (`META-INF/keycloak-themes.json`, `theme/<name>/<type>/…`). Checked whole before anything is
 * stored or deployed: bounded sizes (also against zip bombs: the sizes the archive declares, then the real ones),
 * no path that leaves the theme's folder, templates and static resources only — no classes, no libraries, no
 * service registrations (code extensions need an isolated Kubernetes pod, not a shared host) — and a name that does
 * not shadow one of Keycloak's own themes.
 */

export const THEME_LIMITS = {
  archiveBytes: 5 * 1024 * 1024,
  unpackedBytes: 20 * 1024 * 1024,
  files: 1000,
  pathLength: 255,
};

/** The theme types Keycloak knows; `common` holds resources the others import. */
export const THEME_TYPES = ['login', 'account', 'admin', 'email', 'welcome', 'common'] as const;
export type ThemeType = (typeof THEME_TYPES)[number];

/** Keycloak's own themes (26.x: base, keycloak, keycloak.v2, keycloak.v3) and everything named like them. */
export function shadowsKeycloakTheme(name: string): boolean {
  return name === 'base' || name === 'rh-sso' || name.startsWith('keycloak');
}

export const THEME_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Code, not a theme: Java classes and archives, native libraries, executables. */
const CODE_FILE = /\.(class|jar|war|ear|so|dll|dylib|jnilib|exe|bin|sh|bat|cmd)$/i;

export type ThemeFile = { path: string; bytes: Uint8Array };

export type ValidTheme = {
  name: string;
  types: ThemeType[];
  /** Paths relative to the theme's folder (`login/theme.properties` …). */
  files: ThemeFile[];
  unpackedBytes: number;
  sha256: string;
};

export type ThemeCheck = { ok: true; theme: ValidTheme } | { ok: false; errors: FieldError[] };

const field = 'archive';
const refuse = (message: string): ThemeCheck => ({ ok: false, errors: [{ path: field, message }] });
const listed = (paths: string[]) =>
  paths.slice(0, 3).join(', ') + (paths.length > 3 ? ` and ${paths.length - 3} more` : '');

/** Why an entry name is unsafe to unpack, or null. */
function unsafePath(name: string): string | null {
  if (name.length > THEME_LIMITS.pathLength) return 'is too long';
  if (name.includes('\\') || name.includes('\0')) return 'has a backslash or NUL';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is absolute';
  if (name.split('/').some((part) => part === '..' || part === '.')) return 'leaves its folder (..)';
  return null;
}

export function checkThemeArchive(archive: Uint8Array): ThemeCheck {
  if (archive.length === 0) return refuse('The archive is empty.');
  if (archive.length > THEME_LIMITS.archiveBytes)
    return refuse(`The archive is larger than ${THEME_LIMITS.archiveBytes / 1024 / 1024} MB.`);

  // First the central directory only (no data inflated): names and the sizes the archive declares.
  const entries: UnzipFileInfo[] = [];
  try {
    unzipSync(archive, {
      filter: (file) => {
        entries.push(file);
        return false;
      },
    });
  } catch (error) {
    return refuse(`This is not a zip or JAR archive (${(error as Error).message}).`);
  }
  const names = entries.map((e) => e.name);
  const unsafe = names.filter((name) => unsafePath(name) !== null);
  if (unsafe.length)
    return refuse(`Paths that leave the theme's folder or are not allowed: ${listed(unsafe)}.`);
  const code = names.filter((name) => CODE_FILE.test(name));
  if (code.length)
    return refuse(
      `Themes hold templates and resources only; classes and libraries are not allowed on a shared host: ${listed(code)}.`,
    );
  const services = names.filter(
    (name) =>
      name.startsWith('META-INF/') &&
      !['META-INF/', 'META-INF/MANIFEST.MF', 'META-INF/keycloak-themes.json'].includes(name),
  );
  if (services.length) return refuse(`Provider registrations are code, not a theme: ${listed(services)}.`);
  const files = entries.filter((e) => !e.name.endsWith('/'));
  if (files.length > THEME_LIMITS.files) return refuse(`More than ${THEME_LIMITS.files} files.`);
  const declared = files.reduce((sum, e) => sum + e.originalSize, 0);
  if (declared > THEME_LIMITS.unpackedBytes)
    return refuse(`Unpacked larger than ${THEME_LIMITS.unpackedBytes / 1024 / 1024} MB.`);

  // The layout: a JAR's theme/<name>/…, or a zip's one top folder <name>/….
  const jar = names.includes('META-INF/keycloak-themes.json');
  const themeFiles = files.filter((e) => !e.name.startsWith('META-INF/'));
  const prefix = jar ? 'theme/' : '';
  const outside = themeFiles.filter(
    (e) => !e.name.startsWith(prefix) || !e.name.slice(prefix.length).includes('/'),
  );
  if (outside.length)
    return refuse(
      jar
        ? `A theme JAR keeps its files under theme/<name>/: ${listed(outside.map((e) => e.name))}.`
        : `A theme zip has one folder named after the theme, e.g. my-theme/login/theme.properties: ${listed(outside.map((e) => e.name))}.`,
    );
  const themeNames = [...new Set(themeFiles.map((e) => e.name.slice(prefix.length).split('/')[0]!))];
  if (themeNames.length !== 1)
    return refuse(
      themeNames.length === 0
        ? 'The archive holds no theme files.'
        : `One theme per archive; this one has ${themeNames.join(', ')}.`,
    );
  const name = themeNames[0]!;
  if (!THEME_NAME_PATTERN.test(name))
    return refuse(
      `The theme name "${name}" must be 1 to 63 lower-case letters, digits, dots, dashes or underscores.`,
    );
  if (shadowsKeycloakTheme(name))
    return refuse(`The theme name "${name}" is Keycloak's own (or looks like it); choose another name.`);
  const root = `${prefix}${name}/`;
  const relative = themeFiles.map((e) => e.name.slice(root.length));
  // Every file sits in a type folder (a file beside them, e.g. my-theme/README.md, is refused too).
  const untyped = relative.filter((p) => !THEME_TYPES.some((type) => p.startsWith(`${type}/`)));
  if (untyped.length)
    return refuse(
      `Theme files belong in a type folder (${THEME_TYPES.join(', ')}): ${listed(untyped.map((p) => root + p))}.`,
    );
  const types = THEME_TYPES.filter((type) => relative.includes(`${type}/theme.properties`));
  if (!types.some((type) => type !== 'common'))
    return refuse(`No theme.properties in a type folder, e.g. ${name}/login/theme.properties.`);

  // Now the data, of the theme's files only; the real sizes must be the declared ones.
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(archive, {
      filter: (file) => file.name.startsWith(root) && !file.name.endsWith('/'),
    });
  } catch (error) {
    return refuse(`The archive is damaged (${(error as Error).message}).`);
  }
  const out: ThemeFile[] = [];
  let unpackedBytes = 0;
  for (const entry of themeFiles) {
    const bytes = unpacked[entry.name];
    if (!bytes || bytes.length !== entry.originalSize)
      return refuse(`The archive is damaged: ${entry.name} is not the size it declares.`);
    unpackedBytes += bytes.length;
    out.push({ path: entry.name.slice(root.length), bytes });
  }
  out.sort((a, b) => a.path.localeCompare(b.path));
  return {
    ok: true,
    theme: {
      name,
      types,
      files: out,
      unpackedBytes,
      sha256: createHash('sha256').update(archive).digest('hex'),
    },
  };
}
