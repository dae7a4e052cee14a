import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    await page.getByText('would allow the whole Internet').waitFor();
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

  // A reload keeps everything, on the same step.
  await page.reload();
  await expect.poll(() => sourceInput(page, language, 1).inputValue()).toBe('10.20.0.0/24');
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
      const orders = (await (await page.request.get('/api/v1/orders')).json()) as { items: { id: string }[] };
      expect(orders.items).toHaveLength(1);
      expect(page.url()).toContain(orders.items[0]!.id);
      const profiles = (await (await page.request.get('/api/v1/billing-profiles')).json()) as {
        items: unknown[];
      };
      expect(profiles.items).toHaveLength(1);

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
