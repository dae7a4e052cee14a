import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomDomain } from '../../src/domains/domain-schemas.js';
import { signUp, type SignedInUser } from '../support/accounts.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { issueCertificate, type TestCertificate } from '../support/test-pki.js';

// The custom-domain API on a real database, with a real DNS server on loopback: uploaded certificates checked
// before anything is stored, one owner per host name across customers (also under concurrency), the DNS check,
// removal. Serving the domain at the edge through a real Keycloak: test/e2e/custom-domain.test.ts.

let keyhouse: TestKeyhouse;
let dns: TestDnsServer;
let dir: string;
let root: TestCertificate;
let intermediate: TestCertificate;
let leaf: TestCertificate;
const owners: { user: SignedInUser; instanceId: string; name: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-domains-'));
  root = issueCertificate({ commonName: 'Beispiel Root', ca: true });
  intermediate = issueCertificate({ commonName: 'Beispiel Intermediate', ca: true, issuer: root });
  leaf = issueCertificate({
    commonName: 'login.beispiel.test',
    names: ['login.beispiel.test'],
    issuer: intermediate,
  });
  writeFileSync(path.join(dir, 'roots.pem'), root.certPem);
  dns = await startTestDnsServer();
  keyhouse = await startTestKeyhouse((config) => {
    config.domains.dnsServers = [dns.address];
    config.domains.extraRootsFile = path.join(dir, 'roots.pem');
  });
  for (let i = 0; i < 2; i++) {
    const user = await signUp(keyhouse);
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: user.sessionHeaders,
      payload: exampleOrder(keyhouse.config),
    });
    const instanceId = placed.json<{ instanceId: string }>().instanceId;
    const instance = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}`,
      headers: user.sessionHeaders,
    });
    owners.push({ user, instanceId, name: instance.json<{ name: string }>().name });
  }
});
afterAll(async () => {
  await keyhouse?.stop();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const put = (owner: (typeof owners)[number], body: object) =>
  keyhouse.request({
    method: 'PUT',
    url: `/api/v1/instances/${owner.instanceId}/domain`,
    headers: owner.user.sessionHeaders,
    payload: body,
  });
const upload = (hostname: string, chain = leaf.certPem + intermediate.certPem, key = leaf.keyPem) => ({
  hostname,
  certificate: { source: 'upload', certificateChainPem: chain, privateKeyPem: key },
});
const fieldErrors = (response: { json: <T>() => T }) =>
  response.json<{ errors: { path: string; message: string }[] }>().errors;

describe('custom domains', () => {
  it('refuses a certificate that does not match, misses its chain or covers another name, as field errors', async () => {
    const [a] = owners;
    const other = issueCertificate({ commonName: 'x', names: ['other.beispiel.test'], issuer: intermediate });
    let answer = await put(
      a!,
      upload('login.beispiel.test', leaf.certPem + intermediate.certPem, other.keyPem),
    );
    expect(answer.statusCode).toBe(400);
    expect(fieldErrors(answer)).toEqual([
      { path: 'certificate.privateKeyPem', message: 'The private key does not match the certificate.' },
    ]);
    answer = await put(a!, upload('login.beispiel.test', leaf.certPem));
    expect(fieldErrors(answer)[0]).toMatchObject({
      path: 'certificate.certificateChainPem',
      message: expect.stringMatching(/incomplete/),
    });
    answer = await put(a!, upload('www.beispiel.test'));
    expect(fieldErrors(answer)[0]!.message).toMatch(/does not cover www\.beispiel\.test/);
    answer = await put(a!, upload(`x.${keyhouse.config.edge.publicHost}`));
    expect(fieldErrors(answer)[0]!.path).toBe('hostname');
    answer = await put(a!, { hostname: 'not a host', certificate: { source: 'acme' } });
    expect(fieldErrors(answer)[0]!.path).toBe('hostname');
    expect((await keyhouse.db.pool.query('SELECT 1 FROM custom_domains')).rowCount).toBe(0);
  });

  it('sets the domain, shows the CNAME, and refuses the name to another customer', async () => {
    const [a, b] = owners;
    const set = await put(a!, upload('Login.Beispiel.test'));
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json<CustomDomain>()).toMatchObject({
      hostname: 'login.beispiel.test',
      cnameTarget: `${a!.name}.${keyhouse.config.edge.publicHost}`,
      source: 'upload',
      status: 'pending-dns',
      certificate: { names: ['login.beispiel.test'], expiresSoon: false },
    });
    const taken = await put(b!, upload('login.beispiel.test'));
    expect(taken.statusCode).toBe(400);
    expect(fieldErrors(taken)).toEqual([
      { path: 'hostname', message: 'login.beispiel.test is already in use.' },
    ]);
    const foreign = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${a!.instanceId}/domain`,
      headers: b!.user.sessionHeaders,
    });
    expect(foreign.statusCode).toBe(404);
    // The key is stored sealed, never as PEM.
    const stored = await keyhouse.db.pool.query<{ sealed_private_key: string }>(
      'SELECT sealed_private_key FROM custom_domains',
    );
    expect(stored.rows[0]!.sealed_private_key).not.toContain('PRIVATE KEY');
  });

  it('checks DNS: pending until the CNAME points at the instance', async () => {
    const [a] = owners;
    const check = () =>
      keyhouse.request({
        method: 'POST',
        url: `/api/v1/instances/${a!.instanceId}/domain/check`,
        headers: a!.user.sessionHeaders,
      });
    let domain = (await check()).json<CustomDomain>();
    expect(domain).toMatchObject({
      status: 'pending-dns',
      message: expect.stringMatching(/^No DNS record for login\.beispiel\.test/),
    });
    dns.zone.set(domain.cnameTarget, { A: ['127.0.0.1'] });
    dns.zone.set('login.beispiel.test', { CNAME: domain.cnameTarget });
    domain = (await check()).json<CustomDomain>();
    // Verified; the instance's create order has not run (no worker here), so no custom-domain order yet.
    expect(domain).toMatchObject({
      status: 'dns-verified',
      message: expect.stringMatching(/^DNS points at the instance\. .*Then check again/),
    });
    expect(domain.orderId).toBeUndefined();
    expect(domain.dnsCheckedAt).not.toBeNull();
  });

  it('removes the domain; the name is free for others then', async () => {
    const [a, b] = owners;
    const removed = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/instances/${a!.instanceId}/domain`,
      headers: a!.user.sessionHeaders,
    });
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toEqual({ orderId: null });
    const gone = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/instances/${a!.instanceId}/domain`,
      headers: a!.user.sessionHeaders,
    });
    expect(gone.statusCode).toBe(404);
    expect((await put(b!, upload('login.beispiel.test'))).statusCode).toBe(200);
  });

  it('gives a contested name to exactly one instance under concurrency', async () => {
    const second = issueCertificate({
      commonName: 'sso.beispiel.test',
      names: ['sso.beispiel.test'],
      issuer: intermediate,
    });
    const body = upload('sso.beispiel.test', second.certPem + intermediate.certPem, second.keyPem);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => put(owners[i % 2]!, body)));
    const winners = new Set(
      answers.flatMap((answer, i) => (answer.statusCode === 200 ? [owners[i % 2]!.instanceId] : [])),
    );
    expect(winners.size).toBe(1);
    expect(answers.every((a) => a.statusCode === 200 || a.statusCode === 400)).toBe(true);
    const rows = await keyhouse.db.pool.query('SELECT instance_id FROM custom_domains WHERE hostname = $1', [
      'sso.beispiel.test',
    ]);
    expect(rows.rows).toEqual([{ instance_id: [...winners][0] }]);
  });

  it('while Keycloak answers as a domain: refuses another name at hostname, takes a new certificate for it', async () => {
    const [a] = owners;
    const served = (n: number) =>
      issueCertificate({ commonName: `served-${n}`, names: ['served.beispiel.test'], issuer: intermediate });
    const first = served(1);
    expect(
      (await put(a!, upload('served.beispiel.test', first.certPem + intermediate.certPem, first.keyPem)))
        .statusCode,
    ).toBe(200);
    // What a DONE custom-domain order leaves (the order itself runs with a real Keycloak in test/e2e).
    await keyhouse.db.pool.query(
      `UPDATE instances SET spec = spec || '{"customHostname": "served.beispiel.test"}'::jsonb WHERE id = $1`,
      [a!.instanceId],
    );
    await keyhouse.db.pool.query(`UPDATE custom_domains SET status = 'active' WHERE instance_id = $1`, [
      a!.instanceId,
    ]);
    const other = await put(a!, upload('login.beispiel.test'));
    expect(other.statusCode).toBe(400);
    expect(fieldErrors(other)).toEqual([
      {
        path: 'hostname',
        message:
          'Keycloak answers as served.beispiel.test; remove that domain first, then add login.beispiel.test.',
      },
    ]);
    const second = served(2);
    const renewed = await put(
      a!,
      upload('served.beispiel.test', second.certPem + intermediate.certPem, second.keyPem),
    );
    expect(renewed.statusCode).toBe(200);
    expect(renewed.json<CustomDomain>()).toMatchObject({
      status: 'active',
      certificate: { subject: expect.stringContaining('served-2') },
    });
  });
});
