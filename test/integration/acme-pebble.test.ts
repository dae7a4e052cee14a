import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAcmeCertificates,
  RENEW_BEFORE_DAYS,
  type AcmeCertificates,
} from '../../src/domains/acme-certificates.js';
import { startCertificateJobs } from '../../src/domains/certificate-jobs.js';
import type { CustomDomain } from '../../src/domains/domain-schemas.js';
import { findDomain, markDomainActive } from '../../src/domains/domain-store.js';
import { publishAcmeChallenge } from '../../src/domains/acme-store.js';
import { upsertEdgeRoute } from '../../src/edge/edge-route-store.js';
import { createLogger } from '../../src/platform/logger.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import { signUp, type SignedInUser } from '../support/accounts.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { freePort, startEchoServer, waitFor } from '../support/edge-probes.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { issueCertificate } from '../support/test-pki.js';
import { until } from '../support/until.js';

/**
 * ACME for custom domains against Let's Encrypt's own test server, pebble (built from its Go module by
 * scripts/build-pebble.sh into /var/tmp/keyhouse-test-pebble), on loopback. pebble resolves names through a DNS
 * server this test runs (the customer's CNAME to the instance), and validates HTTP-01 for real (no
 * PEBBLE_VA_ALWAYSVALID) by fetching the token from the domain's address on its `httpPort`: the plain-HTTP listener
 * of the real HAProxy edge, which answers from the challenges Keyhouse published in PostgreSQL. The certificate is
 * then served by the edge on the instance's port, by SNI, and renewed 30 days before its end.
 *
 * Stand-ins, said here: no Keycloak runs (an echo server is the instance's upstream), and the custom-domain change
 * order that serves an obtained certificate is played by the test (`placeCustomDomainOrder`): it does what that
 * order does at the edge (the route gets the custom host name, the domain becomes active) without restarting a
 * Keycloak under the new hostname, which test/integration/custom-domains.test.ts and the e2e tests cover. Renewal
 * is tested by moving Keyhouse's clock (the store queries take `now`) to 29 days before the certificate's end.
 */

const PEBBLE = path.join(
  process.env.KEYHOUSE_TEST_PEBBLE_DIR ?? '/var/tmp/keyhouse-test-pebble',
  'v2.10.3',
  'pebble',
);
const DAY_MS = 86_400_000;
const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });

let dir: string;
let dns: TestDnsServer;
let pebble: ChildProcess;
let keyhouse: TestKeyhouse;
let upstream: Awaited<ReturnType<typeof startEchoServer>>;
let certificates: AcmeCertificates;
let httpPort: number;
let managementUrl: string;
let pebbleTlsCa: string;
let clock = Date.now();
const served: string[] = [];
const instances: { user: SignedInUser; id: string; name: string; listenPort: number }[] = [];

const route = (instance: (typeof instances)[number], customHostname: string | null) =>
  upsertEdgeRoute(
    keyhouse.db,
    {
      instanceId: instance.id,
      hostname: `${instance.name}.localhost`,
      upstreamHost: '127.0.0.1',
      upstreamPort: upstream.port,
      trustedSources: ['127.0.0.0/8'],
      adminSources: ['127.0.0.0/8'],
      customHostname,
    },
    { portRange: keyhouse.config.edge.portRange },
  );

beforeAll(async () => {
  if (!existsSync(PEBBLE))
    throw new Error(`pebble is not built at ${PEBBLE}: run bash scripts/build-pebble.sh (npm test does).`);
  dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-pebble-'));
  dns = await startTestDnsServer();
  const [listenPort, managementPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  httpPort = await freePort();
  const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
  upstream = await startEchoServer();
  keyhouse = await startTestKeyhouse(
    (config) => {
      config.roles = ['api', 'edge'];
      config.edge.listenHost = '127.0.0.1';
      // Ports of its own: the file runs once per database project, and other tests' edges run beside it.
      const base = 20000 + Math.floor(Math.random() * 20000);
      config.edge.portRange = { from: base, to: base + 10 };
      config.edge.httpPort = httpPort;
      config.domains.dnsServers = [dns.address];
      config.domains.acmeDirectoryUrl = directoryUrl;
      config.domains.acmeEmail = 'ops@keyhouse.test';
    },
    { now: () => new Date(clock) },
  );
  certificates = createAcmeCertificates({
    db: keyhouse.db,
    config: keyhouse.config,
    secretBox: createSecretBox({ secretKey: keyhouse.config.secretKey, dataDir: keyhouse.config.dataDir }),
    now: () => new Date(clock),
    logger,
    // Stand-in for the custom-domain order (see above): the edge side of it.
    async placeCustomDomainOrder(domain) {
      const instance = instances.find((i) => i.id === domain.instanceId)!;
      await route(instance, domain.hostname);
      await markDomainActive(keyhouse.db.pool, domain.instanceId, domain.hostname);
      served.push(domain.hostname);
      return { id: `stand-in-${served.length}` };
    },
  });

  const tlsRoot = issueCertificate({ commonName: 'pebble listener CA', ca: true });
  const listener = issueCertificate({
    commonName: 'pebble',
    names: ['localhost'],
    ips: ['127.0.0.1'],
    issuer: tlsRoot,
  });
  pebbleTlsCa = tlsRoot.certPem;
  writeFileSync(path.join(dir, 'cert.pem'), listener.certPem);
  writeFileSync(path.join(dir, 'key.pem'), listener.keyPem);
  writeFileSync(
    path.join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: path.join(dir, 'cert.pem'),
        privateKey: path.join(dir, 'key.pem'),
        // HTTP-01 goes to the edge's plain-HTTP listener.
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  pebble = spawn(PEBBLE, ['-config', path.join(dir, 'pebble.json'), '-dnsserver', dns.address], {
    // No random sleeps before validation, no random nonce rejections: the test waits on conditions, not luck.
    // Validation is real: PEBBLE_VA_ALWAYSVALID is not set (and removed, should the environment have it).
    env: { ...process.env, PEBBLE_VA_ALWAYSVALID: '', PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  managementUrl = `https://127.0.0.1:${managementPort}`;
  // acme-client talks through axios: trust the listener's CA for this process's requests to the directory.
  acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: pebbleTlsCa });
  const dispatcher = new Agent({ connect: { ca: pebbleTlsCa } });
  await until('pebble to listen', async () => {
    const response = await fetch(directoryUrl, { dispatcher } as RequestInit).catch(() => undefined);
    return response?.ok ? true : undefined;
  });

  for (let i = 0; i < 2; i++) {
    const user = await signUp(keyhouse);
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: user.sessionHeaders,
      payload: exampleOrder(keyhouse.config),
    });
    const id = placed.json<{ instanceId: string }>().instanceId;
    const instance = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${id}`,
      headers: user.sessionHeaders,
    });
    const name = instance.json<{ name: string }>().name;
    const entry = { user, id, name, listenPort: 0 };
    entry.listenPort = (await route(entry, null)).listenPort;
    dns.zone.set(`${name}.localhost`, { A: ['127.0.0.1'] });
    instances.push(entry);
  }
  await keyhouse.edge!.resync();
}, 120_000);

afterAll(async () => {
  pebble?.kill('SIGTERM');
  await keyhouse?.stop();
  await upstream?.close();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A plain-HTTP request to the edge's listener as `host`; a connection closed without an answer is `closed`. */
function plainHttp(host: string, requestPath: string) {
  return new Promise<{ status: number; location?: string; body: string } | 'closed'>((resolve, reject) => {
    const request = http.get(
      { host: '127.0.0.1', port: httpPort, path: requestPath, headers: { host }, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, location: response.headers.location, body }),
        );
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || /socket hang up/.test(error.message) ? resolve('closed') : reject(error),
    );
  });
}

/** The certificate the edge presents for `servername` on the instance's port, verified against pebble's root. */
function presented(port: number, servername: string, root: string) {
  return new Promise<{ serial: string; issuer: string; authorized: boolean }>((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, servername, ca: root, rejectUnauthorized: false },
      () => {
        const peer = socket.getPeerCertificate(true);
        resolve({
          serial: peer.serialNumber.toUpperCase(),
          issuer: String(peer.issuer?.CN ?? ''),
          authorized: socket.authorized,
        });
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

const pebbleRoot = async () => {
  const dispatcher = new Agent({ connect: { ca: pebbleTlsCa } });
  return (await fetch(`${managementUrl}/roots/0`, { dispatcher } as RequestInit)).text();
};
const domainOf = async (instance: (typeof instances)[number]) =>
  (
    await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instance.id}/domain`,
      headers: instance.user.sessionHeaders,
    })
  ).json<CustomDomain>();
async function addAcmeDomain(instance: (typeof instances)[number], hostname: string) {
  const put = await keyhouse.request({
    method: 'PUT',
    url: `/api/v1/instances/${instance.id}/domain`,
    headers: instance.user.sessionHeaders,
    payload: { hostname, certificate: { source: 'acme' } },
  });
  expect(put.statusCode).toBe(200);
  dns.zone.set(hostname, { CNAME: `${instance.name}.localhost` });
  const check = await keyhouse.request({
    method: 'POST',
    url: `/api/v1/instances/${instance.id}/domain/check`,
    headers: instance.user.sessionHeaders,
    payload: {},
  });
  expect(check.json<CustomDomain>()).toMatchObject({ status: 'dns-verified', certificate: null });
}
const count = async (table: string) =>
  Number((await keyhouse.db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

describe('the edge\u2019s plain-HTTP listener', () => {
  it('sends known host names to https, answers no unknown challenge and closes everything else', async () => {
    const [instance] = instances;
    expect(keyhouse.edge!.status().httpListener).toEqual({ port: httpPort, state: 'serving', error: null });
    expect(await plainHttp(`${instance!.name}.localhost`, '/realms/x?y=1')).toMatchObject({
      status: 301,
      location: `https://${instance!.name}.localhost:${instance!.listenPort}/realms/x?y=1`,
    });
    expect(
      await plainHttp(`${instance!.name}.localhost`, '/.well-known/acme-challenge/unknown'),
    ).toMatchObject({
      status: 404,
    });
    expect(await plainHttp('elsewhere.example.test', '/')).toBe('closed');
    // Nothing on port 80 reaches Keycloak: HAProxy answers itself (the upstream echoes requests as JSON).
    const admin = await plainHttp(`${instance!.name}.localhost`, '/admin/master/console/');
    expect(admin).toMatchObject({ status: 301 });
    expect(admin !== 'closed' && admin.body).not.toContain('"method"');
  });
});

describe('ACME certificates for custom domains, against pebble through the edge', () => {
  it(
    'obtains one by HTTP-01 through the edge and serves it by SNI, with pebble\u2019s chain',
    { timeout: 120_000 },
    async () => {
      const instance = instances[0]!;
      // The way a worker gets there: the DNS check (API) queues the job, the worker's job runs the attempt.
      const jobs = await startCertificateJobs({
        databaseUrl: keyhouse.databaseUrl,
        logger,
        certificates,
        schedule: false,
      });
      try {
        await addAcmeDomain(instance, 'login.acme.test');
        await until('the job to obtain the certificate and serve the domain', async () =>
          (await findDomain(keyhouse.db.pool, instance.id))?.status === 'active' ? true : undefined,
        );
      } finally {
        // The other tests drive the attempts themselves.
        await jobs.stop();
      }
      expect(served).toEqual(['login.acme.test']);
      expect(await count('acme_challenges')).toBe(0);
      expect(await count('acme_accounts')).toBe(1);
      const sealed = (
        await keyhouse.db.pool.query<{ k: string }>('SELECT sealed_account_key AS k FROM acme_accounts')
      ).rows[0]!.k;
      expect(sealed).not.toContain('PRIVATE KEY');
      // Its URL at the directory is kept: later orders (renewals, other domains) skip registration.
      const { rows: accounts } = await keyhouse.db.pool.query<{ url: string | null }>(
        'SELECT account_url AS url FROM acme_accounts',
      );
      expect(accounts[0]!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/my-account\//);

      const domain = await domainOf(instance);
      expect(domain).toMatchObject({ status: 'active', source: 'acme', message: null, messageCode: null });
      expect(domain.certificate).toMatchObject({ names: ['login.acme.test'], expiresSoon: false });
      expect(domain.certificate!.issuer).toMatch(/Pebble Intermediate/);

      const root = await pebbleRoot();
      const certificate = await until('the edge to serve the ACME certificate', async () => {
        const seen = await presented(instance.listenPort, 'login.acme.test', root);
        return seen.issuer.startsWith('Pebble Intermediate') ? seen : undefined;
      });
      // Verified against pebble's root through the intermediate the edge sends along.
      expect(certificate.authorized).toBe(true);
      const stored = new X509Certificate(await servedPem(instance));
      expect(stored.fingerprint256).toBe(domain.certificate!.fingerprintSha256);
      expect(certificate.serial).toBe(stored.serialNumber.toUpperCase());
      // The instance's own name keeps its own certificate.
      expect((await presented(instance.listenPort, `${instance.name}.localhost`, root)).issuer).not.toMatch(
        /Pebble/,
      );
      expect(await plainHttp('login.acme.test', '/realms/a')).toMatchObject({
        status: 301,
        location: `https://login.acme.test:${instance.listenPort}/realms/a`,
      });
    },
  );

  it(
    'renews it 30 days before its end, served at once, with the same account',
    { timeout: 120_000 },
    async () => {
      const instance = instances[0]!;
      const before = (await domainOf(instance)).certificate!;
      expect((await certificates.plan()).due).not.toContain(instance.id);
      // The clock of the store queries (and of the sessions: the API is asked again once it is back).
      clock = Date.parse(before.notAfter) - (RENEW_BEFORE_DAYS - 1) * DAY_MS;
      try {
        expect((await certificates.plan()).due).toContain(instance.id);
        expect((await findDomain(keyhouse.db.pool, instance.id))!.certificate!.expiresSoon).toBe(true);
        expect(await certificates.attempt(instance.id)).toEqual({
          outcome: 'issued',
          renewal: true,
          orderId: null,
        });
      } finally {
        clock = Date.now();
      }
      const after = await domainOf(instance);
      expect(after.status).toBe('active');
      expect(after.certificate!.fingerprintSha256).not.toBe(before.fingerprintSha256);
      expect(await count('acme_accounts')).toBe(1);
      expect(served).toEqual(['login.acme.test']);
      const root = await pebbleRoot();
      const renewedSerial = new X509Certificate(await servedPem(instance)).serialNumber.toUpperCase();
      await until('the edge to swap the renewed certificate in', async () =>
        (await presented(instance.listenPort, 'login.acme.test', root)).serial === renewedSerial
          ? true
          : undefined,
      );
      expect((await certificates.plan()).due).not.toContain(instance.id);
    },
  );

  it(
    'records a failure with its reason and back-off, and an attempt killed mid-way is retried after its lease',
    { timeout: 120_000 },
    async () => {
      const instance = instances[1]!;
      await addAcmeDomain(instance, 'gone.acme.test');
      // The customer removes the record after the check: pebble finds no address for the name.
      dns.zone.delete('gone.acme.test');
      const failed = await certificates.attempt(instance.id);
      expect(failed).toMatchObject({ outcome: 'failed', message: expect.stringMatching(/gone\.acme\.test/) });
      const domain = await domainOf(instance);
      expect(domain).toMatchObject({ status: 'failed', messageCode: 'domain.acmeFailed', certificate: null });
      expect(domain.message).toMatch(/could not be obtained/);
      expect(domain.messageParams).toMatchObject({ retryAt: (failed as { retryAt: string }).retryAt });
      expect(await count('acme_challenges')).toBe(0);
      // Back-off: not due again before its time.
      expect(await certificates.attempt(instance.id)).toEqual({ outcome: 'not-due' });
      expect((await certificates.plan()).due).not.toContain(instance.id);

      // How soon the edge answers a challenge once it is committed (what the attempt waits for before it asks the
      // directory to validate).
      await publishAcmeChallenge(keyhouse.db.pool, instance.id, {
        hostname: 'gone.acme.test',
        token: 'measured',
        keyAuthorization: 'measured.thumbprint',
      });
      const answeredMs = await waitFor(
        async () => {
          const answer = await plainHttp('gone.acme.test', '/.well-known/acme-challenge/measured');
          return answer !== 'closed' && answer.status === 200 && answer.body === 'measured.thumbprint';
        },
        5_000,
        'the edge to answer a published challenge',
      );
      console.log(
        `acme-pebble: a published challenge was answered by the edge ${Math.round(answeredMs)} ms after its commit`,
      );

      // A worker killed (SIGKILL) in the middle of the next attempt, its challenge published: nothing is due while
      // its lease lasts; after it, the next attempt starts over and serves exactly one certificate.
      dns.zone.set('gone.acme.test', { CNAME: `${instance.name}.localhost` });
      clock = Date.parse((failed as { retryAt: string }).retryAt) + 1000;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'test/support/acme-attempt-process.ts',
          JSON.stringify({
            databaseUrl: keyhouse.databaseUrl,
            dataDir: keyhouse.config.dataDir,
            directoryUrl: keyhouse.config.domains.acmeDirectoryUrl,
            directoryCaPem: pebbleTlsCa,
            listenHost: keyhouse.config.edge.listenHost,
            httpPort,
            instanceId: instance.id,
            clockOffsetMs: clock - Date.now(),
          }),
        ],
        { cwd: packageRoot, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let finished = '';
      child.stdout!.on('data', (chunk: Buffer) => (finished += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_c, s) => resolve(s)),
      );
      const leftBehind = async () =>
        (
          await keyhouse.db.pool.query<{ token: string; key_authorization: string }>(
            `SELECT token, key_authorization FROM acme_challenges WHERE hostname = $1 AND token <> 'measured'`,
            ['gone.acme.test'],
          )
        ).rows[0];
      let gone = false;
      void exited.then(() => (gone = true));
      await waitFor(
        async () => gone || (await leftBehind()) !== undefined,
        60_000,
        'the worker to publish its challenge',
      );
      if (gone) throw new Error(`The worker ended before it could be killed: ${finished}`);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(finished).toBe('');
      const challenge = (await leftBehind())!;
      const { rows: lease } = await keyhouse.db.pool.query<{ leased: boolean; pem: string | null }>(
        `SELECT acme_next_attempt_at > $2 AS leased, certificate_chain_pem AS pem
           FROM custom_domains WHERE instance_id = $1`,
        [instance.id, new Date(clock)],
      );
      expect(lease[0]).toEqual({ leased: true, pem: null });
      // The edge answers what the dead worker published until the planner removes it.
      await waitFor(
        async () => {
          const answer = await plainHttp('gone.acme.test', `/.well-known/acme-challenge/${challenge.token}`);
          return answer !== 'closed' && answer.body === challenge.key_authorization;
        },
        5_000,
        'the edge to answer the dead worker\u2019s challenge',
      );
      const challengePath = `/.well-known/acme-challenge/${challenge.token}`;
      expect(await certificates.attempt(instance.id)).toEqual({ outcome: 'not-due' });
      clock += 25 * 60_000;
      // The stale challenge goes with the planner's pass (the edge stops answering it).
      expect((await certificates.plan()).due).toContain(instance.id);
      expect(await count('acme_challenges')).toBe(0);
      await waitFor(
        async () => {
          const answer = await plainHttp('gone.acme.test', challengePath);
          return answer !== 'closed' && answer.status === 404;
        },
        5_000,
        'the edge to forget a withdrawn challenge',
      );
      expect(await certificates.attempt(instance.id)).toMatchObject({ outcome: 'issued', renewal: false });
      clock = Date.now();
      expect(await domainOf(instance)).toMatchObject({ status: 'active', messageCode: null });
      expect(served).toEqual(['login.acme.test', 'gone.acme.test']);
    },
  );
});

/** The certificate (first PEM block) in the domain's row. */
async function servedPem(instance: (typeof instances)[number]): Promise<string> {
  const { rows } = await keyhouse.db.pool.query<{ pem: string }>(
    'SELECT certificate_chain_pem AS pem FROM custom_domains WHERE instance_id = $1',
    [instance.id],
  );
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(rows[0]!.pem)![0];
}
