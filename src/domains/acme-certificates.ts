import { X509Certificate, createPrivateKey } from 'node:crypto';
import http from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import type { Database } from '../db/database.js';
import { message, type CodedMessage } from '../platform/messages.js';
import type { SecretBox } from '../platform/secret-box.js';
import { createAcmeAccountKey, obtainCertificate, type Http01Challenges } from './acme-issuer.js';
import {
  ensureAcmeAccount,
  publishAcmeChallenge,
  recordAcmeAccountUrl,
  withdrawAcmeChallenge,
  withdrawStaleAcmeChallenges,
} from './acme-store.js';
import { EXPIRY_WARNING_DAYS, certificateInfo } from './certificate-check.js';
import {
  claimAcmeAttempt,
  instanceAnswersAs,
  listDueAcmeDomains,
  listUnservedAcmeDomains,
  markDomainActive,
  recordAcmeFailure,
  recordDomainMessage,
  refreshExpiryWarnings,
  storeAcmeCertificate,
  type AcmeDomain,
} from './domain-store.js';

/**
 * ACME certificates of custom domains, obtained and renewed by the worker (jobs: certificate-jobs.ts).
 *
 * One attempt (`attempt`) claims the domain first (compare-and-set on `acme_next_attempt_at`, set to the end of a
 * lease), so two workers never work on one domain, and a worker killed mid-way leaves a domain that is due again
 * once the lease is over: the next attempt starts from the beginning (a new order at the directory; the one left
 * behind expires there). The certificate is stored in one UPDATE, which replaces the previous one: the edge serves
 * exactly one certificate per name, whatever crashed when. Then the domain is served like an uploaded one: the
 * custom-domain change order (placed by Keyhouse itself) puts it on the edge and makes it Keycloak's hostname; a
 * renewed certificate of a served name is swapped in by the edge at once.
 *
 * A failure is recorded on the domain with a coded message (DE and EN) and the time of the next attempt, with
 * exponential back-off: 1, 2, 4 … minutes, at most 6 hours. Without a certificate yet the domain is `failed`; a
 * failed renewal keeps the served certificate (and its status), and tries again until it expires.
 *
 * The periodic pass (`plan`) finds what is due (first certificates, renewals 30 days before the end, attempts whose
 * back-off or lease is over), places the serving orders that could not be placed before (another order ran),
 * brings `expiresSoon` up to date for every certificate (the warning for uploaded ones), and removes challenges a
 * crashed attempt left behind.
 */
export const RENEW_BEFORE_DAYS = 30;
const LEASE_MS = 10 * 60_000;
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 6 * 60 * 60_000;
/** How long the edge may take to answer a published challenge (it syncs within a second). */
const EDGE_ANSWER_TIMEOUT_MS = 20_000;

export type AcmeAttemptOutcome =
  | { outcome: 'not-due' }
  | { outcome: 'issued'; renewal: boolean; orderId: string | null }
  | { outcome: 'failed'; message: string; retryAt: string };

export type AcmeCertificates = {
  /** One attempt for the instance's domain, if it is due; the outcome is recorded on the domain too. */
  attempt(instanceId: string): Promise<AcmeAttemptOutcome>;
  /** The periodic pass; answers the instances whose domain is due for an attempt (the caller queues them). */
  plan(): Promise<{ due: string[]; ordersPlaced: string[]; expiring: string[] }>;
};

export function createAcmeCertificates(deps: {
  db: Database;
  config: Pick<Config, 'domains' | 'edge'>;
  secretBox: SecretBox;
  now: () => Date;
  logger: Logger;
  /** The custom-domain change order, placed by Keyhouse (orders' placeSystemChange); undefined: not now. */
  placeCustomDomainOrder(domain: AcmeDomain): Promise<{ id: string } | undefined>;
}): AcmeCertificates {
  const { db, config, secretBox, now } = deps;
  const logger = deps.logger.child({ component: 'acme' });

  const challenges = (instanceId: string): Http01Challenges => ({
    async publish(hostname, token, keyAuthorization) {
      await publishAcmeChallenge(db.pool, instanceId, { hostname, token, keyAuthorization });
      await edgeAnswers(config.edge, hostname, token, keyAuthorization);
    },
    withdraw: (hostname, token) => withdrawAcmeChallenge(db.pool, hostname, token),
  });

  async function serve(domain: AcmeDomain): Promise<string | null> {
    const order = await deps.placeCustomDomainOrder(domain);
    if (!order) await recordDomainMessage(db.pool, domain, message('domain.acmeOrderWaits'));
    else
      logger.info({ instanceId: domain.instanceId, orderId: order.id }, 'acme: custom-domain order placed');
    return order?.id ?? null;
  }

  return {
    async attempt(instanceId) {
      const started = now();
      const claim = await claimAcmeAttempt(
        db.pool,
        instanceId,
        started,
        RENEW_BEFORE_DAYS,
        new Date(started.getTime() + LEASE_MS),
      );
      if (!claim) return { outcome: 'not-due' };
      const renewal = claim.current !== null;
      try {
        const directoryUrl = config.domains.acmeDirectoryUrl;
        const account = await ensureAcmeAccount(db.pool, directoryUrl, async () =>
          secretBox.seal(await createAcmeAccountKey()),
        );
        const issued = await obtainCertificate({
          directoryUrl,
          accountKeyPem: secretBox.open(account.sealedAccountKey),
          accountUrl: account.accountUrl,
          email: config.domains.acmeEmail ?? undefined,
          hostname: claim.hostname,
          challenges: challenges(instanceId),
        });
        if (issued.accountUrl !== account.accountUrl)
          await recordAcmeAccountUrl(db.pool, directoryUrl, issued.accountUrl);
        const leaf = new X509Certificate(issued.chainPem);
        if (!leaf.checkHost(claim.hostname) || !leaf.checkPrivateKey(createPrivateKey(issued.keyPem)))
          throw new Error(`The directory issued a certificate that does not fit ${claim.hostname}.`);
        const stored = await storeAcmeCertificate(db.pool, claim, {
          chainPem: issued.chainPem,
          sealedPrivateKey: secretBox.seal(issued.keyPem),
          info: certificateInfo(leaf, now()),
        });
        if (!stored) {
          logger.info({ instanceId }, 'acme: the domain changed while its certificate was issued; dropped');
          return { outcome: 'not-due' };
        }
        logger.info(
          { instanceId, hostname: claim.hostname, renewal, notAfter: leaf.validTo },
          renewal ? 'acme: certificate renewed' : 'acme: certificate obtained',
        );
        let orderId: string | null = null;
        if (stored.status === 'dns-verified') {
          // The name Keycloak answers as already (the domain was set again): served as soon as it is stored.
          if (await instanceAnswersAs(db.pool, instanceId, claim.hostname))
            await markDomainActive(db.pool, instanceId, claim.hostname);
          else orderId = await serve(claim);
        }
        return { outcome: 'issued', renewal, orderId };
      } catch (error) {
        const reason = (error instanceof Error ? error.message : String(error)).slice(0, 1000);
        const retryAt = new Date(
          now().getTime() + Math.min(FIRST_RETRY_MS * 2 ** claim.failedAttempts, MAX_RETRY_MS),
        );
        const note: CodedMessage = renewal
          ? message('domain.acmeRenewalFailed', {
              reason,
              notAfter: claim.current!.notAfter,
              retryAt: retryAt.toISOString(),
            })
          : message('domain.acmeFailed', { reason, retryAt: retryAt.toISOString() });
        await recordAcmeFailure(db.pool, claim, { message: note, retryAt });
        logger.warn({ instanceId, hostname: claim.hostname, err: reason }, 'acme: attempt failed');
        return { outcome: 'failed', message: reason, retryAt: retryAt.toISOString() };
      }
    },

    async plan() {
      const at = now();
      await withdrawStaleAcmeChallenges(db.pool, new Date(at.getTime() - 2 * LEASE_MS));
      const ordersPlaced: string[] = [];
      for (const domain of await listUnservedAcmeDomains(db.pool)) {
        const orderId = await serve(domain);
        if (orderId) ordersPlaced.push(orderId);
      }
      const expiring = await refreshExpiryWarnings(db.pool, at, EXPIRY_WARNING_DAYS);
      for (const domain of expiring) {
        // ACME ones are being renewed; an uploaded one needs its owner (the portal says so).
        if (domain.source === 'upload')
          logger.warn({ ...domain }, 'custom domain: the uploaded certificate expires within 30 days');
      }
      const due = (await listDueAcmeDomains(db.pool, at, RENEW_BEFORE_DAYS)).map((d) => d.instanceId);
      return { due, ordersPlaced, expiring: expiring.map((d) => d.instanceId) };
    },
  };
}

/**
 * Resolves once the edge's plain-HTTP listener answers the challenge (the edges sync from PostgreSQL within a
 * second), so the directory is asked to validate only then; it validates once. Asks the edge of this host at its
 * listen address: where the worker runs on a host without an edge, the edges' own sync is all there is, and this
 * wait ends at its deadline with the reason.
 */
async function edgeAnswers(
  edge: Pick<Config['edge'], 'listenHost' | 'httpPort'>,
  hostname: string,
  token: string,
  keyAuthorization: string,
): Promise<void> {
  if (edge.httpPort === null)
    throw new Error('The edge has no plain-HTTP listener (edge.httpPort) for the ACME HTTP-01 challenge.');
  const host = edge.listenHost === '0.0.0.0' || edge.listenHost === '::' ? '127.0.0.1' : edge.listenHost;
  const deadline = Date.now() + EDGE_ANSWER_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const request = http.get(
        {
          host,
          port: edge.httpPort!,
          path: `/.well-known/acme-challenge/${token}`,
          headers: { host: hostname },
          timeout: 2_000,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body = (body + chunk).slice(0, 1024)));
          response.on('end', () =>
            resolve(response.statusCode === 200 ? body : `HTTP ${response.statusCode}`),
          );
        },
      );
      request.on('timeout', () => request.destroy(new Error('no answer within 2 s')));
      request.on('error', (error) => resolve(error.message));
    });
    if (last === keyAuthorization) return;
    // The edge's next sync is a notification away: look again shortly.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `The edge did not answer the challenge for ${hostname} on ${host}:${edge.httpPort} within ` +
      `${EDGE_ANSWER_TIMEOUT_MS / 1000} s (last answer: ${last}).`,
  );
}
