import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import acme from 'acme-client';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  obtainCertificate,
  createAcmeAccountKey,
  type Http01Challenges,
} from '../../src/domains/acme-issuer.js';
import { checkCertificate } from '../../src/domains/certificate-check.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { freePort } from '../support/edge-probes.js';
import { issueCertificate } from '../support/test-pki.js';
import { until } from '../support/until.js';

/**
 * ACME for custom domains against Let's Encrypt's own test server, pebble (built from its Go module by
 * scripts/build-pebble.sh into /var/tmp/keyhouse-test-pebble), on loopback, resolving names through a DNS server
 * this test runs. pebble validates HTTP-01 by fetching the token from the domain's address on its `httpPort`: here a
 * plain HTTP server answering from the published challenges, where production has the edge's port 80 (the HAProxy
 * edge of issue 10 routes /.well-known/acme-challenge/ to them; until it is merged this server stands in for it).
 */

const PEBBLE = path.join(
  process.env.KEYHOUSE_TEST_PEBBLE_DIR ?? '/var/tmp/keyhouse-test-pebble',
  'v2.10.3',
  'pebble',
);

let dir: string;
let dns: TestDnsServer;
let pebble: ChildProcess;
let challengeServer: Server;
let directoryUrl: string;
let managementUrl: string;
let pebbleTlsCa: string;
const published = new Map<string, string>();
const challenges: Http01Challenges = {
  publish: async (hostname, token, keyAuthorization) =>
    void published.set(`${hostname}/${token}`, keyAuthorization),
  withdraw: async (hostname, token) => void published.delete(`${hostname}/${token}`),
};

beforeAll(async () => {
  if (!existsSync(PEBBLE))
    throw new Error(`pebble is not built at ${PEBBLE}: run bash scripts/build-pebble.sh (npm test does).`);
  dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-pebble-'));
  dns = await startTestDnsServer();
  const [listenPort, managementPort, httpPort, tlsPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // The challenge answers, where the edge's port 80 will be.
  challengeServer = createServer((request, response) => {
    const match = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(request.url ?? '');
    const host = (request.headers.host ?? '').replace(/:\d+$/, '');
    const answer = match && published.get(`${host}/${match[1]}`);
    if (!answer) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
  });
  challengeServer.listen(httpPort, '127.0.0.1');

  const tlsRoot = issueCertificate({ commonName: 'pebble listener CA', ca: true });
  const tls = issueCertificate({
    commonName: 'pebble',
    names: ['localhost'],
    ips: ['127.0.0.1'],
    issuer: tlsRoot,
  });
  pebbleTlsCa = tlsRoot.certPem;
  writeFileSync(path.join(dir, 'cert.pem'), tls.certPem);
  writeFileSync(path.join(dir, 'key.pem'), tls.keyPem);
  writeFileSync(
    path.join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: path.join(dir, 'cert.pem'),
        privateKey: path.join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  pebble = spawn(PEBBLE, ['-config', path.join(dir, 'pebble.json'), '-dnsserver', dns.address], {
    // No random sleeps before validation, no random nonce rejections: the test waits on conditions, not luck.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
  managementUrl = `https://127.0.0.1:${managementPort}`;
  // acme-client talks through axios: trust the listener's CA for this test's requests.
  acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: pebbleTlsCa });
  const dispatcher = new Agent({ connect: { ca: pebbleTlsCa } });
  await until('pebble to listen', async () => {
    const response = await fetch(directoryUrl, { dispatcher } as RequestInit).catch(() => undefined);
    return response?.ok ? true : undefined;
  });
}, 60_000);

afterAll(async () => {
  pebble?.kill('SIGTERM');
  challengeServer?.close();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ACME certificates for custom domains, against pebble', () => {
  it('gets a certificate by HTTP-01 that the upload check accepts too', { timeout: 120_000 }, async () => {
    dns.zone.set('login.example.test', { A: ['127.0.0.1'] });
    const accountKeyPem = await createAcmeAccountKey();
    const issued = await obtainCertificate({
      directoryUrl,
      accountKeyPem,
      email: 'ops@example.test',
      hostname: 'login.example.test',
      challenges,
      skipOwnCheck: true,
    });
    expect(published.size).toBe(0);
    // pebble's issuing root exists only while it runs: fetch it from its management interface.
    const dispatcher = new Agent({ connect: { ca: pebbleTlsCa } });
    const root = await (await fetch(`${managementUrl}/roots/0`, { dispatcher } as RequestInit)).text();
    const check = checkCertificate({
      hostname: 'login.example.test',
      chainPem: issued.chainPem,
      keyPem: issued.keyPem,
      now: new Date(),
      extraRoots: [root],
    });
    if (!check.ok) throw new Error(JSON.stringify(check.errors));
    expect(check.info.names).toEqual(['login.example.test']);
    expect(check.info.issuer).toMatch(/Pebble/);
  });

  it('fails with the reason when the domain does not point here', { timeout: 120_000 }, async () => {
    const attempt = obtainCertificate({
      directoryUrl,
      accountKeyPem: await createAcmeAccountKey(),
      hostname: 'nowhere.example.test',
      challenges,
      skipOwnCheck: true,
    });
    await expect(attempt).rejects.toThrow(/nowhere\.example\.test/);
    expect(published.size).toBe(0);
  });
});
