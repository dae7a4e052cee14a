/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  provisioningConfig,
  screenshot,
  signUp,
  startPortal,
  texts,
  type Language,
  type Portal,
} from './portal.js';

// The order-status and instance pages against a real Keyhouse with real provisioning: ONE instance is ordered
// through the wizard in German, watched live until DONE, and its credentials revealed; the English part then looks
// at the same order and instance in English. Only the failed state is answered by the test itself (a real failure
// would cost a second Keycloak start, several minutes on this machine).

let portal: Portal;
let browser: Browser;
beforeAll(async () => {
  [portal, browser] = await Promise.all([startPortal(provisioningConfig), launchBrowser()]);
}, 10 * 60_000);
afterAll(async () => {
  await browser?.close();
  // Whatever the tests left running (normally nothing: the day-2 test deletes the instance) is removed through the
  // driver, so a failed run leaves no Keycloak process, database or files behind. The scratch database is this file's.
  if (portal) {
    const { rows } = await portal.keyhouse.db.pool.query<{ id: string; name: string }>(
      "SELECT id, name FROM instances WHERE status <> 'deleted'",
    );
    for (const { id, name } of rows)
      await portal.keyhouse.localBackend!.driver.destroy({ instanceId: id, name }, async () => undefined);
  }
  await portal?.stop();
}, 180_000);

/** What the German part leaves for the English part (the tests of this file run in order, on one instance). */
const shared: {
  page?: Page;
  context?: BrowserContext;
  errors?: string[];
  orderId?: string;
  instanceId?: string;
} = {};

const words = {
  de: {
    processing: 'Status, sobald die automatische Bereitstellung angelaufen ist.',
    done: 'Herzlichen Glückwunsch',
    failed: 'Es ist leider etwas schiefgegangen.',
    openTicket: 'Ticket öffnen',
    toInstance: 'Zur Instanz',
    subject: 'Betreff',
    message: 'Nachricht',
    // The failed order's reason, from its coded parts (failureReasonParts) in the reader's language.
    reason: 'Die Bereitstellung ist auch nach mehreren Versuchen nicht abgeschlossen.',
    show: 'Zugangsdaten anzeigen',
    hide: 'Zugangsdaten verbergen',
    edit: 'Vertrauenswürdige Quellen bearbeiten',
    place: 'Änderung beauftragen',
    source3: 'Vertrauenswürdige Quelle 3',
    add: 'Quelle hinzufügen',
    running: 'läuft',
  },
  en: {
    processing: 'Automatic provisioning has started.',
    done: 'Congratulations',
    failed: 'Unfortunately something went wrong.',
    openTicket: 'Open a ticket',
    toInstance: 'Go to the instance',
    subject: 'Subject',
    message: 'Message',
    reason: 'Provisioning did not complete after several attempts.',
    show: 'Show credentials',
    hide: 'Hide credentials',
    edit: 'Edit trusted sources',
    place: 'Order the change',
    source3: 'Trusted source 3',
    add: 'Add a source',
    running: 'running',
  },
};

const currentState = (page: Page) => page.locator('.pf-v6-c-progress-stepper__step.pf-m-current');
const nextButton = (page: Page, language: Language) =>
  page.locator('.pf-v6-c-wizard__footer').getByRole('button', { name: texts[language].next, exact: true });

/** Clicks through every step of the wizard (the refusals on the way are wizard.test.ts's business). */
async function orderThroughWizard(page: Page, language: Language) {
  const t = texts[language];
  await page.getByRole('navigation').getByRole('link', { name: t.orderInstance }).click();
  const current = (index: number) =>
    page
      .locator('.pf-v6-c-wizard__nav')
      .getByRole('button', { name: t.steps[index]!, exact: true })
      .and(page.locator('[aria-current="step"]'))
      .waitFor();
  for (let index = 0; index < 4; index++) {
    await current(index);
    await nextButton(page, language).click();
  }
  await current(4);
  // The browser comes from 127.0.0.1, which the local region accepts: the portal offers it.
  const mine = page.getByRole('button', { name: t.addMine });
  if (await mine.isVisible()) await mine.click();
  else {
    await page.getByRole('button', { name: t.addSource }).click();
    await page.getByRole('textbox', { name: t.source(1), exact: true }).fill('127.0.0.1');
  }
  await expect
    .poll(() => page.getByRole('textbox', { name: t.source(1), exact: true }).inputValue())
    .toBe('127.0.0.1');
  await nextButton(page, language).click();
  await current(5);
  await nextButton(page, language).click();
  await current(6);
  await page.getByLabel(t.company).fill('Beispiel GmbH');
  await page.getByLabel(t.street).fill('Hafenstraße 1');
  await page.getByLabel(t.postalCode).fill('20457');
  await page.getByLabel(t.city).fill('Hamburg');
  await page.getByLabel(t.invoiceEmail).fill('rechnung@example.com');
  await nextButton(page, language).click();
  await current(7);
  await page.getByRole('checkbox', { name: t.terms }).check();
  await page.getByRole('button', { name: t.orderNow }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
  return page.url().split('/').at(-1)!;
}

async function switchLanguage(page: Page, language: Language) {
  await page.locator(`#language-${language}`).click();
  await page
    .locator('html')
    .and(page.locator(`[lang="${language}"]`))
    .waitFor();
}

/** Reveals the credentials, checks they are shown and copyable, and hides them again. */
async function revealCredentials(page: Page, language: Language, name: string) {
  const w = words[language];
  await page.getByRole('button', { name: w.show }).click();
  const password = page.getByTestId('revealed-password').locator('input');
  await expect.poll(() => password.inputValue()).toMatch(/^.{12,}$/);
  const secret = await password.inputValue();
  await screenshot(page, name);
  await page.getByRole('button', { name: w.hide }).click();
  await page.getByRole('button', { name: w.show }).waitFor();
  expect(await page.getByText(secret).count()).toBe(0);
  return secret;
}

describe('order status and instance pages with a real Keycloak', () => {
  it(
    'German: wizard → status live until DONE → instance → credentials',
    { timeout: 9 * 60_000 },
    async () => {
      const language = 'de';
      const w = words[language];
      const { page, context, errors } = await newPage(browser, portal.baseUrl, language);
      Object.assign(shared, { page, context, errors });
      await signUp(page, language);
      const orderId = await orderThroughWizard(page, language);
      shared.orderId = orderId;

      // Live: the stream brings "processing" and the steps as the worker runs them.
      await currentState(page).getByText('processing').waitFor({ timeout: 60_000 });
      await page.getByText('Wird live aktualisiert.').waitFor();
      await page.getByRole('img', { name: 'erledigt' }).first().waitFor({ timeout: 120_000 });
      await expectAccessible(page, 'order processing (de)');
      await screenshot(page, 'de-order-status-processing');
      // The same page in English while it runs; then back to German.
      await switchLanguage(page, 'en');
      await page.getByText(words.en.processing).first().waitFor();
      await screenshot(page, 'en-order-status-processing');
      await switchLanguage(page, 'de');

      // DONE with a real Keycloak (no reload: the stream must bring it).
      await currentState(page)
        .getByText('DONE')
        .waitFor({ timeout: 6 * 60_000 });
      await page.getByText(w.done).first().waitFor();
      await expectAccessible(page, 'order done (de)');
      await screenshot(page, 'de-order-status-done');

      await page.getByRole('link', { name: w.toInstance }).click();
      await page.waitForURL(/\/instances\/[0-9a-f-]{36}$/);
      shared.instanceId = page.url().split('/').at(-1)!;
      const instance = (await (await page.request.get(`/api/v1/instances/${shared.instanceId}`)).json()) as {
        name: string;
        status: string;
        url: string;
      };
      expect(instance.status).toBe('running');
      await page.getByRole('heading', { level: 1, name: new RegExp(instance.name) }).waitFor();
      await expect.poll(() => page.getByRole('textbox', { name: 'URL' }).inputValue()).toBe(instance.url);
      await expectAccessible(page, 'instance (de)');
      await screenshot(page, 'de-instance');
      await revealCredentials(page, language, 'de-instance-credentials');
      expect(await page.locator('a[href="/api/v1/ca.pem"]').count()).toBe(1);
      expect(errors).toEqual([]);
    },
  );

  it(
    'English: the same order and instance, credentials, a trusted-source change, an admin-sources change',
    { timeout: 4 * 60_000 },
    async () => {
      const language = 'en';
      const w = words[language];
      const { page, errors, orderId, instanceId } = shared;
      if (!page || !orderId || !instanceId)
        throw new Error('the German part did not get as far as the instance');
      await switchLanguage(page, language);

      await page.goto(`/orders/${orderId}`);
      await currentState(page).getByText('DONE').waitFor();
      await page.getByText(w.done).first().waitFor();
      await expectAccessible(page, 'order done (en)');
      await screenshot(page, 'en-order-status-done');
      await page.getByRole('link', { name: w.toInstance }).click();
      await page.waitForURL(new RegExp(`/instances/${instanceId}$`));
      await page.getByRole('button', { name: w.show }).waitFor();
      await expectAccessible(page, 'instance (en)');
      await screenshot(page, 'en-instance');
      await revealCredentials(page, language, 'en-instance-credentials');

      // Trusted sources: a real change order with an Idempotency-Key, then its status page until DONE.
      let changeHeaders: Record<string, string> | undefined;
      page.on('request', (request) => {
        if (request.method() === 'POST' && request.url().endsWith(`/api/v1/instances/${instanceId}/orders`))
          changeHeaders = request.headers();
      });
      await page.getByRole('button', { name: w.edit }).click();
      await page.getByRole('button', { name: w.add }).click();
      await page.getByRole('textbox', { name: 'Trusted source 2', exact: true }).fill('0.0.0.0/0');
      await page.getByText('would allow the whole Internet').waitFor();
      expect(await page.getByRole('button', { name: w.place }).isDisabled()).toBe(true);
      await page.getByRole('textbox', { name: 'Trusted source 2', exact: true }).fill('145.253.2.0/28');
      await screenshot(page, 'en-instance-sources-editor');
      await page.getByRole('button', { name: w.place }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      expect(page.url()).not.toContain(orderId);
      expect(changeHeaders?.['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(changeHeaders?.['x-csrf-token']).toBeTruthy();
      await currentState(page).getByText('DONE').waitFor({ timeout: 120_000 });
      const after = (await (await page.request.get(`/api/v1/instances/${instanceId}`)).json()) as {
        trustedSources: string[];
      };
      expect(after.trustedSources).toHaveLength(2);
      expect(after.trustedSources).toContain('145.253.2.0/28');

      // Admin sources: every trusted source at first; then only one address of the new range, as a change order.
      await page.goto(`/instances/${instanceId}`);
      await expect.poll(() => page.getByTestId('admin-sources').textContent()).toBe('All trusted sources');
      await page.getByRole('button', { name: 'Edit admin sources' }).click();
      await page.getByRole('radio', { name: 'Only these trusted sources' }).check();
      await page.getByRole('button', { name: 'Add an admin source', exact: true }).click();
      const admin = page.getByRole('textbox', { name: 'Admin source 1', exact: true });
      await admin.fill('10.9.9.9');
      await page.getByText('is not within the trusted sources').waitFor();
      expect(await page.getByRole('button', { name: w.place }).isDisabled()).toBe(true);
      await admin.fill('145.253.2.1');
      await expectAccessible(page, 'instance admin sources editor (en)');
      await page.getByRole('button', { name: w.place }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      await currentState(page).getByText('DONE').waitFor({ timeout: 120_000 });
      const admins = (await (await page.request.get(`/api/v1/instances/${instanceId}`)).json()) as {
        adminSources: string[] | null;
      };
      expect(admins.adminSources).toEqual(['145.253.2.1/32']);
      expect(errors).toEqual([]);
    },
  );
});

describe('day-2 changes in the portal, on the same instance', () => {
  it(
    'scales b2-4 → b4-8 with the cost confirmation, then deletes with protection off and the typed name',
    {
      timeout: 6 * 60_000,
    },
    async () => {
      const { page, errors, instanceId } = shared;
      if (!page || !instanceId) throw new Error('the German part did not get as far as the instance');
      const dialog = page.getByRole('dialog');
      const instanceApi = async () =>
        (await (await page.request.get(`/api/v1/instances/${instanceId}`)).json()) as {
          name: string;
          status: string;
          nodeSize: string;
          deletionProtection: boolean;
        };
      const orderIdOf = () => page.url().split('/').at(-1)!;

      // Scale: the picker with prices, the new price and delta, then the confirmation with the wizard's wording.
      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('button', { name: 'Change the node size' }).click();
      await dialog.getByRole('radio', { name: /b4-8/ }).check();
      await dialog.getByText('New price').first().waitFor();
      await expectAccessible(page, 'scale dialog (en)');
      await screenshot(page, 'en-instance-scale-dialog');
      await dialog.getByRole('button', { name: 'Review the costs' }).click();
      await dialog.getByRole('heading', { name: 'Confirm the costs' }).waitFor();
      expect(await dialog.getByTestId('change-new-price').textContent()).toMatch(/€[\d.,]+ per hour/);
      expect(await dialog.getByTestId('change-price-delta').textContent()).toMatch(
        /^\+€[\d.,]+ per hour · \+€/,
      );
      await screenshot(page, 'en-instance-scale-confirm');
      await dialog.getByRole('button', { name: 'Order now (with costs)' }).dblclick();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      const scaleOrder = orderIdOf();
      await page.getByRole('heading', { level: 1, name: /Node size/ }).waitFor();

      // While it runs, the instance page offers no change but a link to the running order.
      await page.goto(`/instances/${instanceId}`);
      await page.getByTestId('change-running').waitFor();
      expect(await page.getByRole('button', { name: 'Change the node size' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Delete' }).isDisabled()).toBe(true);
      await screenshot(page, 'en-instance-change-running');
      await page.getByRole('link', { name: 'Go to the running order' }).click();
      await page.waitForURL(new RegExp(`/orders/${scaleOrder}$`));
      await currentState(page)
        .getByText('DONE')
        .waitFor({ timeout: 3 * 60_000 });
      await screenshot(page, 'en-order-status-scale-done');
      const orders = (await (await page.request.get(`/api/v1/orders?instanceId=${instanceId}`)).json()) as {
        items: { type: string }[];
      };
      expect(orders.items.filter((o) => o.type === 'scale')).toHaveLength(1);
      expect((await instanceApi()).nodeSize).toBe('b4-8');

      // Delete: refused while protected; protection off, the typed name, then the order until DONE.
      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('button', { name: 'Delete' }).click();
      const name = (await instanceApi()).name;
      const deleteButton = dialog.getByRole('button', { name: 'Delete for good' });
      expect(await deleteButton.isDisabled()).toBe(true);
      await dialog.getByText('Deletion protection is on').waitFor();
      // The switch's input sits under its styled toggle: a user clicks the label.
      await dialog.locator('label[for="delete-dialog-protection"]').click();
      await expect.poll(async () => (await instanceApi()).deletionProtection).toBe(false);
      const typed = dialog.getByLabel(`Type the instance name ${name} to confirm`);
      await typed.fill(`${name}-typo`);
      await dialog.getByText(`Type the name exactly as shown: ${name}`).waitFor();
      expect(await deleteButton.isDisabled()).toBe(true);
      await typed.fill(name);
      await expect.poll(() => deleteButton.isEnabled()).toBe(true);
      await expectAccessible(page, 'delete dialog (en)');
      await screenshot(page, 'en-instance-delete-dialog');
      await deleteButton.click();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      expect(orderIdOf()).not.toBe(scaleOrder);
      await currentState(page)
        .getByText('DONE')
        .waitFor({ timeout: 3 * 60_000 });
      await page.getByRole('link', { name: words.en.toInstance }).click();
      await page.getByTestId('instance-status').getByText('deleted').waitFor();
      await page.getByText('This instance is deleted').waitFor();
      expect(await page.getByRole('button', { name: 'Show credentials' }).count()).toBe(0);
      await screenshot(page, 'en-instance-deleted');
      expect((await instanceApi()).status).toBe('deleted');

      // The audit log shows who did it, from where; the usage of the billing profile loads.
      await page.getByRole('navigation').getByRole('link', { name: 'Audit log' }).click();
      await page.getByText('instance.deletion-protection').first().waitFor();
      await page.locator('td', { hasText: '127.0.0.1' }).first().waitFor();
      await expectAccessible(page, 'audit (en)');
      await screenshot(page, 'en-audit');
      await switchLanguage(page, 'de');
      await page.getByRole('heading', { level: 1, name: 'Audit-Log' }).waitFor();
      await screenshot(page, 'de-audit');
      await page.getByRole('navigation').getByRole('link', { name: 'Abrechnungsprofile' }).click();
      await page.getByRole('heading', { level: 2, name: 'Nutzung' }).waitFor();
      await page.getByTestId('usage-total').or(page.getByText('Keine Nutzung in diesem Monat')).waitFor();
      await expectAccessible(page, 'billing usage (de)');
      await screenshot(page, 'de-billing-usage');
      expect(errors).toEqual([]);
    },
  );
});

// ---- The failed state: answered by the test (see the top of the file) ----

const FAILED_ORDER = '0b5d1f8e-3c1a-4f6e-9d2b-7a8c9e0f1a2b';
const FAILED_INSTANCE = '2d7f3b0a-5e3c-4b8a-9f4d-9c0e1a2b3c4d';
const at = (minute: number) => `2026-11-27T10:${String(minute).padStart(2, '0')}:00.000Z`;
const failedOrder = {
  id: FAILED_ORDER,
  type: 'create',
  status: 'failed',
  instanceId: FAILED_INSTANCE,
  price: { currency: 'EUR', perHour: '0.1492', perMonth: '108.90' },
  priceDelta: null,
  failureReason: 'Provisioning did not complete after several attempts.',
  failureReasonParts: [{ code: 'failure.provisioningGaveUp', params: {} }],
  createdAt: at(0),
  updatedAt: at(4),
  steps: [
    { name: 'create-database', status: 'done', startedAt: at(1), finishedAt: at(1) },
    { name: 'start-keycloak', status: 'done', startedAt: at(1), finishedAt: at(3) },
    { name: 'wait-ready', status: 'failed', startedAt: at(3), finishedAt: at(4) },
  ],
};
const json = (route: Route, body: unknown) =>
  route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });

describe('a failed order (answered by the test)', () => {
  for (const language of ['de', 'en'] as Language[]) {
    it(`shows the reason and opens a prefilled ticket (${language})`, async () => {
      const w = words[language];
      const { page, context, errors } = await newPage(browser, portal.baseUrl, language);
      await signUp(page, language);
      // FAKED: only this order's GET and its event stream; everything else is the real API.
      await page.route(`**/api/v1/orders/${FAILED_ORDER}`, (route) => json(route, failedOrder));
      await page.route(`**/api/v1/orders/${FAILED_ORDER}/events`, (route) =>
        route.fulfill({
          status: 200,
          contentType: 'text/event-stream',
          body: `data: ${JSON.stringify(failedOrder)}\n\n`,
        }),
      );
      await page.goto(`/orders/${FAILED_ORDER}`);
      await page.getByTestId('failure-reason').waitFor();
      expect(await page.getByTestId('failure-reason').textContent()).toBe(w.reason);
      await page.getByText(w.failed).first().waitFor();
      await expectAccessible(page, `order failed (${language})`);
      await screenshot(page, `${language}-order-status-failed`);
      await page.getByRole('button', { name: w.openTicket }).click();
      await page.waitForURL(new RegExp(`/tickets\\?orderId=${FAILED_ORDER}`));
      await expect.poll(() => page.getByLabel(w.subject).inputValue()).toContain(FAILED_ORDER.slice(0, 8));
      // The ticket's text starts with the reason as the status page said it.
      expect(await page.getByLabel(w.message).inputValue()).toContain(w.reason);
      await screenshot(page, `${language}-ticket-prefilled`);
      expect(errors).toEqual([]);
      await context.close();
    });
  }
});
