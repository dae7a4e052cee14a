import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * A certificate authority for tests of custom-domain certificates: a root, intermediates and server certificates
 * with the names, validity and keys a test asks for (keys from node:crypto, certificates signed by node-forge).
 */
export type TestCertificate = {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.PrivateKey;
};

function rsaKey(): { keyPem: string; key: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { keyPem, key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

export function issueCertificate(options: {
  commonName: string;
  /** DNS names; none for a CA. */
  names?: string[];
  /** IP addresses, e.g. 127.0.0.1 for a server tests reach by address. */
  ips?: string[];
  issuer?: TestCertificate;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}): TestCertificate {
  const { keyPem, key, publicKey } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 90 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(options.issuer ? options.issuer.cert.subject.attributes : cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.ca ?? false, critical: true },
    options.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ...(options.names || options.ips
      ? [
          {
            name: 'subjectAltName',
            altNames: [
              ...(options.names ?? []).map((value) => ({ type: 2, value })),
              ...(options.ips ?? []).map((ip) => ({ type: 7, ip })),
            ],
          },
        ]
      : []),
  ]);
  cert.sign((options.issuer?.key ?? key) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { cert, key, keyPem, certPem: forge.pki.certificateToPem(cert) };
}
