import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HaproxyUnavailableError, parseHaproxyVersion, requireHaproxy } from './haproxy-binary.js';

describe('the HAProxy the edge needs', () => {
  it('finds Debian\u2019s haproxy in PATH and answers its absolute path and version', () => {
    const found = requireHaproxy('haproxy');
    expect(path.isAbsolute(found.path)).toBe(true);
    expect(found.version).toMatch(/^2\.(6|[7-9])|^[3-9]\./);
  });

  it('finds it in /usr/sbin too, which the PATH of ordinary users lacks', () => {
    const found = requireHaproxy('haproxy');
    const withoutSbin = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./src/edge/haproxy-binary.ts').then((m) => console.log(m.requireHaproxy('haproxy').path))",
      ],
      { env: { PATH: path.dirname(process.execPath) + ':/usr/bin:/bin' }, encoding: 'utf8' },
    );
    if (found.path.startsWith('/usr/sbin/')) expect(withoutSbin.stdout.trim()).toBe(found.path);
    else expect(withoutSbin.status).toBe(0);
  });

  it('fails with one sentence that says what to install, when missing or too old', () => {
    expect(() => requireHaproxy('haproxy-that-is-not-installed')).toThrow(HaproxyUnavailableError);
    expect(() => requireHaproxy('haproxy-that-is-not-installed')).toThrow(
      /needs HAProxy 2\.6 or newer, and "haproxy-that-is-not-installed" was not found\. Install Debian's package \(apt-get install haproxy\)/,
    );
    const old = path.join(mkdtempSync(path.join(tmpdir(), 'keyhouse-haproxy-')), 'haproxy');
    writeFileSync(
      old,
      '#!/bin/sh\necho "HAProxy version 2.4.22-0+deb11u1 2023/04/27 - https://haproxy.org/"\n',
    );
    chmodSync(old, 0o755);
    expect(() => requireHaproxy(old)).toThrow(/is version 2\.4\.22\. Install Debian's package/);
    expect(() => requireHaproxy('/nonexistent/haproxy')).toThrow(/"\/nonexistent\/haproxy" was not found/);
    expect(parseHaproxyVersion('HAProxy version 2.6.12-1+deb12u4 2026/10/17')).toBe('2.6.12');
  });
});
