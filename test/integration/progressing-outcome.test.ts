import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredInstance, StepReporter } from '../../src/drivers/driver.js';
import { findOrderById } from '../../src/orders/order-store.js';
import type { ProvisioningQueue } from '../../src/provisioning/provisioning-worker.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { waitFor } from '../support/edge-probes.js';
import { exampleOrder } from '../support/orders.js';
import { standInDriver, startStandInWorker } from '../support/stand-in-reconciler.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The `progressing` outcome of the driver contract: "applied, not ready yet, look again in N seconds". A driver
 * stand-in (this tests the reconciler and the job queue, not a backend) answers progressing twice, then ready; the
 * database, the order service and pg-boss are real. The order must go DONE on the third pass, each pass a fresh
 * job that started no earlier than asked, none of them a spent retry, and the steps reported on every pass.
 */
describe('a driver that answers progressing', () => {
  const RETRY_AFTER_SECONDS = 1;
  let keyhouse: TestKeyhouse;
  let queue: ProvisioningQueue;
  /** What each apply saw and did. */
  const passes: { at: number; orderStatus: string | undefined; stepsBefore: string[] }[] = [];
  let orderId = '';

  const driver = standInDriver(async (instance: DesiredInstance, report: StepReporter) => {
    const order = await findOrderById(keyhouse.db.pool, orderId);
    passes.push({
      at: Date.now(),
      orderStatus: order?.status,
      stepsBefore: (order?.steps ?? []).map((s) => `${s.name}:${s.status}:${s.message ?? ''}`),
    });
    const pass = passes.length;
    await report('keycloak-ready', 'running', `pass ${pass}: waiting for the operator`);
    if (pass < 3)
      return {
        outcome: 'progressing',
        message: `pass ${pass}: rolling out`,
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      };
    await report('keycloak-ready', 'done', `pass ${pass}: ready`);
    return { outcome: 'ready', url: `https://${instance.name}.example.test` };
  });

  beforeAll(async () => {
    // An API-only Keyhouse accepts the order and queues its job; the worker below is ours, with the stand-in.
    keyhouse = await startTestKeyhouse();
    queue = await startStandInWorker(keyhouse, driver);
  });
  afterAll(async () => {
    await queue?.stop();
    await keyhouse?.stop();
  });

  it('requeues after the seconds asked, without spending a retry, until the instance is ready', async () => {
    const customer = await signUp(keyhouse);
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: bearerHeaders(await customer.createApiToken()),
      payload: exampleOrder(keyhouse.config),
    });
    expect(placed.statusCode).toBe(201);
    orderId = placed.json().id;

    await waitFor(
      async () => (await findOrderById(keyhouse.db.pool, orderId))?.status === 'done',
      20_000,
      'the order to be done',
    );

    expect(passes).toHaveLength(3);
    // Between passes the order stays processing, with the step as the last pass left it.
    expect(passes[1]!.orderStatus).toBe('processing');
    expect(passes[1]!.stepsBefore).toContain('keycloak-ready:running:pass 1: waiting for the operator');
    expect(passes[2]!.stepsBefore).toContain('keycloak-ready:running:pass 2: waiting for the operator');
    for (const [previous, next] of [passes.slice(0, 2), passes.slice(1, 3)] as const)
      expect(next!.at - previous!.at).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 50);

    const order = (await findOrderById(keyhouse.db.pool, orderId))!;
    expect(order.steps.find((s) => s.name === 'keycloak-ready')).toMatchObject({
      status: 'done',
      message: 'pass 3: ready',
    });
    expect(order.steps.find((s) => s.name === 'verify')).toMatchObject({ status: 'done' });

    // One job per pass, each completed on its first attempt: waiting spent no retry. pg-boss marks the last job
    // completed just after its handler has made the order done.
    const jobsOfOrder = async () =>
      (
        await keyhouse.db.pool.query<{ state: string; retry_count: number }>(
          `SELECT state, retry_count FROM pgboss.job WHERE singleton_key = $1 ORDER BY created_on`,
          [orderId],
        )
      ).rows;
    await waitFor(
      async () => (await jobsOfOrder()).every((job) => job.state !== 'active'),
      10_000,
      'the last job to be marked finished',
    );
    const jobs = await jobsOfOrder();
    expect(jobs).toEqual([
      { state: 'completed', retry_count: 0 },
      { state: 'completed', retry_count: 0 },
      { state: 'completed', retry_count: 0 },
    ]);
  });
});
