/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import * as OTPAuth from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkToken, startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  screenshot,
  startPortal,
  TEST_PASSWORD,
  uniqueEmail,
  type Language,
  type Portal,
} from './portal.js';

// Account security in the browser, against a real SMTP server in this process (the reset link comes from the mail
// that arrives) and the test's clock (a code of the next 30-second step, an expired link, without waiting).

let portal: Portal;
let browser: Browser;
let smtp: TestSmtpServer;
let clock = Date.now();
const now = () => new Date(clock);

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  [portal, browser] = await Promise.all([
    startPortal(
      (config) => {
        config.mail.smtpUrl = smtp.url;
      },
      { now, mail: { dispatchIntervalMs: 200 } },
    ),
    launchBrowser(),
  ]);
}, 5 * 60_000);
afterAll(async () => {
  await browser?.close();
  await portal?.stop();
  await smtp?.stop();
});

const texts = {
  de: { signUp: 'Registrieren', overview: 'Übersicht', logout: 'Abmelden', login: 'Anmelden' },
  en: { signUp: 'Sign up', overview: 'Overview', logout: 'Log out', login: 'Log in' },
};

async function signUpAs(page: Page, language: Language, email: string) {
  await page.goto('/signup');
  const de = language === 'de';
  await page.getByLabel(de ? 'Name der Organisation' : 'Organisation name').fill('Sicher GmbH');
  await page.getByLabel(de ? 'E-Mail-Adresse' : 'E-mail address').fill(email);
  await page.getByLabel(de ? 'Passwort' : 'Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: texts[language].signUp }).click();
  await page.getByRole('heading', { level: 1, name: texts[language].overview }).waitFor();
}

async function logOut(page: Page, language: Language) {
  await page.getByRole('button', { name: texts[language].logout }).click();
  await page.waitForURL(/\/login/);
}

async function fillLogin(page: Page, language: Language, email: string, password = TEST_PASSWORD) {
  await page.goto('/login');
  await page.getByLabel(language === 'de' ? 'E-Mail-Adresse' : 'E-mail address').fill(email);
  await page.getByLabel(language === 'de' ? 'Passwort' : 'Password').fill(password);
  await page.getByRole('button', { name: language === 'de' ? 'Anmelden' : 'Log in', exact: true }).click();
}

describe('password reset by e-mail', () => {
  it('sends a link that sets a new password once; a used and an expired link are refused', async () => {
    const { page, context, errors } = await newPage(browser, portal.baseUrl, 'en');
    const email = uniqueEmail('reset');
    await signUpAs(page, 'en', email);
    await logOut(page, 'en');

    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('E-mail address').fill(email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText('If the address has an account, a link is on its way.').waitFor();
    await expectAccessible(page, 'forgot password (en)');
    const mail = await smtp.waitFor(email, (m) => m.subject === 'Reset your password');
    const token = linkToken(mail, /#token=([A-Za-z0-9_-]+)/);

    await page.goto(`/reset-password#token=${token}`);
    await page.getByLabel('New password').fill('a fresh long passphrase');
    await page.getByLabel('Repeat the password').fill('a fresh long passphrase');
    await expectAccessible(page, 'reset password (en)');
    await screenshot(page, 'en-reset-password');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('Your password is set.').waitFor();
    // The token left the address bar once it was used.
    expect(page.url()).not.toContain(token);

    await fillLogin(page, 'en', email, 'a fresh long passphrase');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await logOut(page, 'en');

    // The same link again: refused.
    await page.goto(`/reset-password#token=${token}`);
    await page.getByLabel('New password').fill('another long passphrase');
    await page.getByLabel('Repeat the password').fill('another long passphrase');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText('This reset link was used already.').waitFor();

    // A new link, 31 minutes later: expired.
    await page.goto('/forgot-password');
    await page.getByLabel('E-mail address').fill(email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText('If the address has an account').waitFor();
    const second = await smtp.waitFor(email, (m) => m.subject === 'Reset your password' && m !== mail);
    clock += 31 * 60_000;
    await page.goto(`/reset-password#token=${linkToken(second, /#token=([A-Za-z0-9_-]+)/)}`);
    await page.getByLabel('New password').fill('another long passphrase');
    await page.getByLabel('Repeat the password').fill('another long passphrase');
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByText(/This reset link expired/).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('two-factor sign-in', () => {
  it('enrols with the QR code and a code, then signs in with a code, refuses a wrong one, takes a recovery code once', async () => {
    const { page, context, errors } = await newPage(browser, portal.baseUrl, 'de');
    const email = uniqueEmail('totp');
    await signUpAs(page, 'de', email);
    await page.getByRole('link', { name: 'Kontosicherheit' }).click();
    await page.getByRole('button', { name: 'Zweiten Faktor einrichten' }).click();
    await page.getByRole('img', { name: 'QR-Code für die Authenticator-App' }).locator('svg').waitFor();
    const secret = await page.getByTestId('totp-secret').locator('input').inputValue();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await expectAccessible(page, 'two-factor set-up (de)');
    await screenshot(page, 'de-two-factor-setup');

    await page.getByLabel('Code aus der App').fill('12345');
    await page.getByRole('button', { name: 'Einschalten' }).click();
    await page.getByText('Geben Sie die sechs Ziffern ein').waitFor();
    await page.getByLabel('Code aus der App').fill(totp.generate({ timestamp: clock }));
    await page.getByRole('button', { name: 'Einschalten' }).click();
    await page.getByTestId('recovery-codes').locator('code').first().waitFor();
    const codes = (await page.getByTestId('recovery-codes').locator('code').allTextContents()).map((c) =>
      c.trim(),
    );
    expect(codes).toHaveLength(10);
    await screenshot(page, 'de-recovery-codes');
    await page.getByRole('button', { name: 'Ich habe die Codes gesichert' }).click();
    await page.getByText('An: Jede Anmeldung fragt nach einem Code').waitFor();
    await logOut(page, 'de');

    await fillLogin(page, 'de', email);
    await page.getByText('Geben Sie den sechsstelligen Code aus Ihrer Authenticator-App ein.').waitFor();
    await expectAccessible(page, 'login second factor (de)');
    const wrong = totp.generate({ timestamp: clock }) === '000000' ? '111111' : '000000';
    await page.getByLabel('Code aus der App').fill(wrong);
    await page.getByRole('button', { name: 'Prüfen und anmelden' }).click();
    await page.getByText('Dieser Code ist falsch oder wurde schon verwendet.').waitFor();
    clock += 30_000;
    await page.getByLabel('Code aus der App').fill(totp.generate({ timestamp: clock }));
    await page.getByRole('button', { name: 'Prüfen und anmelden' }).click();
    await page.getByRole('heading', { level: 1, name: 'Übersicht' }).waitFor();
    await logOut(page, 'de');

    await fillLogin(page, 'de', email);
    await page.getByRole('button', { name: 'Stattdessen einen Wiederherstellungscode verwenden' }).click();
    await page.getByLabel('Wiederherstellungscode').fill(codes[0]!);
    await page.getByRole('button', { name: 'Prüfen und anmelden' }).click();
    await page.getByRole('heading', { level: 1, name: 'Übersicht' }).waitFor();
    await logOut(page, 'de');
    await fillLogin(page, 'de', email);
    await page.getByRole('button', { name: 'Stattdessen einen Wiederherstellungscode verwenden' }).click();
    await page.getByLabel('Wiederherstellungscode').fill(codes[0]!);
    await page.getByRole('button', { name: 'Prüfen und anmelden' }).click();
    await page.getByText('Dieser Code ist falsch oder wurde schon verwendet.').waitFor();
    clock += 16 * 60_000; // past the login throttle's window for the refusals above
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('sessions and members', () => {
  it('lists the sessions and signs out another browser', async () => {
    const email = uniqueEmail('sessions');
    const first = await newPage(browser, portal.baseUrl, 'en');
    await signUpAs(first.page, 'en', email);
    const second = await newPage(browser, portal.baseUrl, 'en');
    await fillLogin(second.page, 'en', email);
    await second.page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    await first.page.getByRole('link', { name: 'Account security' }).click();
    const rows = first.page.getByRole('table', { name: 'Active sessions' }).getByRole('row');
    await expect.poll(() => rows.count()).toBe(3); // header + two sessions
    await first.page.getByText('This browser').waitFor();
    await expectAccessible(first.page, 'account security (en)');
    await screenshot(first.page, 'en-account-security');
    await first.page.getByRole('button', { name: /^Sign out: / }).click();
    await expect.poll(() => rows.count()).toBe(2);

    await second.page.goto('/orders');
    await second.page.waitForURL(/\/login/);
    await first.context.close();
    await second.context.close();
  });

  it('changes a role and removes a member; the last admin can neither be demoted nor leave', async () => {
    const { page, context, errors } = await newPage(browser, portal.baseUrl, 'en');
    const adminEmail = uniqueEmail('admin');
    await signUpAs(page, 'en', adminEmail);
    await page.getByRole('link', { name: 'Members' }).click();
    const memberEmail = uniqueEmail('member');
    await page.getByLabel('E-mail address').fill(memberEmail);
    await page.getByRole('button', { name: 'Create invitation' }).click();
    const invitation = await smtp.waitFor(memberEmail, (m) => m.subject.startsWith('Invitation to'));
    const invitationToken = linkToken(invitation, /\/invitations\/([A-Za-z0-9_-]+)/);
    const accepted = await portal.keyhouse.request({
      method: 'POST',
      url: `/api/v1/invitations/${invitationToken}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expect(accepted.statusCode).toBe(201);
    await page.reload();

    await page.getByLabel(`Role of ${memberEmail}`).selectOption('manager');
    await expect
      .poll(async () => {
        const members = await (await page.request.get('/api/v1/members')).json();
        return members.items.find((m: { email: string }) => m.email === memberEmail)?.role;
      })
      .toBe('manager');

    // The last admin: demoting oneself and leaving are refused with the reason.
    await page.getByLabel(`Role of ${adminEmail}`).selectOption('read-only');
    await page.getByText(/last admin of the organisation/).waitFor();
    await page.reload();
    expect(await page.getByLabel(`Role of ${adminEmail}`).inputValue()).toBe('admin');
    await page.getByRole('button', { name: `Leave: ${adminEmail}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/last admin of the organisation/).waitFor();
    await expectAccessible(page, 'members (en)');
    await screenshot(page, 'en-members');

    await page.getByRole('button', { name: `Remove: ${memberEmail}` }).click();
    await page.getByRole('dialog').getByText(`Remove ${memberEmail} from the organisation?`).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.getByRole('cell', { name: memberEmail }).count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('requires a second factor of every member once the admin turns it on', async () => {
    const admin = await newPage(browser, portal.baseUrl, 'en');
    await signUpAs(admin.page, 'en', uniqueEmail('strict'));
    await admin.page.getByRole('link', { name: 'Members' }).click();
    const memberEmail = uniqueEmail('member');
    await admin.page.getByLabel('E-mail address').fill(memberEmail);
    await admin.page.getByRole('button', { name: 'Create invitation' }).click();
    const invitation = await smtp.waitFor(memberEmail, (m) => m.subject.startsWith('Invitation to'));
    const member = await newPage(browser, portal.baseUrl, 'de');
    await member.page.goto(`/invitations/${linkToken(invitation, /\/invitations\/([A-Za-z0-9_-]+)/)}`);
    await member.page.getByLabel('Neues Passwort').fill(TEST_PASSWORD);
    await member.page.getByLabel('Passwort wiederholen').fill(TEST_PASSWORD);
    await member.page.getByRole('button', { name: 'Einladung annehmen' }).click();
    await member.page.getByRole('heading', { level: 1, name: 'Übersicht' }).waitFor();

    await admin.page.getByText('Require two-factor sign-in of every member').click();
    await expect
      .poll(async () => {
        const session = await (await admin.page.request.get('/api/v1/auth/session')).json();
        return session.organization.requireTwoFactor;
      })
      .toBe(true);
    // The admin has no second factor either: from the next page on, only the security page is open.
    await member.page.goto('/orders');
    await member.page.waitForURL(/\/account\/security$/);
    await member.page
      .getByText('Ihre Organisation verlangt die Anmeldung mit zweitem Faktor.')
      .first()
      .waitFor();
    await screenshot(member.page, 'de-two-factor-required');
    await admin.context.close();
    await member.context.close();
  });
});
