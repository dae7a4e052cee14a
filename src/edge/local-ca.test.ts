import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLocalCa } from './local-ca.js';

const dirs: string[] = [];
function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-ca-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('openLocalCa', () => {
  it('creates a CA on first start with a private key only its owner can read, and reuses it later', async () => {
    const dir = path.join(scratchDir(), 'ca');
    const first = await openLocalCa(dir);
    expect(statSync(path.join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(first.certificatePem);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toMatch(/CN=Keyhouse local CA [0-9a-f]{8}/);
    const second = await openLocalCa(dir);
    expect(second.certificatePem).toBe(first.certificatePem);
  });

  it('ends with one CA when two processes start at once', async () => {
    const dir = path.join(scratchDir(), 'ca');
    const [a, b] = await Promise.all([openLocalCa(dir), openLocalCa(dir)]);
    const onDisk = await openLocalCa(dir);
    // Each opener got a valid CA; the files hold exactly one of them, key and certificate belonging together.
    expect([a.certificatePem, b.certificatePem]).toContain(onDisk.certificatePem);
    const issued = new X509Certificate((await onDisk.issueServerCertificate('x.localhost')).certPem);
    expect(issued.verify(new X509Certificate(onDisk.certificatePem).publicKey)).toBe(true);
  });

  it('issues a server certificate for the host name that verifies against the CA', async () => {
    const ca = await openLocalCa(path.join(scratchDir(), 'ca'));
    const issued = await ca.issueServerCertificate('kc-0a1b2c3d.localhost');
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(ca.certificatePem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName).toBe('DNS:kc-0a1b2c3d.localhost');
    expect(cert.checkHost('kc-0a1b2c3d.localhost')).toBe('kc-0a1b2c3d.localhost');
    expect(cert.checkHost('other.localhost')).toBeUndefined();
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    // The private key belongs to the certificate.
    expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThanOrEqual(90);
  });

  it('caches per host name, shares concurrent issuance and renews near the end of validity', async () => {
    let clock = Date.now();
    const ca = await openLocalCa(path.join(scratchDir(), 'ca'), { now: () => new Date(clock) });
    const [a, b] = await Promise.all([
      ca.issueServerCertificate('a.test'),
      ca.issueServerCertificate('a.test'),
    ]);
    expect(a).toBe(b);
    expect(await ca.issueServerCertificate('A.TEST')).toBe(a);
    clock += 61 * 86_400_000;
    const renewed = await ca.issueServerCertificate('a.test');
    expect(renewed).not.toBe(a);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(a.notAfter.getTime());
  });

  it('refuses names that are not host names', async () => {
    const ca = await openLocalCa(path.join(scratchDir(), 'ca'));
    await expect(ca.issueServerCertificate('bad name')).rejects.toThrow(/not a DNS host name/);
    const ip = new X509Certificate((await ca.issueServerCertificate('127.0.0.1')).certPem);
    expect(ip.subjectAltName).toBe('IP Address:127.0.0.1');
  });
});
