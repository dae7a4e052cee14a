import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOf, stepper, StepFailure } from '../../src/drivers/driver-steps.js';
import type { Order } from '../../src/orders/order-schemas.js';
import { retryFailedOrder, transitionOrder } from '../../src/orders/order-status.js';
import { createLogger } from '../../src/platform/logger.js';
import { message } from '../../src/platform/messages.js';
import type { ProvisioningQueue } from '../../src/provisioning/provisioning-worker.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { waitFor } from '../support/edge-probes.js';
import { exampleOrder } from '../support/orders.js';
import { standInDriver, startStandInWorker } from '../support/stand-in-reconciler.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * An order's failure reason in the reader's language: a driver's permanent failure is coded (src/platform/messages.ts),
 * and the failed order's API answer carries the English text and the coded parts (`failureReasonParts`), also on the
 * earlier attempt after a retry. A driver stand-in fails the apply with a permanent step failure through the shared
 * step helpers (this tests the contract, the reconciler and the API, not a backend); the database, the order
 * service and pg-boss are real.
 */
describe('a failed order', () => {
  let keyhouse: TestKeyhouse;
  let queue: ProvisioningQueue | undefined;
  const logger = createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' });
  const refused = message('failure.configurationRefused');

  const driver = standInDriver((_instance, report) =>
    outcomeOf(async () => {
      await stepper(logger, report)('keycloak-config', () =>
        Promise.reject(
          new StepFailure('permanent', refused, 'admission webhook denied the Keycloak resource'),
        ),
      );
      throw new Error('not reached: the step failed');
    }),
  );

  beforeAll(async () => {
    // An API-only Keyhouse accepts the order and queues its job; the worker below is ours, with the stand-in.
    keyhouse = await startTestKeyhouse();
    queue = await startStandInWorker(keyhouse, driver);
  });
  afterAll(async () => {
    await queue?.stop();
    await keyhouse?.stop();
  });

  it('answers the reason in English with its coded parts, on the order and on its earlier attempt', async () => {
    const customer = await signUp(keyhouse);
    const headers = bearerHeaders(await customer.createApiToken());
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config),
    });
    expect(placed.statusCode).toBe(201);
    const orderId: string = placed.json().id;
    const get = async () =>
      (await keyhouse.request({ url: `/api/v1/orders/${orderId}`, headers })).json() as Order & {
        operatorDetail?: unknown;
      };

    let order = await get();
    await waitFor(async () => (order = await get()).status === 'failed', 20_000, 'the order to fail');
    expect(order.failureReason).toBe(
      'The platform refused the configuration of your instance. Our team has been notified.',
    );
    expect(order.failureReasonParts).toEqual([{ code: 'failure.configurationRefused', params: {} }]);
    // The step says the same, coded; the operator's detail stays off the customer's API.
    expect(order.steps.find((s) => s.name === 'keycloak-config')).toMatchObject({
      status: 'failed',
      messageParts: [{ code: 'failure.configurationRefused', params: {} }],
    });
    expect(JSON.stringify(order)).not.toContain('admission webhook');

    // An operator's retry keeps the failed attempt's reason with its parts; the new attempt starts without one.
    expect(await retryFailedOrder(keyhouse.db.pool, orderId, 1, customer.user.id)).toBe(true);
    order = await get();
    expect(order).toMatchObject({ attempt: 2, failureReason: null, failureReasonParts: null });
    expect(order.previousAttempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        failureReason: 'The platform refused the configuration of your instance. Our team has been notified.',
        failureReasonParts: [{ code: 'failure.configurationRefused', params: {} }],
      }),
    ]);
  });

  it('stores a reason in plain words without parts', async () => {
    // No worker: the order stays new until this fails it (as an operator's cancel does).
    await queue?.stop();
    queue = undefined;
    const customer = await signUp(keyhouse);
    const headers = bearerHeaders(await customer.createApiToken());
    const placed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: exampleOrder(keyhouse.config),
    });
    const orderId: string = placed.json().id;
    expect(
      await keyhouse.db.transaction((tx) =>
        transitionOrder(tx, orderId, 'new', 'failed', { reason: 'Cancelled at your request by phone.' }),
      ),
    ).toBe(true);
    const order = (await keyhouse.request({ url: `/api/v1/orders/${orderId}`, headers })).json() as Order;
    expect(order.failureReason).toBe('Cancelled at your request by phone.');
    expect(order.failureReasonParts).toBeNull();
  });
});
