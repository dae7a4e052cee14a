/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOrderStep } from '../../src/orders/order-steps.js';
import { message } from '../../src/platform/messages.js';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  screenshot,
  signUp,
  startPortal,
  texts,
  type Language,
  type Portal,
} from './portal.js';

let portal: Portal;
let browser: Browser;
beforeAll(async () => {
  [portal, browser] = await Promise.all([startPortal(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await portal?.stop();
});

const wizardNav = (page: Page) => page.locator('.pf-v6-c-wizard__nav');
const nextButton = (page: Page, language: Language) =>
  page.locator('.pf-v6-c-wizard__footer').getByRole('button', { name: texts[language].next, exact: true });
const sourceInput = (page: Page, language: Language, n: number) =>
  page.getByRole('textbox', { name: texts[language].source(n), exact: true });
const stepHeading = (page: Page) => page.locator('.pf-v6-c-wizard__main h2').first();

async function step(page: Page, language: Language, index: number, check?: () => Promise<void>) {
  const t = texts[language];
  const name = t.steps[index]!;
  await wizardNav(page)
    .getByRole('button', { name, exact: true })
    .and(page.locator('[aria-current="step"]'))
    .waitFor();
  await stepHeading(page).waitFor();
  if (check) await check();
  await expectAccessible(page, `wizard step ${index + 1} (${language})`);
  await screenshot(page, `${language}-wizard-${index + 1}-${name.toLowerCase().replace(/[^a-zäöü]+/g, '-')}`);
}

/** Orders through every step of the wizard with the mouse, checking refusals on the way. */
async function orderThroughWizard(page: Page, language: Language) {
  const t = texts[language];
  await page.getByRole('navigation').getByRole('link', { name: t.orderInstance }).click();
  for (const name of t.steps) await wizardNav(page).getByRole('button', { name, exact: true }).waitFor();

  await step(page, language, 0, async () => {
    expect(await page.getByRole('radio', { name: 'IAM - Keycloak' }).isChecked()).toBe(true);
  });
  await nextButton(page, language).click();

  await step(page, language, 1, async () => {
    expect(await page.getByRole('radio', { name: 'Keycloak' }).isChecked()).toBe(true);
  });
  await nextButton(page, language).click();

  await step(page, language, 2, async () => {
    const price = language === 'de' ? '0,11 €' : '€0.11';
    await page.getByText(price, { exact: false }).first().waitFor();
    expect(await page.getByRole('radio', { name: /b2-4/ }).isChecked()).toBe(true);
  });
  // A user clicks the card; the radio inside follows.
  await page.locator('#size-b4-8').click();
  await expect.poll(() => page.getByRole('radio', { name: /b4-8/ }).isChecked()).toBe(true);
  await page.locator('#size-b2-4').click();
  await expect.poll(() => page.getByRole('radio', { name: /b2-4/ }).isChecked()).toBe(true);
  await nextButton(page, language).click();

  // Storage: 75 GB is refused at the field and Next stays disabled.
  const storage = page.getByLabel(t.storage, { exact: true });
  await step(page, language, 3, async () => {
    await storage.fill('75');
    await page.getByText(t.storageInvalid).waitFor();
    expect(await nextButton(page, language).isDisabled()).toBe(true);
  });
  await storage.fill('100');
  await page.getByText(t.storageInvalid).waitFor({ state: 'detached' });
  await nextButton(page, language).click();

  // Trusted sources: empty list and 0.0.0.0/0 are refused; broad ranges warned about.
  await step(page, language, 4, async () => {
    await page.getByText(t.atLeastOne).first().waitFor();
    expect(await nextButton(page, language).isDisabled()).toBe(true);
    await page.getByRole('button', { name: t.addSource }).click();
    await sourceInput(page, language, 1).fill('0.0.0.0/0');
    await page.getByText(t.wholeInternet).waitFor();
    expect(await nextButton(page, language).isDisabled()).toBe(true);
    await sourceInput(page, language, 1).fill('10.20.0.0/24');
    await page.locator('#source-0-help').waitFor();
    expect(await nextButton(page, language).isDisabled()).toBe(false);
  });
  const mine = page.getByRole('button', { name: t.addMine });
  if (await mine.isVisible()) await mine.click();
  else {
    await page.getByRole('button', { name: t.addSource }).click();
    await sourceInput(page, language, 2).fill('127.0.0.1');
  }
  await expect.poll(() => sourceInput(page, language, 2).inputValue()).toBe('127.0.0.1');

  // Admin sources, collapsed by default: only 127.0.0.1 may use the admin console; one outside the trusted
  // sources is refused at its row.
  await page.getByRole('button', { name: t.adminSection }).click();
  await page.getByRole('radio', { name: t.adminSome }).check();
  await page.getByRole('button', { name: t.addAdminSource, exact: true }).click();
  const adminInput = page.getByRole('textbox', { name: t.adminSource(1), exact: true });
  await adminInput.fill('10.99.0.1');
  await page.getByText(t.adminNotTrusted).waitFor();
  expect(await nextButton(page, language).isDisabled()).toBe(true);
  await adminInput.fill('127.0.0.1');
  await page.getByText(t.adminNotTrusted).waitFor({ state: 'detached' });
  await expectAccessible(page, `wizard admin sources (${language})`);

  // A reload keeps everything, on the same step.
  await page.reload();
  await expect.poll(() => sourceInput(page, language, 1).inputValue()).toBe('10.20.0.0/24');
  await expect
    .poll(() => page.getByRole('textbox', { name: t.adminSource(1), exact: true }).inputValue())
    .toBe('127.0.0.1');
  await nextButton(page, language).click();

  await step(page, language, 5, async () => {
    expect(await page.getByRole('radio', { name: /local/ }).first().isChecked()).toBe(true);
  });
  await nextButton(page, language).click();

  await step(page, language, 6, async () => {
    expect(await page.getByRole('radio', { name: t.newProfile }).isChecked()).toBe(true);
    await page.getByLabel(t.company).fill('Muster AG');
    await page.getByLabel(t.street).fill('Hauptstraße 1');
    await page.getByLabel(t.postalCode).fill('20095');
    await page.getByLabel(t.city).fill('Hamburg');
    await page.getByLabel(t.vatId).fill('DE123456789');
    await page.getByLabel(t.invoiceEmail).fill('rechnung@example.com');
  });
  await nextButton(page, language).click();

  const orderNow = page.getByRole('button', { name: t.orderNow });
  await step(page, language, 7, async () => {
    for (const shown of ['IAM - Keycloak', 'b2-4', '100 GB', '10.20.0.0/24', '127.0.0.1', 'Muster AG']) {
      await page.locator('.pf-v6-c-wizard__main').getByText(shown).first().waitFor();
    }
    const perMonth = language === 'de' ? '108,90 €' : '€108.90';
    expect((await page.getByTestId('price-per-month').textContent())?.replace(/\s/g, ' ')).toBe(perMonth);
    expect(await orderNow.isDisabled()).toBe(true);
  });

  // Back keeps the entries.
  await page.locator('.pf-v6-c-wizard__footer').getByRole('button', { name: t.back }).click();
  await expect.poll(() => page.getByLabel(t.company).inputValue()).toBe('Muster AG');
  await nextButton(page, language).click();

  await page.getByRole('checkbox', { name: t.terms }).check();
  expect(await orderNow.isEnabled()).toBe(true);
  await screenshot(page, `${language}-wizard-8-terms-accepted`);
  await orderNow.dblclick();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
}

describe('the ordering wizard', () => {
  for (const language of ['de', 'en'] as const) {
    it(`orders an instance through every step in ${language === 'de' ? 'German' : 'English'}`, async () => {
      const t = texts[language];
      const { page, context, errors } = await newPage(browser, portal.baseUrl, language);
      await signUp(page, language);
      await orderThroughWizard(page, language);

      await page.getByText(t.statusNewMeaning).first().waitFor();
      await expectAccessible(page, `order status (${language})`);
      await screenshot(page, `${language}-order-status`);

      // The double click placed one order, and the billing profile entered in place now exists.
      const orders = (await (await page.request.get('/api/v1/orders')).json()) as {
        items: { id: string; spec: { trustedSources: string[]; adminSources: string[] | null } }[];
      };
      expect(orders.items).toHaveLength(1);
      expect(orders.items[0]!.spec).toMatchObject({
        trustedSources: ['10.20.0.0/24', '127.0.0.1/32'],
        adminSources: ['127.0.0.1/32'],
      });
      expect(page.url()).toContain(orders.items[0]!.id);
      const profiles = (await (await page.request.get('/api/v1/billing-profiles')).json()) as {
        items: unknown[];
      };
      expect(profiles.items).toHaveLength(1);

      // A step note as the driver records it (only the API role runs here; the note is what the local driver
      // writes for its database step): the status page shows it, live, in the reader's language.
      await recordOrderStep(portal.keyhouse.db.pool, orders.items[0]!.id, 'database', 'done', [
        message('step.databaseCreated', { database: 'kc_0e2e0e2e' }),
        message('step.roleCreated'),
      ]);
      await page
        .getByText(
          language === 'de'
            ? 'kc_0e2e0e2e: Datenbank angelegt; Rolle angelegt'
            : 'kc_0e2e0e2e: database created; role created',
          { exact: true },
        )
        .waitFor();
      await screenshot(page, `${language}-order-status-step-note`);

      // A new run of the wizard starts fresh (and with a new idempotency key).
      await page.getByRole('navigation').getByRole('link', { name: t.orderInstance }).click();
      await wizardNav(page).getByRole('button', { name: t.steps[0], exact: true }).waitFor();
      expect(
        await page.evaluate(() => JSON.parse(sessionStorage.getItem('keyhouse.orderWizard') ?? '{}').stepId),
      ).toBe('product');
      expect(errors).toEqual([]);
      await context.close();
    });
  }
});

/** Presses Tab until `target` has the focus (keyboard only: no clicks). */
async function tabTo(page: Page, target: ReturnType<Page['locator']>) {
  for (let presses = 0; presses < 120; presses++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${String(target)}`);
}

describe('the wizard without a mouse', () => {
  it('is operable by keyboard alone, and shows the API’s refusals at the step and field at fault', async () => {
    const language = 'en';
    const t = texts[language];
    const { page, context, errors } = await newPage(browser, portal.baseUrl, language);
    await signUp(page, language, 'Keyboard Ltd');
    await page.goto('/orders/new');
    const next = nextButton(page, language);

    for (let index = 0; index < 2; index++) {
      await wizardNav(page).getByRole('button', { name: t.steps[index], exact: true }).waitFor();
      await tabTo(page, next);
      await page.keyboard.press('Enter');
    }
    // Node size: arrow keys move between the cards' radios.
    await tabTo(page, page.getByRole('radio', { name: /b2-4/ }));
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.getByRole('radio', { name: /b4-8/ }).isChecked()).toBe(true);
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => page.getByRole('radio', { name: /b2-4/ }).isChecked()).toBe(true);
    await tabTo(page, next);
    await page.keyboard.press('Enter');

    const storage = page.getByLabel(t.storage, { exact: true });
    await tabTo(page, storage);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('150');
    await tabTo(page, next);
    await page.keyboard.press('Enter');

    // "Add a source" puts the focus into the new row.
    await tabTo(page, page.getByRole('button', { name: t.addSource }));
    await page.keyboard.press('Enter');
    await expect
      .poll(() => sourceInput(page, language, 1).evaluate((el) => el === document.activeElement))
      .toBe(true);
    await page.keyboard.type('127.0.0.1');
    await tabTo(page, next);
    await page.keyboard.press('Enter');

    await wizardNav(page).getByRole('button', { name: t.steps[5], exact: true }).waitFor();
    await tabTo(page, next);
    await page.keyboard.press('Enter');

    for (const [label, value] of [
      [t.company, 'Keyboard Ltd'],
      [t.street, '1 High Street'],
      [t.postalCode, 'EC1A 1BB'],
      [t.city, 'London'],
      [t.invoiceEmail, 'invoices@example.com'],
    ] as const) {
      await tabTo(page, page.getByLabel(label));
      await page.keyboard.type(value);
    }
    await tabTo(page, page.getByLabel('Country'));
    await page.keyboard.type('United Kingdom');
    await expect.poll(() => page.getByLabel('Country').inputValue()).toBe('GB');
    await tabTo(page, next);
    await page.keyboard.press('Enter');

    const orderNow = page.getByRole('button', { name: t.orderNow });
    await tabTo(page, page.getByRole('checkbox', { name: t.terms }));
    await page.keyboard.press('Space');
    await expect.poll(() => orderNow.isEnabled()).toBe(true);

    // The API refuses (as it would if the catalog changed under the customer): errors lead to their steps.
    await page.route('**/api/v1/orders', (route) =>
      route.fulfill({
        status: 400,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          type: 'https://keyhouse.dev/problems/validation',
          title: 'Invalid request',
          status: 400,
          detail: 'The request has invalid fields.',
          errors: [
            { path: 'storageGb', message: 'storage grows in steps of 50 GB' },
            {
              path: 'trustedSources.0',
              message: '"127.0.0.1" is loopback; this region accepts only public unicast addresses.',
            },
          ],
        }),
      }),
    );
    await tabTo(page, orderNow);
    await page.keyboard.press('Enter');
    const refusal = page.getByRole('alert').filter({ hasText: 'The order was refused' });
    await refusal.getByText('Choose from 50 to 200 GB in steps of 50 GB.').waitFor();
    await refusal.getByText('is loopback').waitFor();
    await screenshot(page, 'en-wizard-refused-by-api');
    await tabTo(page, refusal.getByRole('button', { name: t.steps[3] }));
    await page.keyboard.press('Enter');
    await page.getByText(t.storageInvalid).waitFor();
    await screenshot(page, 'en-wizard-refused-storage-field');
    await page.unroute('**/api/v1/orders');

    // Going to the summary again through the navigation, and ordering for real.
    await tabTo(page, wizardNav(page).getByRole('button', { name: t.steps[7], exact: true }));
    await page.keyboard.press('Enter');
    await tabTo(page, orderNow);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    expect(errors).toEqual([]);
    await context.close();
  });
});
