import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import type { ThemeRef } from '../../themes/theme-schemas.js';
import { deployedThemes, syncThemes, themesNeedRestart } from './instance-themes.js';

const archive = (css: string) =>
  Buffer.from(
    zipSync({
      'acme/login/theme.properties': strToU8('parent=keycloak.v2\nstyles=css/login.css\n'),
      'acme/login/resources/css/login.css': strToU8(css),
    }),
  );
const archives: Record<string, Buffer> = {
  'acme@1': archive('a { color: red }'),
  'acme@2': archive('a { color: blue }'),
};
const archiveOf = async (theme: ThemeRef) => archives[`${theme.name}@${theme.version}`];
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe("themes in an instance's Keycloak home", () => {
  it('adds without a restart, replaces and removes with one, and leaves other folders alone', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keyhouse-home-'));
    dirs.push(home);
    mkdirSync(path.join(home, 'themes', 'by-hand'), { recursive: true });
    writeFileSync(path.join(home, 'themes', 'by-hand', 'x'), 'not ours');
    const css = () =>
      readFileSync(path.join(home, 'themes', 'acme', 'login', 'resources', 'css', 'login.css'), 'utf8');

    expect(themesNeedRestart(home, [{ name: 'acme', version: 1 }])).toBe(false);
    expect(await syncThemes({ home, themes: [{ name: 'acme', version: 1 }], archiveOf })).toEqual({
      notes: [{ code: 'step.themeAdded', params: { name: 'acme', version: 1 } }],
      restart: false,
    });
    expect(css()).toBe('a { color: red }');
    expect(deployedThemes(home)).toEqual([{ name: 'acme', version: 1 }]);
    expect((await syncThemes({ home, themes: [{ name: 'acme', version: 1 }], archiveOf })).notes).toEqual([]);

    expect(themesNeedRestart(home, [{ name: 'acme', version: 2 }])).toBe(true);
    expect(themesNeedRestart(home, [])).toBe(true);
    expect(
      themesNeedRestart(home, [
        { name: 'acme', version: 1 },
        { name: 'other', version: 1 },
      ]),
    ).toBe(false);
    const replaced = await syncThemes({ home, themes: [{ name: 'acme', version: 2 }], archiveOf });
    expect(replaced).toEqual({
      notes: [{ code: 'step.themeReplaced', params: { name: 'acme', from: 1, to: 2 } }],
      restart: true,
    });
    expect(css()).toBe('a { color: blue }');

    expect(await syncThemes({ home, themes: [], archiveOf })).toMatchObject({ restart: true });
    expect(existsSync(path.join(home, 'themes', 'acme'))).toBe(false);
    expect(existsSync(path.join(home, 'themes', 'by-hand', 'x'))).toBe(true);
    await expect(syncThemes({ home, themes: [{ name: 'acme', version: 3 }], archiveOf })).rejects.toThrow(
      /Version 3 of the theme acme is gone/,
    );
  });
});
