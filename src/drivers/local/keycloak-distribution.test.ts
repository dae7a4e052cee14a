import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load-config.js';
import { createLogger } from '../../platform/logger.js';
import {
  checkPrerequisites,
  createKeycloakDistributions,
  DistributionUnavailableError,
  javaMajorFromRelease,
  listJdks,
  selectJava,
  supportedJavaMajors,
} from './keycloak-distribution.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A fake /usr/lib/jvm: each JDK is a bin/java and a release file, which is all the selection reads. */
function jvmDir(jdks: Record<string, string>, aliases: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-jvm-'));
  dirs.push(dir);
  for (const [name, version] of Object.entries(jdks)) {
    mkdirSync(path.join(dir, name, 'bin'), { recursive: true });
    writeFileSync(path.join(dir, name, 'bin', 'java'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(path.join(dir, name, 'release'), `IMPLEMENTOR="Test"\nJAVA_VERSION="${version}"\n`);
  }
  for (const [alias, target] of Object.entries(aliases)) symlinkSync(target, path.join(dir, alias));
  mkdirSync(path.join(dir, 'openjdk-17')); // Debian's docs-only directory: no bin/java
  return dir;
}

describe('Java selection', () => {
  it('reads the major version from a release file', () => {
    expect(javaMajorFromRelease('JAVA_VERSION="17.0.15"\n')).toBe(17);
    expect(javaMajorFromRelease('IMPLEMENTOR="x"\nJAVA_VERSION="25.0.3"')).toBe(25);
    expect(javaMajorFromRelease('JAVA_VERSION="1.8.0_412"')).toBe(8);
    expect(javaMajorFromRelease('JAVA_VERSION="21"')).toBe(21);
    expect(javaMajorFromRelease('nothing')).toBeNull();
  });

  it('knows that Java 25 arrives with Keycloak 26.6', () => {
    expect(supportedJavaMajors('26.5.6')).toEqual([17, 21]);
    expect(supportedJavaMajors('26.6.0')).toEqual([17, 21, 25]);
    expect(supportedJavaMajors('26.7.3')).toEqual([17, 21, 25]);
  });

  it('lists each JDK once, skipping aliases and directories without java', () => {
    const dir = jvmDir(
      { 'java-17-openjdk-amd64': '17.0.15', 'temurin-25-jdk-amd64': '25.0.3' },
      { 'java-1.17.0-openjdk-amd64': 'java-17-openjdk-amd64' },
    );
    expect(listJdks(dir).map((jdk) => [path.basename(jdk.home), jdk.major])).toEqual([
      ['java-17-openjdk-amd64', 17],
      ['temurin-25-jdk-amd64', 25],
    ]);
    expect(listJdks(path.join(dir, 'missing'))).toEqual([]);
  });

  it('picks the newest supported JDK: 25 for 26.7, 17 (with a warning) for 26.5 on this kind of host', () => {
    const jdks = listJdks(jvmDir({ 'java-17': '17.0.15', 'temurin-25': '25.0.3' }));
    const newer = selectJava({ keycloakVersion: '26.7.3', configuredJavaHome: null, jdks });
    expect(newer).toMatchObject({ ok: true, major: 25, warning: null });
    const older = selectJava({ keycloakVersion: '26.5.6', configuredJavaHome: null, jdks });
    expect(older).toMatchObject({ ok: true, major: 17 });
    expect(older.ok && older.warning).toMatch(/deprecates/);
  });

  it('prefers 21 over 17 and never picks an unsupported in-between release', () => {
    const jdks = listJdks(jvmDir({ a: '17.0.1', b: '21.0.4', c: '23.0.1' }));
    expect(selectJava({ keycloakVersion: '26.5.6', configuredJavaHome: null, jdks })).toMatchObject({
      major: 21,
      warning: null,
    });
  });

  it('uses JAVA_HOME when given, warning when Keycloak does not support it', () => {
    const dir = jvmDir({ 'temurin-25': '25.0.3', 'jdk-21': '21.0.4' });
    const choice = selectJava({
      keycloakVersion: '26.5.6',
      configuredJavaHome: path.join(dir, 'temurin-25'),
      jdks: listJdks(dir),
    });
    expect(choice).toMatchObject({ ok: true, major: 25 });
    expect(choice.ok && choice.warning).toMatch(/does not support/);
    expect(
      selectJava({ keycloakVersion: '26.5.6', configuredJavaHome: path.join(dir, 'nope'), jdks: [] }),
    ).toMatchObject({ ok: false, message: expect.stringMatching(/not a JDK/) });
  });

  it('says which Java is needed when none fits', () => {
    const jdks = listJdks(jvmDir({ old: '11.0.2' }));
    expect(selectJava({ keycloakVersion: '26.5.6', configuredJavaHome: null, jdks })).toEqual({
      ok: false,
      message: 'No Java for Keycloak 26.5.6: it needs Java 17, 21.',
    });
  });
});

describe('checkPrerequisites', () => {
  const config = () => loadConfig({ DATA_DIR: mkdtempSync(path.join(tmpdir(), 'keyhouse-prereq-')) });

  it('names everything missing in one message', () => {
    const result = checkPrerequisites(config(), {
      jvmDir: jvmDir({}),
      mavenCommand: '/nonexistent/mvn',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toMatch(/^The local region cannot run Keycloak yet\. Install /);
    expect(result.message).toContain('openjdk-21-jdk-headless');
    expect(result.message).toContain('apt-get install maven');
    expect(result.message).toContain('KEYCLOAK_HOME');
  });

  it('passes with a JDK and Maven, passing on the Java 17 deprecation as a warning', () => {
    const result = checkPrerequisites(config(), {
      jvmDir: jvmDir({ j17: '17.0.15' }),
      mavenCommand: 'true', // any command that runs stands in for a working `mvn -v`
    });
    expect(result).toEqual({ ok: true, warnings: [expect.stringMatching(/Java 17/)] });
  });

  it('does not need Maven when KEYCLOAK_HOME is set', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keyhouse-kchome-'));
    dirs.push(home);
    writeFileSync(path.join(home, 'version.txt'), 'Keycloak - Version 26.5.6\n');
    const cfg = config();
    cfg.keycloak.home = home;
    const result = checkPrerequisites(cfg, {
      jvmDir: jvmDir({ j21: '21.0.4' }),
      mavenCommand: '/nonexistent/mvn',
    });
    expect(result).toEqual({
      ok: true,
      warnings: [
        expect.stringMatching(/KEYCLOAK_HOME holds Keycloak 26\.5\.6; orders for 26\.7\.3 will fail/),
      ],
    });
  });
});

describe('createKeycloakDistributions', () => {
  it('refuses, as a permanent failure, a version that KEYCLOAK_HOME does not hold', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'keyhouse-kchome-'));
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-kccache-'));
    dirs.push(home, cacheDir);
    writeFileSync(path.join(home, 'version.txt'), 'Keycloak - Version 26.5.6\n');
    const config = loadConfig({ DATA_DIR: cacheDir, KEYCLOAK_HOME: home });
    const distributions = createKeycloakDistributions({
      config,
      logger: createLogger({ level: 'silent' }),
      cacheDir,
      jvmDir: jvmDir({ j21: '21.0.4' }),
    });
    await expect(distributions.get('26.7.3')).rejects.toBeInstanceOf(DistributionUnavailableError);
  });
});
