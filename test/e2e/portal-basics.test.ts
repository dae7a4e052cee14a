/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  hasRoute,
  launchBrowser,
  newPage,
  screenshot,
  signUp,
  startPortal,
  TEST_PASSWORD,
  uniqueEmail,
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

describe('serving the portal', () => {
  it('answers index.html for portal paths, immutable assets, and problem documents for API paths', async () => {
    const index = await fetch(`${portal.baseUrl}/orders/new`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const script = await fetch(portal.baseUrl + asset);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.headers.get('cache-control')).toContain('immutable');

    for (const path of ['/api/v1/nothing', '/osb/v2/nothing', '/assets/missing.js']) {
      const response = await fetch(portal.baseUrl + path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toContain('application/problem+json');
    }
    expect((await fetch(`${portal.baseUrl}/assets/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${portal.baseUrl}/healthz`)).status).toBe(200);
  });
});

describe('sign-up, login and the language', () => {
  it('signs up in German, shows the customer number and empty states, and switches to English for good', async () => {
    const { page, context, errors } = await newPage(browser, portal.baseUrl, 'de');
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await expectAccessible(page, 'login (de)');
    await screenshot(page, 'de-login');
    await page.getByRole('link', { name: 'Registrieren' }).click();
    await page.getByRole('heading', { name: 'Konto anlegen' }).waitFor();

    // Refusals at the field, before anything is sent.
    await page.getByRole('button', { name: 'Registrieren' }).click();
    await expect
      .poll(() => page.getByText('Das Passwort braucht mindestens 12 Zeichen.').isVisible())
      .toBe(true);
    await expectAccessible(page, 'sign-up with errors (de)');
    await screenshot(page, 'de-signup-errors');

    await signUp(page, 'de', 'Muster AG');
    const customerNumber = page.getByTestId('customer-number');
    await expect.poll(() => customerNumber.textContent()).toMatch(/^Kundennr\. \S+/);
    if (await hasRoute(portal, 'GET', '/api/v1/instances')) {
      await page.getByRole('heading', { name: 'Noch keine Instanzen' }).waitFor();
    }
    await page.getByRole('heading', { name: 'Keine laufenden Aufträge' }).waitFor();
    await expectAccessible(page, 'dashboard (de)');
    await screenshot(page, 'de-dashboard');

    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await expect.poll(() => customerNumber.textContent()).toMatch(/^Customer no\. \S+/);
    await screenshot(page, 'en-dashboard');

    for (const [link, heading] of [
      ['Orders', 'Orders'],
      ['Billing profiles', 'Billing profiles'],
      ['Support tickets', 'Support tickets'],
      ['Members', 'Members'],
    ] as const) {
      await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await expectAccessible(page, `${heading} (en)`);
      await screenshot(page, `en-${heading.toLowerCase().replace(/ /g, '-')}`);
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  it('logs in, refuses a wrong password with the server’s words, and logs out', async () => {
    const { page, context } = await newPage(browser, portal.baseUrl, 'en');
    const email = uniqueEmail('login');
    const signup = await portal.keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email, password: TEST_PASSWORD, organizationName: 'Login Ltd' },
    });
    expect(signup.statusCode).toBe(201);

    await page.goto('/tickets');
    await page.waitForURL(/\/login\?next=%2Ftickets/);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await screenshot(page, 'en-login-refused');

    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Support tickets' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tickets');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await context.close();
  });
});
