/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  screenshot,
  signUp,
  startPortal,
  type Language,
  type Portal,
} from './portal.js';

// The order-status and instance pages in every state. Provisioning (and with it GET /api/v1/instances/{id}, the
// order events and the credentials) is built alongside the portal, so these tests answer those calls themselves
// with the documented shapes; the wizard tests run against the real API.

let portal: Portal;
let browser: Browser;
beforeAll(async () => {
  [portal, browser] = await Promise.all([startPortal(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await portal?.stop();
});

const ORDER = '0b5d1f8e-3c1a-4f6e-9d2b-7a8c9e0f1a2b';
const CHANGE = '1c6e2a9f-4d2b-4a7f-8e3c-8b9d0f1a2b3c';
const INSTANCE = '2d7f3b0a-5e3c-4b8a-9f4d-9c0e1a2b3c4d';
const at = (minute: number) => `2026-11-27T10:${String(minute).padStart(2, '0')}:00.000Z`;

const order = (status: string, extra: object = {}) => ({
  id: ORDER,
  type: 'create',
  status,
  instanceId: INSTANCE,
  price: { currency: 'EUR', perHour: '0.1492', perMonth: '108.90' },
  priceDelta: null,
  failureReason: null,
  createdAt: at(0),
  updatedAt: at(4),
  steps: [
    { name: 'create-database', status: 'done', startedAt: at(1), finishedAt: at(1) },
    { name: 'start-keycloak', status: 'done', startedAt: at(1), finishedAt: at(3) },
    {
      name: 'configure-edge',
      status: status === 'failed' ? 'failed' : status === 'done' ? 'done' : 'running',
      startedAt: at(3),
      finishedAt: status === 'processing' ? null : at(4),
    },
  ],
  ...extra,
});

const instance = {
  id: INSTANCE,
  name: 'kd500001-keycloak-1',
  status: 'running',
  serviceType: 'keycloak',
  version: '26.7.3',
  nodeSize: 'b2-4',
  storageGb: 100,
  trustedSources: ['145.253.1.7/32', '127.0.0.1/32'],
  region: 'local',
  zone: 'local-1',
  url: 'https://kd500001-keycloak-1.localhost:18000',
  adminUsername: 'kd500001-admin',
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'Healthy',
      message: 'Keycloak answers /health/ready',
      lastTransitionTime: at(4),
    },
    {
      type: 'Synced',
      status: 'True',
      reason: 'Applied',
      message: 'The spec is applied',
      lastTransitionTime: at(4),
    },
  ],
  usage: { storageUsedGb: 12.5 },
};

const json = (route: Route, body: unknown, status = 200) =>
  route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });

async function stubOrder(page: Page, status: string, extra: object = {}) {
  await page.route(`**/api/v1/orders/${ORDER}`, (route) => json(route, order(status, extra)));
  await page.route(`**/api/v1/orders/${ORDER}/events`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/event-stream',
      body: `data: ${JSON.stringify(order(status, extra))}\n\n`,
    }),
  );
}

const words = {
  de: {
    processing: 'Status, sobald die automatische Bereitstellung angelaufen ist.',
    failed: 'Es ist leider etwas schiefgegangen.',
    openTicket: 'Ticket öffnen',
    toInstance: 'Zur Instanz',
    subject: 'Betreff',
    show: 'Zugangsdaten anzeigen',
    hide: 'Zugangsdaten verbergen',
    edit: 'Vertrauenswürdige Quellen bearbeiten',
    place: 'Änderung beauftragen',
    source3: 'Vertrauenswürdige Quelle 3',
    add: 'Quelle hinzufügen',
  },
  en: {
    processing: 'Automatic provisioning has started.',
    failed: 'Unfortunately something went wrong.',
    openTicket: 'Open a ticket',
    toInstance: 'Go to the instance',
    subject: 'Subject',
    show: 'Show credentials',
    hide: 'Hide credentials',
    edit: 'Edit trusted sources',
    place: 'Order the change',
    source3: 'Trusted source 3',
    add: 'Add a source',
  },
};

describe('order status and instance pages', () => {
  for (const language of ['de', 'en'] as Language[]) {
    it(`show every state, live updates, credentials and the trusted-source change (${language})`, async () => {
      const w = words[language];
      const { page, context, errors } = await newPage(browser, portal.baseUrl, language);
      await signUp(page, language);

      // new → processing, live.
      // The first GET says "new"; the stream (or, once it ends, the polling fallback) brings "processing".
      let reads = 0;
      await page.route(`**/api/v1/orders/${ORDER}`, (route) =>
        json(route, order(reads++ === 0 ? 'new' : 'processing')),
      );
      await page.route(`**/api/v1/orders/${ORDER}/events`, (route) =>
        route.fulfill({
          status: 200,
          contentType: 'text/event-stream',
          body: `data: ${JSON.stringify(order('processing'))}\n\n`,
        }),
      );
      await page.goto(`/orders/${ORDER}`);
      await page.locator('.pf-v6-c-progress-stepper__step.pf-m-current').getByText('processing').waitFor();
      await page.getByText(w.processing).first().waitFor();
      await expectAccessible(page, `order processing (${language})`);
      await screenshot(page, `${language}-order-status-processing`);
      await page.unrouteAll();

      // failed: the reason, and a ticket prefilled with the order.
      await stubOrder(page, 'failed', { failureReason: 'Keycloak did not become ready within 5 minutes.' });
      await page.goto(`/orders/${ORDER}`);
      await page.getByTestId('failure-reason').waitFor();
      await page.getByText(w.failed).first().waitFor();
      await expectAccessible(page, `order failed (${language})`);
      await screenshot(page, `${language}-order-status-failed`);
      await page.getByRole('button', { name: w.openTicket }).click();
      await page.waitForURL(new RegExp(`/tickets\\?orderId=${ORDER}`));
      await expect.poll(() => page.getByLabel(w.subject).inputValue()).toContain(ORDER.slice(0, 8));
      await screenshot(page, `${language}-ticket-prefilled`);
      await page.unrouteAll();

      // DONE leads to the instance.
      await stubOrder(page, 'done');
      await page.route(`**/api/v1/instances/${INSTANCE}`, (route) => json(route, instance));
      await page.route(`**/api/v1/instances/${INSTANCE}/credentials/reveal`, (route) =>
        json(route, { username: 'kd500001-admin', password: 'S3cret-from-the-vault' }),
      );
      let changeRequest: { headers: Record<string, string>; body: unknown } | undefined;
      await page.route(`**/api/v1/instances/${INSTANCE}/orders`, (route) => {
        changeRequest = { headers: route.request().headers(), body: route.request().postDataJSON() };
        return json(route, { ...order('new'), id: CHANGE, type: 'trusted-sources', steps: [] }, 201);
      });
      await page.route(`**/api/v1/orders/${CHANGE}`, (route) =>
        json(route, { ...order('new'), id: CHANGE, type: 'trusted-sources', steps: [] }),
      );
      await page.route(`**/api/v1/orders/${CHANGE}/events`, (route) => route.fulfill({ status: 404 }));
      await page.goto(`/orders/${ORDER}`);
      await screenshot(page, `${language}-order-status-done`);
      await page.getByRole('link', { name: w.toInstance }).click();
      await page.waitForURL(new RegExp(`/instances/${INSTANCE}$`));
      await page.getByRole('heading', { level: 1, name: /kd500001-keycloak-1/ }).waitFor();
      await expectAccessible(page, `instance (${language})`);
      await screenshot(page, `${language}-instance`);

      // Credentials: shown on request, hidden again.
      await page.getByRole('button', { name: w.show }).click();
      const password = page.getByTestId('revealed-password').locator('input');
      await expect.poll(() => password.inputValue()).toBe('S3cret-from-the-vault');
      await screenshot(page, `${language}-instance-credentials`);
      await page.getByRole('button', { name: w.hide }).click();
      await page.getByRole('button', { name: w.show }).waitFor();
      expect(await page.getByText('S3cret-from-the-vault').count()).toBe(0);
      expect(await page.locator('a[href="/api/v1/ca.pem"]').count()).toBe(1);

      // Trusted sources: a change order with an Idempotency-Key, then its status page.
      await page.getByRole('button', { name: w.edit }).click();
      await page.getByRole('button', { name: w.add }).click();
      await page.getByRole('textbox', { name: w.source3, exact: true }).fill('0.0.0.0/0');
      await page.getByText('would allow the whole Internet').waitFor();
      expect(await page.getByRole('button', { name: w.place }).isDisabled()).toBe(true);
      await page.getByRole('textbox', { name: w.source3, exact: true }).fill('145.253.2.0/28');
      await screenshot(page, `${language}-instance-sources-editor`);
      await page.getByRole('button', { name: w.place }).click();
      await page.waitForURL(new RegExp(`/orders/${CHANGE}$`));
      expect(changeRequest?.body).toEqual({
        type: 'trusted-sources',
        trustedSources: ['145.253.1.7/32', '127.0.0.1/32', '145.253.2.0/28'],
      });
      expect(changeRequest?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(changeRequest?.headers['x-csrf-token']).toBeTruthy();
      expect(errors).toEqual([]);
      await context.close();
    });
  }
});
