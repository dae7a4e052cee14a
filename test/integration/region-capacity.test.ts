import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrderById } from '../../src/orders/order-store.js';
import type { Reconciler } from '../../src/provisioning/reconciler.js';
import { bearerHeaders, signUp } from '../support/accounts.js';
import { exampleOrder } from '../support/orders.js';
import { standInDriver, standInReconciler } from '../support/stand-in-reconciler.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * A region's capacity (`maxInstances`) under concurrency: workers start orders of different instances at once,
 * each under its own instance lock, so nothing but the capacity check itself keeps them from both taking the last
 * place. The database, the order service and the reconciler are real; the driver is a stand-in (this tests the
 * check, not a backend) that answers `progressing`, so that every started order keeps its place.
 */
describe('region capacity', () => {
  const MAX_INSTANCES = 3;
  const ORDERS = 12;
  let keyhouse: TestKeyhouse;
  let reconciler: Reconciler;

  const driver = standInDriver(async () => ({
    outcome: 'progressing',
    message: 'rolling out',
    retryAfterSeconds: 3600,
  }));

  beforeAll(async () => {
    // An API-only Keyhouse accepts the orders; no worker of its own takes them, the test drives the reconciler.
    keyhouse = await startTestKeyhouse((config) => {
      config.catalog.regions[0]!.capacity = { maxInstances: MAX_INSTANCES, concurrentOrders: ORDERS };
    });
    ({ reconciler } = standInReconciler(keyhouse, driver));
  });
  afterAll(() => keyhouse?.stop());

  it(`starts exactly ${MAX_INSTANCES} of ${ORDERS} create orders reconciled at once; the others wait`, async () => {
    const customer = await signUp(keyhouse);
    const headers = bearerHeaders(await customer.createApiToken());
    const orderIds: string[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const placed = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers,
        payload: exampleOrder(keyhouse.config),
      });
      expect(placed.statusCode).toBe(201);
      orderIds.push(placed.json<{ id: string }>().id);
    }

    const outcomes = await Promise.all(
      orderIds.map((id) => reconciler.reconcile(id, { lastAttempt: false })),
    );

    const counts = (list: string[]) =>
      Object.fromEntries([...new Set(list)].map((value) => [value, list.filter((v) => v === value).length]));
    expect(counts(outcomes.map((o) => o.outcome))).toEqual({
      progressing: MAX_INSTANCES,
      waiting: ORDERS - MAX_INSTANCES,
    });
    const orders = await Promise.all(orderIds.map((id) => findOrderById(keyhouse.db.pool, id)));
    expect(counts(orders.map((o) => o!.status))).toEqual({
      processing: MAX_INSTANCES,
      new: ORDERS - MAX_INSTANCES,
    });
    for (const order of orders.filter((o) => o!.status === 'new')) {
      expect(order!.steps).toContainEqual(
        expect.objectContaining({
          name: 'waiting-for-capacity',
          status: 'running',
          messageParts: [
            {
              code: 'step.waitingForCapacity',
              params: expect.objectContaining({ active: MAX_INSTANCES, max: MAX_INSTANCES }),
            },
          ],
        }),
      );
    }
  });
});
