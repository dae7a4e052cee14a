import { createPrivateKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ipaddr from 'ipaddr.js';
import forge from 'node-forge';

/**
 * The local certificate authority of the embedded setup: created on first start in <dataDir>/ca (ca.key readable by
 * the owner only, ca.pem public), reused on every later start. Instance certificates are issued from it on demand
 * and cached in memory; the edge asks again on every resync and gets a fresh certificate once the cached one nears
 * its end, so a long-running edge never serves an expired certificate.
 */
export type ServerCertificate = {
  hostname: string;
  keyPem: string;
  certPem: string;
  notAfter: Date;
};

export type LocalCa = {
  /** The CA certificate: what clients add to their trust store, served at GET /api/v1/ca.pem. */
  certificatePem: string;
  issueServerCertificate(hostname: string): Promise<ServerCertificate>;
};

export type LocalCaOptions = {
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date;
  /** Validity of issued certificates. */
  validityDays?: number;
  /** A cached certificate with less than this left is replaced by a new one. */
  renewBeforeDays?: number;
};

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_YEARS = 10;
// Clients with a slightly slow clock would otherwise reject a certificate issued a second ago.
const BACKDATE_MS = 5 * 60 * 1000;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const generateRsaKey = promisify(generateKeyPair);
const generateEcKey = promisify(generateKeyPair);
// Position of subjectPublicKeyInfo in a v3 TBSCertificate: version, serial, signature, issuer, validity, subject.
const TBS_SPKI_INDEX = 6;

async function newRsaKey(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  // Node's keygen runs on the thread pool (forge's pure-JS one would block the event loop for seconds).
  const { publicKey, privateKey } = await generateRsaKey('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

// Present at runtime in node-forge but missing from its type declarations.
const { getTBSCertificate } = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/**
 * Signs with sha256WithRSAEncryption through node:crypto: forge builds the certificate structure, but its pure-JS
 * RSA takes ~150 ms per signature on the event loop, node's native one well under a millisecond. This is what
 * forge's own cert.sign() does, with the signing step swapped.
 */
function signCertificate(
  cert: forge.pki.Certificate,
  key: KeyObject,
  subjectPublicKeyInfoDer?: Buffer,
): void {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.tbsCertificate = getTBSCertificate(cert);
  if (subjectPublicKeyInfoDer) {
    // forge encodes only RSA public keys; an EC key's SubjectPublicKeyInfo (from node, DER) is put in its place.
    // The tbsCertificate cached on `cert` is the one certificateToPem() emits, so both stay in step.
    const spki = forge.asn1.fromDer(subjectPublicKeyInfoDer.toString('binary'));
    (cert.tbsCertificate.value as forge.asn1.Asn1[])[TBS_SPKI_INDEX] = spki;
  }
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, key).toString('binary');
}

/** A positive, non-zero 128-bit serial (DER integers are signed, so the top bit stays clear). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

async function createCa(now: Date): Promise<{ keyPem: string; certPem: string }> {
  const { publicKeyPem, privateKeyPem } = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime());
  cert.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + CA_VALIDITY_YEARS);
  // A random suffix tells the CAs of two installations apart in a trust store.
  const subject = [
    { name: 'commonName', value: `Keyhouse local CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'Keyhouse' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(cert, createPrivateKey(privateKeyPem));
  return { keyPem: privateKeyPem, certPem: forge.pki.certificateToPem(cert) };
}

/**
 * Loads the CA from `directory`, creating it when absent. Creation writes both files into a temporary sibling and
 * renames it into place, so two processes starting at once never end up with a key and a certificate that do not
 * belong together: the loser of the rename discards its own and reads the winner's.
 */
async function loadOrCreateCa(directory: string, now: Date): Promise<{ keyPem: string; certPem: string }> {
  const keyFile = path.join(directory, 'ca.key');
  const certFile = path.join(directory, 'ca.pem');
  const read = () => ({ keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8') });
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const created = await createCa(now);
  mkdirSync(path.dirname(directory), { recursive: true });
  const staging = mkdtempSync(`${directory}.tmp-`);
  try {
    writeFileSync(path.join(staging, 'ca.key'), created.keyPem, { mode: 0o600 });
    writeFileSync(path.join(staging, 'ca.pem'), created.certPem, { mode: 0o644 });
    renameSync(staging, directory);
    return created;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    return read();
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Opens (or on first start creates) the CA in `directory`, e.g. <dataDir>/ca. */
export async function openLocalCa(directory: string, options: LocalCaOptions = {}): Promise<LocalCa> {
  const now = options.now ?? (() => new Date());
  const validityMs = (options.validityDays ?? 90) * DAY_MS;
  const renewBeforeMs = (options.renewBeforeDays ?? 30) * DAY_MS;
  const { keyPem, certPem } = await loadOrCreateCa(directory, now());
  const caKey = createPrivateKey(keyPem);
  const caCert = forge.pki.certificateFromPem(certPem);
  const caPublicKey = caCert.publicKey;
  const caKeyIdentifier = caCert.generateSubjectKeyIdentifier().getBytes();

  const cache = new Map<string, ServerCertificate>();
  // Concurrent first connections to one host name share one issuance.
  const inFlight = new Map<string, Promise<ServerCertificate>>();

  async function issue(hostname: string): Promise<ServerCertificate> {
    // Leaf keys are EC P-256: generated in milliseconds (RSA 2048 takes up to a second on a small machine, which
    // would eat the edge's one-second budget for opening a new route) and smaller handshakes.
    const { publicKey, privateKey } = await generateEcKey('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const issuedAt = now();
    const cert = forge.pki.createCertificate();
    // A stand-in so forge can build the structure; signCertificate swaps in the EC key.
    cert.publicKey = caPublicKey;
    cert.serialNumber = serialNumber();
    cert.validity.notBefore = new Date(issuedAt.getTime() - BACKDATE_MS);
    cert.validity.notAfter = new Date(issuedAt.getTime() + validityMs);
    // The common name is limited to 64 characters; clients match on the SAN anyway.
    cert.setSubject(hostname.length <= 64 ? [{ name: 'commonName', value: hostname }] : []);
    cert.setIssuer(caCert.subject.attributes);
    const isIp = ipaddr.isValid(hostname);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [isIp ? { type: 7, ip: hostname } : { type: 2, value: hostname }] },
      { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier },
    ]);
    signCertificate(cert, caKey, publicKey);
    return {
      hostname,
      keyPem: privateKey,
      certPem: forge.pki.certificateToPem(cert),
      notAfter: cert.validity.notAfter,
    };
  }

  return {
    certificatePem: certPem,
    async issueServerCertificate(rawHostname) {
      const hostname = rawHostname.toLowerCase();
      if (!HOSTNAME.test(hostname) && !ipaddr.isValid(hostname)) {
        throw new Error(
          `Cannot issue a certificate for "${rawHostname}": not a DNS host name or IP address.`,
        );
      }
      const cached = cache.get(hostname);
      if (cached && cached.notAfter.getTime() - now().getTime() > renewBeforeMs) return cached;
      const pending = inFlight.get(hostname);
      if (pending) return pending;
      const issuing = issue(hostname)
        .then((certificate) => {
          cache.set(hostname, certificate);
          return certificate;
        })
        .finally(() => inFlight.delete(hostname));
      inFlight.set(hostname, issuing);
      return issuing;
    },
  };
}
