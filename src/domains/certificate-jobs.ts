import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { AcmeCertificates } from './acme-certificates.js';

/**
 * The custom domains' certificates as durable pg-boss jobs:
 *
 * - `acme-certificate`: one attempt for one instance's domain (acme-certificates.ts), queued by the DNS check that
 *   verifies an ACME domain (API role) and by the planner; one queued job per instance (singleton key). Failures
 *   of the directory are recorded on the domain and retried by the planner with back-off, not by pg-boss; pg-boss
 *   retries only what threw (the database gone).
 * - `domain-certificates`, a pg-boss schedule every minute (one job per minute across all Keyhouse processes):
 *   the planner (`AcmeCertificates.plan`): renewals 30 days before the end, retries, serving orders, warnings.
 *
 * The API role only queues; a worker (with `certificates`) works both queues.
 */
const ATTEMPT = 'acme-certificate';
const PLANNER = 'domain-certificates';
const ATTEMPT_RETRY = { retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInMinutes: 15 } as const;

type AttemptJob = { instanceId: string };

export type CertificateJobs = {
  /** Queues an attempt for the instance's domain (it does nothing unless the domain is due). */
  request(instanceId: string): Promise<void>;
  /** One planner pass now, its due domains queued (the schedule runs it every minute). */
  tick(): Promise<{ due: string[]; ordersPlaced: string[] }>;
  stop(): Promise<void>;
};

export async function startCertificateJobs(options: {
  databaseUrl: string;
  logger: Logger;
  /** Where a worker runs: the jobs are worked here. */
  certificates?: AcmeCertificates;
  /** Off in tests that drive `tick` themselves. */
  schedule?: boolean;
}): Promise<CertificateJobs> {
  const logger = options.logger.child({ component: 'certificate-jobs' });
  const boss = new PgBoss({ connectionString: options.databaseUrl, max: 2, schema: 'pgboss' });
  boss.on('error', (error) => logger.error({ err: error }, 'certificate queue error'));
  await boss.start();
  await boss.createQueue(ATTEMPT, { name: ATTEMPT, policy: 'short', ...ATTEMPT_RETRY });
  await boss.createQueue(PLANNER, { name: PLANNER, policy: 'singleton' });

  const request = async (instanceId: string) => {
    await boss.send(ATTEMPT, { instanceId } satisfies AttemptJob, {
      singletonKey: instanceId,
      ...ATTEMPT_RETRY,
    });
  };
  const { certificates } = options;

  async function tick() {
    if (!certificates) throw new Error('The planner runs where a worker runs.');
    const plan = await certificates.plan();
    for (const instanceId of plan.due) await request(instanceId);
    return { due: plan.due, ordersPlaced: plan.ordersPlaced };
  }

  if (certificates) {
    await boss.work<AttemptJob>(ATTEMPT, { batchSize: 1, pollingIntervalSeconds: 2 }, async ([job]) => {
      if (!job) return;
      const outcome = await certificates.attempt(job.data.instanceId);
      logger.debug({ instanceId: job.data.instanceId, outcome }, 'certificate attempt');
    });
    if (options.schedule !== false) {
      await boss.schedule(PLANNER, '* * * * *');
      await boss.work(PLANNER, { pollingIntervalSeconds: 10 }, async () => {
        await tick();
      });
    }
  }

  return {
    request,
    tick,
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
