import { readFileSync } from 'node:fs';
import type { SignedInActor } from '../accounts/roles.js';
import { recordAudit } from '../audit/audit-store.js';
import type { Config } from '../config/config-schema.js';
import type { Database } from '../db/database.js';
import { findInstance } from '../instances/instance-store.js';
import { ConflictError, NotFoundError, ValidationError } from '../platform/errors.js';
import { fieldError } from '../platform/field-errors.js';
import type { SecretBox } from '../platform/secret-box.js';
import { checkCertificate } from './certificate-check.js';
import { checkDomainDns } from './dns-check.js';
import type { Order } from '../orders/order-schemas.js';
import type { CustomDomain, DomainRequest } from './domain-schemas.js';
import {
  deleteDomain,
  findDomain,
  markDomainActive,
  recordDnsCheck,
  saveDomain,
  type StoredDomain,
} from './domain-store.js';

/**
 * An instance's custom domain: set (with an uploaded certificate, checked first, or by ACME), its DNS checked,
 * removed (the instance keeps its own host name). A host name is one instance's at a time, across all customers.
 *
 * Serving it is a change order (`custom-domain`, placed here, not by the public order API): once DNS points at the
 * instance and the certificate is there, the check places one that puts the name on the edge beside the
 * instance's own and makes it Keycloak's hostname; removing the domain places one back to the own host name. An
 * ACME domain gets its certificate from the worker first (the check queues it, acme-certificates.ts), which then
 * places the order itself.
 */
export function createDomainService(deps: {
  db: Database;
  config: Pick<Config, 'domains' | 'edge' | 'catalog'>;
  secretBox: SecretBox;
  now: () => Date;
  /** The order service's change orders (refusals such as "another order runs" come from there). */
  placeChangeOrder: (actor: SignedInActor, instanceId: string, body: unknown) => Promise<{ order: Order }>;
  /** Queues an attempt to obtain the domain's ACME certificate (certificate-jobs.ts); a worker runs it. */
  requestCertificate: (instanceId: string) => Promise<void>;
}) {
  const { db, config } = deps;
  const extraRoots = config.domains.extraRootsFile
    ? (readFileSync(config.domains.extraRootsFile, 'utf8').match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
      ) ?? [])
    : [];
  const cnameTarget = (name: string) => `${name}.${config.edge.publicHost}`;
  const view = (name: string, stored: StoredDomain): CustomDomain => {
    const { instanceId: _instance, ...domain } = stored;
    return { ...domain, cnameTarget: cnameTarget(name) };
  };

  async function instanceOf(organizationId: string, id: string, forUpdate = false) {
    const instance = await findInstance(db.pool, organizationId, id, { forUpdate });
    if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
    return instance;
  }

  return {
    async get(organizationId: string, instanceId: string): Promise<CustomDomain> {
      const instance = await instanceOf(organizationId, instanceId);
      const domain = await findDomain(db.pool, instanceId);
      if (!domain) throw new NotFoundError('Custom domain');
      return view(instance.name, domain);
    },

    set: (actor: SignedInActor, instanceId: string, request: DomainRequest): Promise<CustomDomain> =>
      db.transaction(async (tx) => {
        const instance = await findInstance(tx, actor.principal.organizationId, instanceId, {
          forUpdate: true,
        });
        if (!instance || instance.status === 'deleted') throw new NotFoundError('Instance');
        // Refused before DNS and certificates are asked for: the custom-domain order would be (order-schemas.ts).
        const region = config.catalog.regions.find((r) => r.id === instance.spec.region);
        if (region?.driver === 'kubernetes')
          throw new ValidationError([fieldError('hostname', 'domain.notOnKubernetes')]);
        const platform = config.edge.publicHost.toLowerCase();
        if (request.hostname === platform || request.hostname.endsWith(`.${platform}`))
          throw new ValidationError([
            {
              path: 'hostname',
              message: `Names under ${platform} are the platform's own; use a domain of yours.`,
            },
          ]);
        // Keycloak answers as the served name: another one would leave it answering as a name nobody serves.
        const served = instance.spec.customHostname;
        if (served && served !== request.hostname)
          throw new ValidationError([
            {
              path: 'hostname',
              message: `Keycloak answers as ${served}; remove that domain first, then add ${request.hostname}.`,
            },
          ]);
        let certificate = null;
        if (request.certificate.source === 'upload') {
          const check = checkCertificate({
            hostname: request.hostname,
            chainPem: request.certificate.certificateChainPem,
            keyPem: request.certificate.privateKeyPem,
            now: deps.now(),
            extraRoots,
          });
          if (!check.ok) throw new ValidationError(check.errors);
          certificate = check;
        }
        const result = await saveDomain(tx, {
          instanceId,
          organizationId: actor.principal.organizationId,
          hostname: request.hostname,
          source: request.certificate.source,
          certificateChainPem: certificate?.chainPem ?? null,
          sealedPrivateKey: certificate ? deps.secretBox.seal(certificate.keyPem) : null,
          certificate: certificate?.info ?? null,
        });
        // Same words whoever holds it: another customer's domains are none of the caller's business.
        if ('taken' in result)
          throw new ValidationError([
            { path: 'hostname', message: `${request.hostname} is already in use.` },
          ]);
        await recordAudit(tx, actor, {
          action: 'domain.set',
          targetType: 'instance',
          targetId: instanceId,
          details: {
            hostname: request.hostname,
            source: request.certificate.source,
            fingerprintSha256: certificate?.info.fingerprintSha256,
          },
        });
        return view(instance.name, result.saved);
      }),

    /**
     * Asks DNS now whether the domain points at the instance, and records the answer. Verified, with its
     * certificate, and not yet what Keycloak answers as: places the custom-domain order (`orderId`).
     */
    async checkDns(actor: SignedInActor, instanceId: string): Promise<CustomDomain> {
      const instance = await instanceOf(actor.principal.organizationId, instanceId);
      const domain = await findDomain(db.pool, instanceId);
      if (!domain) throw new NotFoundError('Custom domain');
      const dns = await checkDomainDns({
        hostname: domain.hostname,
        target: cnameTarget(instance.name),
        servers: config.domains.dnsServers,
      });
      const recorded = await recordDnsCheck(db.pool, instanceId, domain.hostname, {
        verified: dns.ok,
        message: dns.ok ? null : dns.message,
      });
      // Replaced while DNS answered: the new domain is what the caller sees.
      if (!recorded) return view(instance.name, (await findDomain(db.pool, instanceId))!);
      // ACME: the worker obtains the certificate now, then places the custom-domain order itself.
      if (recorded.status === 'dns-verified' && recorded.source === 'acme' && recorded.certificate === null)
        await deps.requestCertificate(instanceId);
      if (recorded.status !== 'dns-verified' || recorded.certificate === null)
        return view(instance.name, recorded);
      if (instance.spec.customHostname === recorded.hostname) {
        // A replaced certificate of the name Keycloak answers as already: the edge took it on by itself.
        await markDomainActive(db.pool, instanceId, recorded.hostname);
        return view(instance.name, (await findDomain(db.pool, instanceId))!);
      }
      try {
        const { order } = await deps.placeChangeOrder(actor, instanceId, {
          type: 'custom-domain',
          hostname: recorded.hostname,
        });
        return { ...view(instance.name, recorded), orderId: order.id };
      } catch (error) {
        // Verified all the same; the instance is busy (another order) or not running yet.
        if (!(error instanceof ConflictError)) throw error;
        return {
          ...view(instance.name, recorded),
          message: `DNS points at the instance. ${error.message} Then check again to serve the domain.`,
        };
      }
    },

    /**
     * Removes the domain. While Keycloak answers as it, the order back to the instance's own host name is placed
     * first: refused (another order runs), nothing is removed; placed, the edge stops serving the name at once and
     * the order restarts Keycloak under its own. Answers that order, if any.
     */
    async remove(actor: SignedInActor, instanceId: string): Promise<{ orderId: string | null }> {
      const instance = await instanceOf(actor.principal.organizationId, instanceId);
      if (!(await findDomain(db.pool, instanceId))) throw new NotFoundError('Custom domain');
      const placed = instance.spec.customHostname
        ? await deps.placeChangeOrder(actor, instanceId, { type: 'custom-domain', hostname: null })
        : undefined;
      await db.transaction(async (tx) => {
        const domain = await findDomain(tx, instanceId);
        if (!domain || !(await deleteDomain(tx, instanceId))) throw new NotFoundError('Custom domain');
        await recordAudit(tx, actor, {
          action: 'domain.remove',
          targetType: 'instance',
          targetId: instanceId,
          details: { hostname: domain.hostname, orderId: placed?.order.id },
        });
      });
      return { orderId: placed?.order.id ?? null };
    },
  };
}
export type DomainService = ReturnType<typeof createDomainService>;
