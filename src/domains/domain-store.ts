import type { Queryable } from '../db/database.js';
import { errnoOf } from '../platform/errno.js';
import { renderMessage, type CodedMessage } from '../platform/messages.js';
import type { CertificateInfo, CustomDomain } from './domain-schemas.js';

type Row = {
  instance_id: string;
  hostname: string;
  source: 'upload' | 'acme';
  status: CustomDomain['status'];
  message: string | null;
  message_code: string | null;
  message_params: Record<string, string | number> | null;
  certificate: CertificateInfo | null;
  dns_checked_at: string | null;
  updated_at: string;
};

export type StoredDomain = Omit<CustomDomain, 'cnameTarget'> & { instanceId: string };

const toDomain = (row: Row): StoredDomain => ({
  instanceId: row.instance_id,
  hostname: row.hostname,
  source: row.source,
  status: row.status,
  message: row.message,
  messageCode: row.message_code,
  messageParams: row.message_params,
  certificate: row.certificate,
  dnsCheckedAt: row.dns_checked_at,
  updatedAt: row.updated_at,
});

const COLUMNS =
  'instance_id, hostname, source, status, message, message_code, message_params, certificate, dns_checked_at, updated_at';

/** ACME again for the same name: what the worker obtained for it stays (certificate, renewal bookkeeping). */
const KEEP_ACME = `$4 = 'acme' AND custom_domains.source = 'acme' AND custom_domains.hostname = $3`;

/** The host name is another instance's (of any organisation): answered, not thrown, so the caller names the field. */
export type SaveDomainResult = { saved: StoredDomain } | { taken: true };

/** Creates or replaces the instance's domain; the unique index decides between concurrent claims of a name. */
export async function saveDomain(
  db: Queryable,
  domain: {
    instanceId: string;
    organizationId: string;
    hostname: string;
    source: 'upload' | 'acme';
    certificateChainPem: string | null;
    sealedPrivateKey: string | null;
    certificate: CertificateInfo | null;
  },
): Promise<SaveDomainResult> {
  try {
    const { rows } = await db.query<Row>(
      `INSERT INTO custom_domains (instance_id, organization_id, hostname, source, status, certificate_chain_pem,
                                   sealed_private_key, certificate)
       VALUES ($1, $2, $3, $4, 'pending-dns', $5, $6, $7)
       ON CONFLICT (instance_id) DO UPDATE SET hostname = $3, source = $4,
         -- A new certificate for the name being served: served at once (the edge swaps it in), still active. ACME
         -- again for the same name keeps the certificate it has (renewed by the worker), so it stays served too.
         status = CASE WHEN custom_domains.hostname = $3 AND custom_domains.status = 'active'
                        AND ($5::text IS NOT NULL OR custom_domains.source = 'acme') THEN 'active'
                       ELSE 'pending-dns' END,
         message = NULL, message_code = NULL, message_params = NULL,
         certificate_chain_pem = CASE WHEN ${KEEP_ACME} THEN custom_domains.certificate_chain_pem ELSE $5 END,
         sealed_private_key = CASE WHEN ${KEEP_ACME} THEN custom_domains.sealed_private_key ELSE $6 END,
         certificate = CASE WHEN ${KEEP_ACME} THEN custom_domains.certificate ELSE $7 END,
         acme_attempts = CASE WHEN ${KEEP_ACME} THEN custom_domains.acme_attempts ELSE 0 END,
         acme_next_attempt_at = CASE WHEN ${KEEP_ACME} THEN custom_domains.acme_next_attempt_at END,
         dns_checked_at = CASE WHEN custom_domains.hostname = $3 THEN custom_domains.dns_checked_at END,
         updated_at = now()
       RETURNING ${COLUMNS}`,
      [
        domain.instanceId,
        domain.organizationId,
        domain.hostname,
        domain.source,
        domain.certificateChainPem,
        domain.sealedPrivateKey,
        domain.certificate === null ? null : JSON.stringify(domain.certificate),
      ],
    );
    return { saved: toDomain(rows[0]!) };
  } catch (error) {
    if (errnoOf(error) === '23505') return { taken: true };
    throw error;
  }
}

export async function findDomain(db: Queryable, instanceId: string): Promise<StoredDomain | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM custom_domains WHERE instance_id = $1`, [
    instanceId,
  ]);
  return rows[0] && toDomain(rows[0]);
}

/** Records a DNS check's outcome, unless the domain changed meanwhile (compare-and-set on the host name). */
export async function recordDnsCheck(
  db: Queryable,
  instanceId: string,
  hostname: string,
  outcome: { verified: boolean; message: string | null },
): Promise<StoredDomain | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE custom_domains
        SET status = CASE WHEN $3 THEN (CASE WHEN status = 'active' THEN 'active' ELSE 'dns-verified' END)
                          ELSE 'pending-dns' END,
            -- A failed first ACME attempt is tried again at once when DNS is confirmed (no attempt runs then:
            -- a running one holds the status at dns-verified until it records its outcome).
            acme_next_attempt_at = CASE WHEN $3 AND status = 'failed' THEN NULL ELSE acme_next_attempt_at END,
            message = $4, message_code = NULL, message_params = NULL, dns_checked_at = now(), updated_at = now()
      WHERE instance_id = $1 AND hostname = $2
      RETURNING ${COLUMNS}`,
    [instanceId, hostname, outcome.verified, outcome.message],
  );
  return rows[0] && toDomain(rows[0]);
}

export async function deleteDomain(db: Queryable, instanceId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM custom_domains WHERE instance_id = $1', [instanceId]);
  return (rowCount ?? 0) > 0;
}

/** The edge serves the domain and Keycloak answers as it (a custom-domain order is DONE); unless it changed since. */
export async function markDomainActive(db: Queryable, instanceId: string, hostname: string): Promise<void> {
  await db.query(
    `UPDATE custom_domains SET status = 'active', message = NULL, updated_at = now()
      WHERE instance_id = $1 AND hostname = $2 AND status IN ('dns-verified', 'active')`,
    [instanceId, hostname],
  );
}

/**
 * ACME certificates, issued and renewed by the worker (acme-certificates.ts). Due: an ACME domain whose DNS is
 * verified and that has no certificate yet (or whose first attempt failed), or whose certificate ends within
 * `renewBeforeDays` of `now`; and no attempt runs or waits out its back-off (`acme_next_attempt_at`).
 */
const ACME_DUE = `source = 'acme' AND (acme_next_attempt_at IS NULL OR acme_next_attempt_at <= $1)
  AND ((certificate_chain_pem IS NULL AND status IN ('dns-verified', 'failed'))
    OR (certificate_chain_pem IS NOT NULL AND status <> 'pending-dns'
        AND (certificate->>'notAfter')::timestamptz <= $1 + make_interval(days => $2)))`;

export type AcmeDomain = { instanceId: string; organizationId: string; hostname: string };

export async function listDueAcmeDomains(
  db: Queryable,
  now: Date,
  renewBeforeDays: number,
): Promise<AcmeDomain[]> {
  const { rows } = await db.query<{ instance_id: string; organization_id: string; hostname: string }>(
    `SELECT instance_id, organization_id, hostname FROM custom_domains WHERE ${ACME_DUE} ORDER BY updated_at`,
    [now, renewBeforeDays],
  );
  return rows.map((row) => ({
    instanceId: row.instance_id,
    organizationId: row.organization_id,
    hostname: row.hostname,
  }));
}

export type AcmeAttempt = AcmeDomain & {
  /** Attempts that failed before this one (the back-off grows with them). */
  failedAttempts: number;
  /** The certificate served now, when this attempt renews it. */
  current: CertificateInfo | null;
};

/**
 * Claims the next attempt for a due domain (compare-and-set): its `acme_next_attempt_at` moves to `leaseUntil`, so a
 * second job finds nothing, and one that crashed is due again once the lease is over. Undefined: not due (any more).
 */
export async function claimAcmeAttempt(
  db: Queryable,
  instanceId: string,
  now: Date,
  renewBeforeDays: number,
  leaseUntil: Date,
): Promise<AcmeAttempt | undefined> {
  const { rows } = await db.query<{
    organization_id: string;
    hostname: string;
    acme_attempts: number;
    certificate: CertificateInfo | null;
  }>(
    `UPDATE custom_domains SET acme_next_attempt_at = $4
      WHERE instance_id = $3 AND ${ACME_DUE}
      RETURNING organization_id, hostname, acme_attempts, certificate`,
    [now, renewBeforeDays, instanceId, leaseUntil],
  );
  const row = rows[0];
  return (
    row && {
      instanceId,
      organizationId: row.organization_id,
      hostname: row.hostname,
      failedAttempts: row.acme_attempts,
      current: row.certificate,
    }
  );
}

/**
 * Stores an obtained certificate in place of the previous one (the edge swaps it in when the name is served), unless
 * the domain changed meanwhile: then undefined, and the certificate is dropped.
 */
export async function storeAcmeCertificate(
  db: Queryable,
  domain: { instanceId: string; hostname: string },
  certificate: { chainPem: string; sealedPrivateKey: string; info: CertificateInfo },
): Promise<StoredDomain | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE custom_domains
        SET certificate_chain_pem = $3, sealed_private_key = $4, certificate = $5,
            status = CASE WHEN status = 'failed' THEN 'dns-verified' ELSE status END,
            message = NULL, message_code = NULL, message_params = NULL,
            acme_attempts = 0, acme_next_attempt_at = NULL, updated_at = now()
      WHERE instance_id = $1 AND hostname = $2 AND source = 'acme'
      RETURNING ${COLUMNS}`,
    [
      domain.instanceId,
      domain.hostname,
      certificate.chainPem,
      certificate.sealedPrivateKey,
      JSON.stringify(certificate.info),
    ],
  );
  return rows[0] && toDomain(rows[0]);
}

/**
 * A failed attempt: the next one waits until `retryAt`. Without a certificate yet the domain is `failed`; with one
 * (a renewal) it keeps its status, since the current certificate is still served.
 */
export async function recordAcmeFailure(
  db: Queryable,
  domain: { instanceId: string; hostname: string },
  outcome: { message: CodedMessage; retryAt: Date },
): Promise<void> {
  await db.query(
    `UPDATE custom_domains
        SET status = CASE WHEN certificate_chain_pem IS NULL AND status IN ('dns-verified', 'failed') THEN 'failed'
                          ELSE status END,
            message = $3, message_code = $4, message_params = $5,
            acme_attempts = acme_attempts + 1, acme_next_attempt_at = $6, updated_at = now()
      WHERE instance_id = $1 AND hostname = $2 AND source = 'acme'`,
    [
      domain.instanceId,
      domain.hostname,
      renderMessage(outcome.message.code, outcome.message.params),
      outcome.message.code,
      JSON.stringify(outcome.message.params),
      outcome.retryAt,
    ],
  );
}

/** A note on the domain (e.g. why serving it waits), unless it changed meanwhile. */
export async function recordDomainMessage(
  db: Queryable,
  domain: { instanceId: string; hostname: string },
  note: CodedMessage,
): Promise<void> {
  await db.query(
    `UPDATE custom_domains SET message = $3, message_code = $4, message_params = $5, updated_at = now()
      WHERE instance_id = $1 AND hostname = $2 AND message_code IS DISTINCT FROM $4`,
    [
      domain.instanceId,
      domain.hostname,
      renderMessage(note.code, note.params),
      note.code,
      JSON.stringify(note.params),
    ],
  );
}

/** Keycloak answers as `hostname` already (the instance's desired spec): nothing to order for it. */
export async function instanceAnswersAs(
  db: Queryable,
  instanceId: string,
  hostname: string,
): Promise<boolean> {
  const { rows } = await db.query<{ answers: boolean }>(
    `SELECT (spec->>'customHostname') = $2 AS answers FROM instances WHERE id = $1`,
    [instanceId, hostname],
  );
  return rows[0]?.answers === true;
}

/**
 * ACME domains with their certificate whose name Keycloak does not answer as yet, on running instances: the
 * custom-domain order that serves them is (still) to be placed.
 */
export async function listUnservedAcmeDomains(db: Queryable): Promise<AcmeDomain[]> {
  const { rows } = await db.query<{ instance_id: string; organization_id: string; hostname: string }>(
    `SELECT d.instance_id, d.organization_id, d.hostname
       FROM custom_domains d JOIN instances i ON i.id = d.instance_id
      WHERE d.source = 'acme' AND d.status = 'dns-verified' AND d.certificate_chain_pem IS NOT NULL
        AND i.status = 'running' AND (i.spec->>'customHostname') IS DISTINCT FROM d.hostname`,
  );
  return rows.map((row) => ({
    instanceId: row.instance_id,
    organizationId: row.organization_id,
    hostname: row.hostname,
  }));
}

/** The certificate ends within $2 days of $1. */
const SOON = `((certificate->>'notAfter')::timestamptz <= $1::timestamptz + make_interval(days => $2))`;

/**
 * Brings every certificate's `expiresSoon` up to date with `now` (set at upload or issue, it turns true within
 * `warnDays` of the end while nothing else touches the row); answers the domains that just turned.
 */
export async function refreshExpiryWarnings(
  db: Queryable,
  now: Date,
  warnDays: number,
): Promise<{ instanceId: string; hostname: string; source: 'upload' | 'acme' }[]> {
  const { rows } = await db.query<{
    instance_id: string;
    hostname: string;
    source: 'upload' | 'acme';
    soon: boolean;
  }>(
    `UPDATE custom_domains
        SET certificate = jsonb_set(certificate, '{expiresSoon}', to_jsonb(${SOON}))
      WHERE certificate IS NOT NULL AND (certificate->>'expiresSoon')::boolean IS DISTINCT FROM ${SOON}
      RETURNING instance_id, hostname, source, (certificate->>'expiresSoon')::boolean AS soon`,
    [now, warnDays],
  );
  return rows
    .filter((row) => row.soon)
    .map((row) => ({ instanceId: row.instance_id, hostname: row.hostname, source: row.source }));
}
