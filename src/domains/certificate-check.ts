import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { FieldError } from '../platform/errors.js';
import type { CertificateInfo } from './domain-schemas.js';

/**
 * An uploaded certificate for a custom domain, checked before anything is stored: the key matches the first
 * certificate, the chain is complete (each certificate issued and signed by the next, the last one by a trusted
 * root), a name of the certificate covers the domain, and it is valid now. Within 30 days of expiry it is
 * accepted with `expiresSoon` (the portal warns, the renewal of ACME certificates starts).
 */

export const EXPIRY_WARNING_DAYS = 30;
const DAY = 86_400_000;

const CHAIN = 'certificate.certificateChainPem';
const KEY = 'certificate.privateKeyPem';

export type CertificateCheck =
  { ok: true; info: CertificateInfo; chainPem: string; keyPem: string } | { ok: false; errors: FieldError[] };

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The names a certificate answers to (its DNS subject alternative names). */
export function certificateNames(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

export function certificateInfo(certificate: X509Certificate, now: Date): CertificateInfo {
  const notAfter = new Date(certificate.validTo);
  return {
    subject: (certificate.subject ?? '').replace(/\n/g, ', '),
    issuer: (certificate.issuer ?? '').replace(/\n/g, ', '),
    names: certificateNames(certificate),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    fingerprintSha256: certificate.fingerprint256,
    expiresSoon: notAfter.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * DAY,
  };
}

export function checkCertificate(options: {
  hostname: string;
  chainPem: string;
  keyPem: string;
  now: Date;
  /** Roots besides Node's bundled Mozilla roots (a provider's internal CA; the tests' CA). */
  extraRoots?: readonly string[];
}): CertificateCheck {
  const errors: FieldError[] = [];
  const blocks = options.chainPem.match(PEM_BLOCK) ?? [];
  let chain: X509Certificate[];
  try {
    chain = blocks.map((block) => new X509Certificate(block));
  } catch (error) {
    return {
      ok: false,
      errors: [{ path: CHAIN, message: `A certificate cannot be read: ${(error as Error).message}` }],
    };
  }
  if (chain.length === 0)
    return {
      ok: false,
      errors: [{ path: CHAIN, message: 'No certificate (-----BEGIN CERTIFICATE-----) found.' }],
    };
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(options.keyPem);
  } catch (error) {
    errors.push({
      path: KEY,
      message: `The private key cannot be read (unencrypted PEM): ${(error as Error).message}`,
    });
  }
  const leaf = chain[0]!;
  if (key && !leaf.checkPrivateKey(key))
    errors.push({ path: KEY, message: 'The private key does not match the certificate.' });

  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      errors.push({
        path: CHAIN,
        message: `The chain is out of order: "${chain[i]!.subject}" is not issued by the certificate after it. Put the server certificate first, then each issuer.`,
      });
      break;
    }
  }
  const roots = [...rootCertificates, ...(options.extraRoots ?? [])].map((pem) => new X509Certificate(pem));
  const last = chain.at(-1)!;
  const anchored = roots.some(
    (root) =>
      root.fingerprint256 === last.fingerprint256 || (last.checkIssued(root) && last.verify(root.publicKey)),
  );
  if (!anchored)
    errors.push({
      path: CHAIN,
      message: `The chain is incomplete: "${(last.issuer ?? '').replace(/\n/g, ', ')}" issued its last certificate, and it is neither included nor a trusted root. Add the intermediate certificates.`,
    });

  if (!leaf.checkHost(options.hostname))
    errors.push({
      path: CHAIN,
      message: `The certificate does not cover ${options.hostname}; it is for ${certificateNames(leaf).join(', ') || leaf.subject}.`,
    });
  const now = options.now.getTime();
  if (new Date(leaf.validTo).getTime() <= now)
    errors.push({
      path: CHAIN,
      message: `The certificate expired on ${new Date(leaf.validTo).toISOString()}.`,
    });
  else if (new Date(leaf.validFrom).getTime() > now)
    errors.push({
      path: CHAIN,
      message: `The certificate is valid only from ${new Date(leaf.validFrom).toISOString()}.`,
    });

  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    info: certificateInfo(leaf, options.now),
    chainPem: chain.map((c) => c.toString()).join(''),
    keyPem: options.keyPem,
  };
}
