import { beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, type TestCertificate } from '../../test/support/test-pki.js';
import { checkCertificate } from './certificate-check.js';

const now = new Date();
const DAY = 86_400_000;
let root: TestCertificate;
let intermediate: TestCertificate;
let leaf: TestCertificate;
let otherKey: TestCertificate;

beforeAll(() => {
  root = issueCertificate({ commonName: 'Test Root', ca: true, notAfter: new Date(Date.now() + 3650 * DAY) });
  intermediate = issueCertificate({ commonName: 'Test Intermediate', ca: true, issuer: root });
  leaf = issueCertificate({
    commonName: 'login.example.com',
    names: ['login.example.com'],
    issuer: intermediate,
  });
  otherKey = issueCertificate({ commonName: 'other', names: ['other.example.com'], issuer: intermediate });
});

const check = (chainPem: string, keyPem = leaf.keyPem, hostname = 'login.example.com') =>
  checkCertificate({ hostname, chainPem, keyPem, now, extraRoots: [root.certPem] });
const messages = (result: ReturnType<typeof check>) =>
  result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);

describe('an uploaded certificate for a custom domain', () => {
  it('is accepted with its chain, key and name, and described', () => {
    const result = check(leaf.certPem + intermediate.certPem);
    if (!result.ok) throw new Error(messages(result).join('\n'));
    expect(result.info).toMatchObject({ names: ['login.example.com'], expiresSoon: false });
    expect(result.info.issuer).toContain('Test Intermediate');
  });

  it('is refused when the key belongs to another certificate', () => {
    expect(messages(check(leaf.certPem + intermediate.certPem, otherKey.keyPem))).toEqual([
      'certificate.privateKeyPem: The private key does not match the certificate.',
    ]);
  });

  it('is refused when an intermediate is missing, or the chain is out of order', () => {
    expect(messages(check(leaf.certPem))).toEqual([
      expect.stringMatching(
        /^certificate\.certificateChainPem: The chain is incomplete: "CN=Test Intermediate"/,
      ),
    ]);
    expect(messages(check(intermediate.certPem + leaf.certPem))).toContainEqual(
      expect.stringMatching(/out of order/),
    );
  });

  it('is refused when it does not cover the domain, has expired or is not a certificate', () => {
    expect(messages(check(leaf.certPem + intermediate.certPem, leaf.keyPem, 'www.example.com'))).toEqual([
      'certificate.certificateChainPem: The certificate does not cover www.example.com; it is for login.example.com.',
    ]);
    const expired = issueCertificate({
      commonName: 'login.example.com',
      names: ['login.example.com'],
      issuer: intermediate,
      notBefore: new Date(Date.now() - 100 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    expect(messages(check(expired.certPem + intermediate.certPem, expired.keyPem))).toEqual([
      expect.stringMatching(/expired on/),
    ]);
    expect(messages(check('hello'))).toEqual([expect.stringMatching(/No certificate/)]);
    expect(messages(check(leaf.certPem + intermediate.certPem, 'not a key'))).toEqual([
      expect.stringMatching(/^certificate\.privateKeyPem: The private key cannot be read/),
    ]);
  });

  it('warns within 30 days of expiry', () => {
    const soon = issueCertificate({
      commonName: 'login.example.com',
      names: ['*.example.com'],
      issuer: intermediate,
      notAfter: new Date(Date.now() + 10 * DAY),
    });
    const result = check(soon.certPem + intermediate.certPem, soon.keyPem);
    expect(result.ok && result.info.expiresSoon).toBe(true);
  });
});
