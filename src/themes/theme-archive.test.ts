import { strToU8, zipSync, type Zippable } from 'fflate';
import { describe, expect, it } from 'vitest';
import { checkThemeArchive, THEME_LIMITS } from './theme-archive.js';

const zip = (files: Record<string, string | Uint8Array>) =>
  zipSync(
    Object.fromEntries(
      Object.entries(files).map(([name, content]) => [
        name,
        typeof content === 'string' ? strToU8(content) : content,
      ]),
    ) as Zippable,
  );
const loginTheme = {
  'acme/login/theme.properties': 'parent=keycloak.v2\nstyles=css/login.css\n',
  'acme/login/resources/css/login.css': 'body { background: #0a3; }\n',
  'acme/login/messages/messages_de.properties': 'loginTitle=Willkommen bei ACME\n',
};
const errorOf = (archive: Uint8Array) => {
  const check = checkThemeArchive(archive);
  if (check.ok) throw new Error('accepted');
  expect(check.errors.map((e) => e.path)).toEqual(['archive']);
  return check.errors[0]!.message;
};

describe('a theme archive', () => {
  it('accepts a zip in the theme folder layout', () => {
    const check = checkThemeArchive(zip(loginTheme));
    if (!check.ok) throw new Error(JSON.stringify(check.errors));
    expect(check.theme.name).toBe('acme');
    expect(check.theme.types).toEqual(['login']);
    expect(check.theme.files.map((f) => f.path)).toEqual([
      'login/messages/messages_de.properties',
      'login/resources/css/login.css',
      'login/theme.properties',
    ]);
    expect(check.theme.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a theme JAR', () => {
    const check = checkThemeArchive(
      zip({
        'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\n',
        'META-INF/keycloak-themes.json': '{"themes":[{"name":"acme","types":["login","email"]}]}',
        'theme/acme/login/theme.properties': 'parent=keycloak.v2\n',
        'theme/acme/email/theme.properties': 'parent=base\n',
        'theme/acme/email/html/template.ftl': '<#macro emailLayout><#nested></#macro>',
      }),
    );
    expect(check.ok && check.theme).toMatchObject({ name: 'acme', types: ['login', 'email'] });
  });

  it('refuses classes, libraries and provider registrations', () => {
    expect(errorOf(zip({ ...loginTheme, 'acme/login/Evil.class': new Uint8Array([0xca, 0xfe]) }))).toMatch(
      /classes and libraries are not allowed.*acme\/login\/Evil\.class/,
    );
    expect(errorOf(zip({ ...loginTheme, 'acme/login/lib/x.jar': 'PK' }))).toMatch(/x\.jar/);
    expect(
      errorOf(
        zip({ ...loginTheme, 'META-INF/services/org.keycloak.provider.ProviderFactory': 'com.example.X' }),
      ),
    ).toMatch(/Provider registrations are code/);
  });

  it('refuses paths that leave the folder', () => {
    expect(errorOf(zip({ ...loginTheme, 'acme/login/../../../etc/cron.d/x': 'boom' }))).toMatch(
      /leave the theme's folder.*\.\.\/\.\.\/\.\.\/etc/,
    );
    expect(errorOf(zip({ '/etc/passwd': 'x', ...loginTheme }))).toMatch(/\/etc\/passwd/);
  });

  it("refuses Keycloak's own names, bad names, other layouts and more than one theme", () => {
    const renamed = (name: string) =>
      zip(Object.fromEntries(Object.entries(loginTheme).map(([p, c]) => [p.replace(/^acme/, name), c])));
    expect(errorOf(renamed('keycloak'))).toMatch(/Keycloak's own/);
    expect(errorOf(renamed('keycloak.v2'))).toMatch(/Keycloak's own/);
    expect(errorOf(renamed('base'))).toMatch(/Keycloak's own/);
    expect(errorOf(renamed('Acme Corp'))).toMatch(/lower-case/);
    expect(errorOf(zip({ 'login/theme.properties': 'x' }))).toMatch(
      /type folder|one folder|theme\.properties/,
    );
    expect(errorOf(zip({ ...loginTheme, 'other/login/theme.properties': 'x' }))).toMatch(
      /One theme per archive/,
    );
    expect(errorOf(zip({ ...loginTheme, 'acme/README.md': 'x' }))).toMatch(/type folder/);
    expect(errorOf(zip({ 'acme/login/resources/x.css': 'x' }))).toMatch(/No theme\.properties/);
    expect(errorOf(zip({ ...loginTheme, 'acme/sms/theme.properties': 'x' }))).toMatch(/type folder/);
  });

  it('refuses what is not a zip, empty, too large or a zip bomb', () => {
    expect(errorOf(strToU8('just text'))).toMatch(/not a zip/);
    expect(errorOf(new Uint8Array())).toMatch(/empty/);
    expect(errorOf(new Uint8Array(THEME_LIMITS.archiveBytes + 1))).toMatch(/larger than 5 MB/);
    // 30 MB of zeros compress to a few KB.
    expect(
      errorOf(zip({ ...loginTheme, 'acme/login/resources/zeros.bin': new Uint8Array(30 * 1024 * 1024) })),
    ).toMatch(/classes and libraries|Unpacked larger/);
    expect(
      errorOf(zip({ ...loginTheme, 'acme/login/resources/zeros.css': new Uint8Array(30 * 1024 * 1024) })),
    ).toMatch(/Unpacked larger than 20 MB/);
  });
});
