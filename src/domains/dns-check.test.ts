import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDnsServer, type TestDnsServer } from '../../test/support/dns-server.js';
import { checkDomainDns } from './dns-check.js';

// Against a real DNS server on loopback UDP that the test runs (test/support/dns-server.ts).
let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startTestDnsServer();
  dns.zone.set('kc-1a2b3c4d.keyhouse.test', { A: ['127.0.0.1'] });
  dns.zone.set('login.example.test', { CNAME: 'kc-1a2b3c4d.keyhouse.test' });
  dns.zone.set('example.test', { A: ['127.0.0.1'] });
  dns.zone.set('wrong.example.test', { CNAME: 'elsewhere.example.net' });
  dns.zone.set('old.example.test', { A: ['192.0.2.10'] });
});
afterAll(() => dns?.close());

const check = (hostname: string) =>
  checkDomainDns({ hostname, target: 'kc-1a2b3c4d.keyhouse.test', servers: [dns.address] });

describe('the DNS check of a custom domain', () => {
  it('accepts a CNAME to the instance, and an apex with the same addresses', async () => {
    expect(await check('login.example.test')).toEqual({ ok: true, via: 'cname' });
    expect(await check('example.test')).toEqual({ ok: true, via: 'addresses' });
  });

  it('says what it found otherwise', async () => {
    expect(await check('wrong.example.test')).toEqual({
      ok: false,
      message: 'wrong.example.test is a CNAME to elsewhere.example.net, not to kc-1a2b3c4d.keyhouse.test.',
    });
    expect(await check('old.example.test')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/points to 192\.0\.2\.10/),
    });
    expect(await check('missing.example.test')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^No DNS record/),
    });
  });
});
