import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHaproxyConfig } from './haproxy-process.js';
import { openLocalCa } from './local-ca.js';
import {
  loadedFingerprint,
  renderHaproxyConfig,
  type EdgeFrontend,
  type EdgeFileLayout,
} from './haproxy-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-haproxy-config-'));
const layout: EdgeFileLayout = {
  masterSocket: path.join(dir, 'master.sock'),
  certificateFile: (hostname) => path.join(dir, 'certs', `${hostname}.pem`),
  trustedSourcesFile: (id) => path.join(dir, 'sources', `${id}.trusted`),
  adminSourcesFile: (id) => path.join(dir, 'sources', `${id}.admin`),
  acmeChallengesMap: path.join(dir, 'acme-challenges.map'),
  httpsRedirectsMap: path.join(dir, 'https-redirects.map'),
};
const options = {
  listenHost: '0.0.0.0',
  rateLimit: { requests: 100, windowSeconds: 10 },
  layout,
  keyhouseVersion: '1.2.3',
};
const frontend = (n: number): EdgeFrontend => ({
  instanceId: `00000000-0000-4000-8000-00000000000${n}`,
  hostname: `kc-${n}.localhost`,
  listenPort: 18000 + n,
  upstreamHost: '127.0.0.1',
  upstreamPort: 19000 + n,
});

describe('the HAProxy configuration rendered from the routes', () => {
  it('renders the same text for the same routes in any order, and another for another release', () => {
    const a = renderHaproxyConfig([frontend(1), frontend(2)], options);
    expect(renderHaproxyConfig([frontend(2), frontend(1)], options)).toEqual(a);
    expect(
      renderHaproxyConfig([frontend(1), frontend(2)], { ...options, keyhouseVersion: '1.2.4' }).fingerprint,
    ).not.toBe(a.fingerprint);
    expect(
      loadedFingerprint(`Name: HAProxy\ndescription: keyhouse-edge 1.2.3 ${a.fingerprint}\nNode: x\n`),
    ).toBe(a.fingerprint);
    expect(loadedFingerprint('Name: HAProxy\n')).toBeUndefined();
  });

  it('refuses before TLS, checks every request, limits the rate and keeps admin paths to admin sources', () => {
    const { text } = renderHaproxyConfig([frontend(1)], options);
    const lines = text.split('\n').map((line) => line.trim());
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix));
    expect(lines).toContain('tcp-request connection reject if !trusted');
    expect(lines).toContain(
      `bind ipv4@0.0.0.0:18001 ssl crt "${layout.certificateFile('kc-1.localhost')}" alpn h2,http/1.1`,
    );
    // Order matters: the source before anything else, then the limit, then the paths, then the headers.
    expect(at('http-request reject if !trusted')).toBeLessThan(at('http-request track-sc0'));
    expect(at('http-request track-sc0')).toBeLessThan(at('http-request return status 429'));
    expect(at('http-request return status 429')).toBeLessThan(at('http-request deny deny_status 403'));
    expect(at('http-request del-header X-Forwarded-For')).toBeLessThan(
      at('http-request set-header X-Forwarded-For'),
    );
    expect(lines).toContain('http-request deny deny_status 403 if !public_path !admin_source');
    expect(text).toContain('hdr Retry-After 10 if { sc_http_req_rate(0) gt 100 }');
  });

  it('binds IPv4 and IPv6 apart for "::" and quotes paths HAProxy would expand', () => {
    const { text } = renderHaproxyConfig([frontend(1)], {
      ...options,
      listenHost: '::',
      layout: { ...layout, certificateFile: () => '/srv/$HOME "x"/c.pem' },
    });
    expect(text).toContain('bind ipv4@0.0.0.0:18001 ssl crt "/srv/\\$HOME \\"x\\"/c.pem"');
    expect(text).toContain('bind ipv6@:::18001 v6only ssl crt');
    expect(() =>
      renderHaproxyConfig([frontend(1)], {
        ...options,
        layout: { ...layout, certificateFile: () => 'a\nb' },
      }),
    ).toThrow(/line breaks/);
  });

  it('serves a custom domain on the port of the instance, its own certificate first (the default without SNI)', () => {
    const { text } = renderHaproxyConfig([{ ...frontend(1), customHostname: 'login.beispiel.de' }], options);
    expect(text).toContain(
      `bind ipv4@0.0.0.0:18001 ssl crt "${layout.certificateFile('kc-1.localhost')}" ` +
        `crt "${layout.certificateFile('login.beispiel.de')}" alpn h2,http/1.1`,
    );
    expect(text.match(/^listen /gm)).toHaveLength(1);
    expect(renderHaproxyConfig([frontend(1)], options).fingerprint).not.toBe(
      renderHaproxyConfig([{ ...frontend(1), customHostname: 'login.beispiel.de' }], options).fingerprint,
    );
  });

  it('has a plain-HTTP listener only with its port: ACME answers from the map, known hosts to https, no server', () => {
    expect(renderHaproxyConfig([frontend(1)], options).text).not.toContain('frontend http');
    const { text } = renderHaproxyConfig([frontend(1)], { ...options, listenHost: '::', httpPort: 80 });
    const http = text.slice(text.indexOf('frontend http'));
    const lines = http.split('\n').map((line) => line.trim());
    const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix));
    expect(lines).toContain('bind ipv4@0.0.0.0:80');
    expect(lines).toContain('bind ipv6@:::80 v6only');
    expect(http).not.toMatch(/\bssl\b/);
    // Nothing on this listener reaches Keycloak: no server, no backend, every request answered by HAProxy.
    expect(http).not.toMatch(/^\s*(server|use_backend|default_backend)\b/m);
    expect(lines).toContain(
      `http-request return status 200 content-type text/plain lf-string "%[var(txn.acme_key),map(${layout.acmeChallengesMap})]" if acme_challenge { var(txn.acme_key),map(${layout.acmeChallengesMap}) -m found }`,
    );
    expect(at('http-request return status 200')).toBeLessThan(at('http-request return status 404'));
    expect(at('http-request return status 404')).toBeLessThan(at('http-request redirect code 301'));
    expect(at('http-request redirect code 301')).toBeLessThan(at('http-request reject'));
    expect(lines.at(-2)).toBe('http-request reject');
    expect(http).toContain(`map(${layout.httpsRedirectsMap})]%[pathq]`);
    expect(renderHaproxyConfig([frontend(1)], { ...options, httpPort: 8080 }).fingerprint).not.toBe(
      renderHaproxyConfig([frontend(1)], { ...options, httpPort: 80 }).fingerprint,
    );
  });

  it('is a configuration HAProxy 2.6 accepts (haproxy -c)', { timeout: 20_000 }, async () => {
    mkdirSync(path.join(dir, 'certs'), { recursive: true });
    mkdirSync(path.join(dir, 'sources'), { recursive: true });
    const custom = { ...frontend(2), upstreamHost: '::1', customHostname: 'login.beispiel.de' };
    const rendered = renderHaproxyConfig([frontend(1), custom], {
      ...options,
      listenHost: '::',
      httpPort: 18080,
    });
    writeFileSync(layout.acmeChallengesMap, 'login.beispiel.de/abc_-1 abc_-1.thumbprint\n');
    writeFileSync(layout.httpsRedirectsMap, 'login.beispiel.de https://login.beispiel.de:18002\n');
    const ca = await openLocalCa(path.join(dir, 'ca'));
    const customCertificate = await ca.issueServerCertificate(custom.customHostname);
    writeFileSync(
      layout.certificateFile(custom.customHostname),
      `${customCertificate.certPem}${customCertificate.keyPem}`,
    );
    for (const f of [frontend(1), frontend(2)]) {
      writeFileSync(layout.trustedSourcesFile(f.instanceId), '192.0.2.0/24\n2001:db8::/48\n');
      writeFileSync(layout.adminSourcesFile(f.instanceId), '');
      const certificate = await ca.issueServerCertificate(f.hostname);
      writeFileSync(layout.certificateFile(f.hostname), `${certificate.certPem}${certificate.keyPem}`);
    }
    const file = path.join(dir, 'haproxy.cfg');
    writeFileSync(file, rendered.text);
    await expect(checkHaproxyConfig('haproxy', file)).resolves.toBeUndefined();
    writeFileSync(file, `${rendered.text}\n  bogus-keyword\n`);
    await expect(checkHaproxyConfig('haproxy', file)).rejects.toThrow(/bogus-keyword/);
  });
});
