import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { edgeFiles, ensureCertificate, mapFile, patternFile } from './edge-files.js';
import { openLocalCa } from './local-ca.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe("the edge's files", () => {
  it('writes only what changed, owner-only, and removes what belongs to no route', () => {
    const files = edgeFiles(mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-files-')));
    const trusted = files.trustedSourcesFile('a');
    expect(files.write(trusted, patternFile(['192.0.2.0/24', '2001:db8::/48']))).toBe(true);
    expect(files.read(trusted)).toBe('192.0.2.0/24\n2001:db8::/48\n');
    expect(files.write(trusted, patternFile(['192.0.2.0/24', '2001:db8::/48']))).toBe(false);
    expect(statSync(trusted).mode & 0o777).toBe(0o600);
    files.write(files.adminSourcesFile('b'), patternFile([]));
    files.write(files.certificateFile('kc-b.localhost'), 'x');
    expect(
      files
        .removeAllBut({ instanceIds: ['a'], hostnames: [] })
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual(['b.admin', 'kc-b.localhost.pem']);
    expect(existsSync(trusted)).toBe(true);
  });

  it('keeps the plain-HTTP listener\u2019s maps beside the configuration, which removing old routes leaves alone', () => {
    const files = edgeFiles(mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-files-')));
    const content = mapFile([
      ['login.beispiel.de/tok_en-1', 'tok_en-1.thumb'],
      ['kc-a.localhost', 'https://kc-a.localhost:18001'],
    ]);
    expect(content).toBe(
      'login.beispiel.de/tok_en-1 tok_en-1.thumb\nkc-a.localhost https://kc-a.localhost:18001\n',
    );
    files.write(files.acmeChallengesMap, content);
    files.write(files.httpsRedirectsMap, mapFile([]));
    expect(path.dirname(files.acmeChallengesMap)).toBe(files.directory);
    expect(files.removeAllBut({ instanceIds: [], hostnames: [] })).toEqual([]);
    expect(files.read(files.acmeChallengesMap)).toBe(content);
    expect(files.read(files.httpsRedirectsMap)).toBe('');
  });

  it('refuses a data dir the runtime API could not name', () => {
    expect(() =>
      edgeFiles(path.join(mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-files-')), 'my data')),
    ).toThrow(/DATA_DIR without spaces/);
  });

  it('keeps a valid certificate, renews one near its end, and replaces one of another CA or host name', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-edge-files-'));
    let now = Date.now() - 70 * DAY_MS;
    const clock = () => new Date(now);
    const ca = await openLocalCa(path.join(dir, 'ca'), { now: clock });
    const files = edgeFiles(dir);
    const ensure = (hostname = 'kc-1.localhost', authority = ca) =>
      ensureCertificate({ files, ca: authority, hostname, now: clock(), renewBeforeMs: 30 * DAY_MS });

    const first = await ensure();
    expect(first.renewed).toBe(false);
    expect(files.read(first.certificate.file)).toContain('PRIVATE KEY');
    expect(statSync(first.certificate.file).mode & 0o777).toBe(0o600);
    expect((await ensure()).certificate.serial).toBe(first.certificate.serial);

    now += 61 * DAY_MS; // 29 days left of 90: within the renewal window
    const renewed = await ensure();
    expect(renewed.renewed).toBe(true);
    expect(renewed.certificate.serial).not.toBe(first.certificate.serial);
    expect(renewed.certificate.notAfter.getTime()).toBeGreaterThan(first.certificate.notAfter.getTime());

    const otherCa = await openLocalCa(path.join(dir, 'other-ca'), { now: clock });
    const replaced = await ensure('kc-1.localhost', otherCa);
    expect(replaced.renewed).toBe(true);
    expect(replaced.certificate.serial).not.toBe(renewed.certificate.serial);
  });
});
