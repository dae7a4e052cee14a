import { z } from 'zod';

/**
 * Custom domains as the API, the portal and the CLI see them. Browser-safe (only zod); certificates are checked on
 * the server (certificate-check.ts), DNS by the server's resolver (dns-check.ts).
 */

/** A host name the customer owns: at least two labels, lower case, no wildcard, not an IP address. */
export const customHostnameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, 'at most 253 characters')
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'a host name such as login.example.com',
  );

/** PEM text, bounded: a chain of a few certificates. */
const pem = (what: string) =>
  z
    .string()
    .min(1, `paste the ${what} (PEM)`)
    .max(64 * 1024, 'at most 64 KB');

export const domainCertificateSchema = z.discriminatedUnion('source', [
  z.strictObject({
    source: z.literal('upload'),
    /** The server certificate first, then the intermediates (the root may be left out). */
    certificateChainPem: pem('certificate chain'),
    privateKeyPem: pem('private key'),
  }),
  /** Let's Encrypt (or the configured ACME directory) by HTTP-01 through the edge, renewed 30 days before expiry. */
  z.strictObject({ source: z.literal('acme') }),
]);

export const domainRequestSchema = z.strictObject({
  hostname: customHostnameSchema,
  certificate: domainCertificateSchema,
});
export type DomainRequest = z.infer<typeof domainRequestSchema>;

export const domainStatusSchema = z.enum([
  /** The CNAME is not (yet) seen; `message` says what DNS answers. */
  'pending-dns',
  /** DNS points at the instance; the edge takes the domain on with its certificate next. */
  'dns-verified',
  /** The edge serves the domain with its certificate, and Keycloak's hostname is the domain. */
  'active',
  /** Obtaining the first ACME certificate failed; `message` says why and when Keyhouse tries again. */
  'failed',
]);

export const certificateInfoSchema = z.object({
  subject: z.string(),
  issuer: z.string(),
  names: z.array(z.string()),
  notBefore: z.string(),
  notAfter: z.string(),
  fingerprintSha256: z.string(),
  /** Set within 30 days of expiry. */
  expiresSoon: z.boolean(),
});
export type CertificateInfo = z.infer<typeof certificateInfoSchema>;

export const customDomainSchema = z.object({
  hostname: z.string(),
  /** The DNS record the customer creates: `hostname CNAME cnameTarget`. */
  cnameTarget: z.string(),
  source: z.enum(['upload', 'acme']),
  status: domainStatusSchema,
  /** Why the status is what it is (DNS's answer, an ACME failure), in English. */
  message: z.string().max(4000).nullable(),
  /** The message's code and parameters (src/platform/messages.ts), for the portal's German; null for DNS answers. */
  messageCode: z.string().max(100).nullable(),
  messageParams: z.record(z.string().max(100), z.union([z.string().max(4000), z.number()])).nullable(),
  certificate: certificateInfoSchema.nullable(),
  dnsCheckedAt: z.string().nullable(),
  updatedAt: z.string(),
  /** The custom-domain change order a check placed (follow it like any order: GET /api/v1/orders/{id}). */
  orderId: z.uuid().optional(),
});
export type CustomDomain = z.infer<typeof customDomainSchema>;
