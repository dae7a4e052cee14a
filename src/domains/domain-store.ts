import type { Queryable } from '../db/database.js';
import { errnoOf } from '../platform/errno.js';
import type { CertificateInfo, CustomDomain } from './domain-schemas.js';

type Row = {
  instance_id: string;
  hostname: string;
  source: 'upload' | 'acme';
  status: CustomDomain['status'];
  message: string | null;
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
  certificate: row.certificate,
  dnsCheckedAt: row.dns_checked_at,
  updatedAt: row.updated_at,
});

const COLUMNS = 'instance_id, hostname, source, status, message, certificate, dns_checked_at, updated_at';

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
         -- A new certificate for the name being served: served at once (the edge swaps it in), still active.
         status = CASE WHEN custom_domains.hostname = $3 AND custom_domains.status = 'active' THEN 'active'
                       ELSE 'pending-dns' END,
         message = NULL, certificate_chain_pem = $5, sealed_private_key = $6, certificate = $7,
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
            message = $4, dns_checked_at = now(), updated_at = now()
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
