/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyhouse, type Keyhouse } from '../../src/app.js';
import { transitionOrder } from '../../src/orders/order-status.js';
import { recordOrderStep } from '../../src/orders/order-steps.js';
import { createLogger } from '../../src/platform/logger.js';
import { exampleOrder } from '../support/orders.js';
import { testKeycloakCache } from '../support/test-keyhouse.js';
import { createE2eOperator } from './provider.js';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  provisioningConfig,
  screenshot,
  signUp,
  startPortal,
  TEST_PASSWORD,
  type Portal,
} from './portal.js';

// The operator console with a real Keycloak: a customer's order has failed; an operator finds it, reads the detail
// the customer does not see, and retries it; the customer's status page shows attempt 2 live until DONE. A ticket
// goes back and forth between the two. Customers and anonymous visitors get 404 on /ops.
//
// The portal runs the API role only; the worker and edge roles run in a second Keyhouse on the same database,
// started before the retry. The first attempt's failure is written by the test through the same domain functions the
// reconciler uses (transitionOrder, recordOrderStep): failing a real provisioning would cost a Keycloak start and the
// queue's eight retries. Everything after the retry is real: provisioning, edge, DONE.

let portal: Portal;
let browser: Browser;
let worker: Keyhouse | undefined;

beforeAll(async () => {
  [portal, browser] = await Promise.all([
    startPortal((config) => {
      provisioningConfig(config);
      config.roles = ['api'];
    }),
    launchBrowser(),
  ]);
}, 5 * 60_000);
afterAll(async () => {
  await browser?.close();
  if (worker) {
    const { rows } = await portal.keyhouse.db.pool.query<{ id: string; name: string }>(
      "SELECT id, name FROM instances WHERE status <> 'deleted'",
    );
    for (const { id, name } of rows)
      await worker.localBackend!.driver.destroy({ instanceId: id, name }, async () => undefined);
    await worker.close();
  }
  await portal?.stop();
}, 180_000);

/** The signed-in browser's session as headers for the API (the CSRF token lives in the page's sessionStorage). */
async function sessionHeadersOf(page: Page): Promise<Record<string, string>> {
  const cookies = await page.context().cookies();
  const csrf = await page.evaluate(() => sessionStorage.getItem('keyhouse.csrf'));
  return {
    cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; '),
    'x-csrf-token': csrf ?? '',
  };
}

const shared: { customer?: Page; operator?: Page; orderId?: string; customerErrors?: string[] } = {};

describe('customers never see the console', () => {
  it('answers /ops and the operator API with 404 for a customer and for nobody signed in', async () => {
    const anonymous = await newPage(browser, portal.baseUrl, 'en');
    const response = await anonymous.page.goto('/ops');
    expect(response?.status()).toBe(404);
    await anonymous.context.close();

    const { page, errors } = await newPage(browser, portal.baseUrl, 'de');
    await signUp(page, 'de', 'Kunde mit Problem GmbH');
    shared.customer = page;
    shared.customerErrors = errors;
    const asCustomer = await page.request.get('/ops');
    expect(asCustomer.status()).toBe(404);
    const deep = await page.request.get('/ops/orders/00000000-0000-4000-8000-000000000000');
    expect(deep.status()).toBe(404);
    const api = await page.evaluate(async () => {
      const result = await fetch('/api/v1/ops/orders');
      return { status: result.status, body: (await result.json()) as { detail: string } };
    });
    expect(api).toEqual({
      status: 404,
      body: expect.objectContaining({ detail: 'No route GET /api/v1/ops/orders.' }),
    });
    // Inside the portal, /ops leads a customer back to their overview.
    await page.evaluate(() => window.history.pushState(null, '', '/ops'));
    await page.goto('/');
    await page.getByRole('heading', { level: 1, name: 'Übersicht' }).waitFor();
  });
});

describe('an operator retries a failed order; the customer watches attempt 2 reach DONE', () => {
  it(
    'finds the failed order, reads its detail, retries it; the customer sees the new attempt live until DONE',
    { timeout: 12 * 60_000 },
    async () => {
      const customer = shared.customer!;
      const placed = await portal.keyhouse.request({
        method: 'POST',
        url: '/api/v1/orders',
        headers: await sessionHeadersOf(customer),
        payload: exampleOrder(portal.keyhouse.config),
      });
      expect(placed.statusCode).toBe(201);
      const orderId = placed.json<{ id: string }>().id;
      shared.orderId = orderId;
      // Stand-in for a failed first attempt (see the note at the top).
      const db = portal.keyhouse.db;
      await transitionOrder(db.pool, orderId, 'new', 'processing');
      await recordOrderStep(db.pool, orderId, 'database', 'done', 'database and role created');
      await recordOrderStep(
        db.pool,
        orderId,
        'keycloak-start',
        'failed',
        'Keycloak did not become ready in time.',
      );
      await db.transaction((tx) =>
        transitionOrder(tx, orderId, 'processing', 'failed', {
          reason: 'Provisioning did not complete after several attempts.',
          operatorDetail: 'readiness probe: connection refused on the management port after 180 s',
        }),
      );

      // The customer sees the failure and keeps the page open.
      await customer.goto(`/orders/${orderId}`);
      await customer.getByText('Es ist leider etwas schiefgegangen.').first().waitFor();
      await customer.getByTestId('failure-reason').getByText('Provisioning did not complete').waitFor();

      // The operator signs in at the same portal and lands in the console.
      const operatorAccount = await createE2eOperator(portal, 'operator');
      const { page: operator, errors: operatorErrors } = await newPage(browser, portal.baseUrl, 'en');
      shared.operator = operator;
      await operator.goto('/login');
      await operator.getByLabel('E-mail address').fill(operatorAccount.email);
      await operator.getByLabel('Password').fill(TEST_PASSWORD);
      await operator.getByRole('button', { name: 'Log in', exact: true }).click();
      await operator.waitForURL(/\/ops$/);
      await operator.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
      await operator.getByTestId('operator-console').waitFor();

      // Filter: failed orders.
      await operator.getByLabel('Status').selectOption('failed');
      await operator.getByRole('button', { name: 'Apply' }).click();
      await operator.waitForURL(/status=failed/);
      const row = operator.getByRole('row').filter({ hasText: 'Kunde mit Problem GmbH' });
      await row.waitFor();
      await expectAccessible(operator, 'ops orders (en)');
      await screenshot(operator, 'en-ops-orders-failed');
      await row.getByRole('link', { name: orderId.slice(0, 8) }).click();
      await operator.waitForURL(new RegExp(`/ops/orders/${orderId}$`));
      await operator
        .getByTestId('operator-detail')
        .getByText('connection refused on the management port')
        .waitFor();
      await operator.getByRole('cell', { name: 'Keycloak did not become ready in time.' }).waitFor();
      await operator.getByText('No log readable here').waitFor();
      await expectAccessible(operator, 'ops order detail, failed (en)');
      await screenshot(operator, 'en-ops-order-failed');

      // The worker comes up (it adopts nothing: the order is failed, no job waits); then the retry.
      const workerConfig = { ...portal.keyhouse.config, roles: ['worker' as const, 'edge' as const] };
      worker = await createKeyhouse({
        config: workerConfig,
        databaseUrl: portal.keyhouse.databaseUrl,
        logger: createLogger({ level: process.env.KEYHOUSE_TEST_LOG ?? 'silent' }),
        distributionCacheDir: testKeycloakCache,
      });
      await operator.getByRole('button', { name: 'Retry order' }).click();
      await operator.getByRole('dialog').getByText('Start attempt 2 of this order?').waitFor();
      await operator.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
      await operator.getByTestId('ops-attempt').getByText('Attempt 2').waitFor();
      await operator.getByTestId('attempt-1').getByText(`retried by ${operatorAccount.email}`).waitFor();

      // The customer's page, untouched since: it notices the retry and follows attempt 2 live.
      await customer.getByTestId('order-attempt').getByText('Versuch 2').waitFor({ timeout: 30_000 });
      await customer
        .getByTestId('previous-attempts')
        .getByText(/Versuch 1 ist am .* fehlgeschlagen/)
        .waitFor();
      await screenshot(customer, 'de-order-status-retried');
      await customer
        .locator('.pf-v6-c-progress-stepper__step.pf-m-current')
        .getByText('DONE')
        .waitFor({ timeout: 8 * 60_000 });
      await customer.getByText('Herzlichen Glückwunsch').first().waitFor();
      await expectAccessible(customer, 'order done after retry (de)');
      await screenshot(customer, 'de-order-status-done-after-retry');

      // The operator's view of the finished order: its steps and the instance's log.
      await operator.reload();
      await operator.getByTestId('log-tail').waitFor();
      expect(await operator.getByTestId('log-tail').textContent()).toMatch(/Keycloak|keycloak/);
      await screenshot(operator, 'en-ops-order-done');

      // The provider's metrics after this order, with real step durations.
      const metrics = await (await fetch(`${portal.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/^keyhouse_orders\{type="create",status="done"\} 1$/m);
      expect(metrics).toMatch(/^keyhouse_instances\{region="local",state="running"\} 1$/m);
      expect(metrics).toMatch(/^keyhouse_provisioning_step_duration_seconds_count\{step="verify"\} 1$/m);
      expect(operatorErrors).toEqual([]);
      expect(shared.customerErrors).toEqual([]);
    },
  );
});

describe('a ticket conversation both ways', () => {
  it('customer opens a ticket, the operator answers, the customer replies, the operator closes it', async () => {
    const customer = shared.customer!;
    const operator = shared.operator!;
    await customer.goto(`/tickets?orderId=${shared.orderId}`);
    await customer.getByLabel('Betreff').fill('Erster Versuch fehlgeschlagen');
    await customer.getByLabel('Nachricht').fill('Was war beim ersten Versuch los?');
    await customer.getByRole('button', { name: 'Ticket senden' }).click();
    await customer.getByRole('link', { name: 'Erster Versuch fehlgeschlagen' }).click();
    await customer.getByTestId('ticket-status').getByText('offen').waitFor();

    await operator.goto('/ops/tickets');
    await operator.getByRole('link', { name: 'Erster Versuch fehlgeschlagen' }).click();
    await operator.getByText('Was war beim ersten Versuch los?').waitFor();
    await operator.getByRole('link', { name: 'Linked order' }).waitFor();
    await operator.getByLabel('Your reply').fill('The node ran out of memory; attempt 2 went through.');
    await operator.getByRole('button', { name: 'Send reply' }).click();
    await operator.getByTestId('ticket-status').getByText('waiting for the customer').waitFor();
    await expectAccessible(operator, 'ops ticket (en)');
    await screenshot(operator, 'en-ops-ticket');

    await customer.reload();
    await customer.getByTestId('reply-operator').getByText('Keyhouse support').waitFor();
    await customer.getByText('The node ran out of memory; attempt 2 went through.').waitFor();
    await customer.getByTestId('ticket-status').getByText('wartet auf Sie').waitFor();
    await customer.getByLabel('Ihre Antwort').fill('Danke, alles läuft.');
    await customer.getByRole('button', { name: 'Antwort senden' }).click();
    await customer.getByTestId('ticket-status').getByText('offen').waitFor();
    await expectAccessible(customer, 'ticket conversation (de)');
    await screenshot(customer, 'de-ticket-conversation');

    await operator.reload();
    await operator.getByTestId('reply-customer').getByText('Danke, alles läuft.').waitFor();
    await operator.getByRole('button', { name: 'Set status: closed' }).click();
    await operator.getByTestId('ticket-status').getByText('closed').waitFor();
  });

  it('shows instances and capacity to the operator', async () => {
    const operator = shared.operator!;
    await operator.getByRole('link', { name: 'Instances' }).click();
    await operator.getByRole('cell', { name: /Kunde mit Problem GmbH/ }).waitFor();
    // The worker's supervisor observes the instance's conditions every 15 s.
    await expect
      .poll(
        async () => {
          await operator.reload();
          await operator.getByRole('cell', { name: /Kunde mit Problem GmbH/ }).waitFor();
          return operator.getByText('Ready', { exact: true }).count();
        },
        { timeout: 60_000, interval: 3_000 },
      )
      .toBeGreaterThan(0);
    await expectAccessible(operator, 'ops instances (en)');
    await screenshot(operator, 'en-ops-instances');
    await operator.getByRole('link', { name: 'Capacity' }).click();
    await operator.getByRole('cell', { name: /Local/ }).waitFor();
    await screenshot(operator, 'en-ops-capacity');
  });
});
