/// <reference lib="dom" />
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { ensureBackup, finishBackup, type StoredBackup } from '../../src/backups/backup-store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp as signUpThroughApi, TEST_PASSWORD, type SignedInUser } from '../support/accounts.js';
import { insertDatabaseOnlyInstance } from '../support/backups.js';
import { expectAccessible, launchBrowser, newPage, screenshot, startPortal, type Portal } from './portal.js';

/**
 * The instance page's Backups tab in Debian's Chromium, German and English: the schedule in the instance's time
 * zone, the retention and windows dialog refusing windows closer than 2.5 hours, the price delta and the cost
 * confirmation, the order placed. The instance runs without a Keycloak (its rows and its database; only the API role
 * runs, so the order stays `new`): what is tested here is the portal.
 */
let portal: Portal;
let browser: Browser;
let owner: SignedInUser;
let instance: Awaited<ReturnType<typeof insertDatabaseOnlyInstance>>;
let nightly: StoredBackup;

beforeAll(async () => {
  [portal, browser] = await Promise.all([startPortal(), launchBrowser()]);
  owner = await signUpThroughApi(portal.keyhouse);
  instance = await insertDatabaseOnlyInstance(portal.keyhouse, owner, {
    runningSince: new Date().toISOString(),
    rows: 1,
  });
  // A finished nightly backup in the list (its file does not matter here: nothing is restored in this test).
  nightly = (
    await ensureBackup(portal.keyhouse.db.pool, {
      id: randomUUID(),
      instanceId: instance.id,
      kind: 'nightly',
      night: '2027-01-05',
      keycloakVersion: instance.spec.version,
    })
  ).backup;
  await finishBackup(portal.keyhouse.db.pool, nightly.id, {
    location: '/nonexistent/backup.dump',
    sizeBytes: 1234567,
    sha256: 'a'.repeat(64),
    durationMs: 420,
    postgresMajor: 15,
  });
});
afterAll(async () => {
  await browser?.close();
  await portal?.stop();
});

describe('the Backups tab', () => {
  it('changes retention and windows with the cost confirmation (German), then reads it in English', async () => {
    const { page, context, errors } = await newPage(browser, portal.baseUrl, 'de');
    await page.goto(`/instances/${instance.id}`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('E-Mail-Adresse').fill(owner.email);
    await page.getByLabel('Passwort').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('tab', { name: 'Backups' }).click();
    await page.getByText('täglich 01:00–03:00 (Europe/Berlin)').waitFor();
    await expect.poll(() => page.getByTestId('backup-retention').textContent()).toBe('7 nächtliche Backups');
    await page.getByText('Nächtlich (2027-01-05)').waitFor();
    await page.getByText('1,2 MB').waitFor();
    await expectAccessible(page, 'backups tab (de)');
    await screenshot(page, 'de-backups-tab');

    await page.getByRole('button', { name: 'Aufbewahrung und Fenster ändern' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Aufbewahrung').fill('30');
    // 02:00 would end 04:30, two and a half hours before the backup window only from one side: refused.
    await dialog.getByLabel('Beginn des Wartungsfensters').selectOption('2');
    await dialog.getByText('mindestens 2,5 Stunden vom Backup-Fenster entfernt').waitFor();
    expect(await dialog.locator('button[type="submit"]').isDisabled()).toBe(true);
    await dialog.getByLabel('Beginn des Wartungsfensters').selectOption('7');
    await dialog.getByRole('button', { name: 'Kosten prüfen' }).click();
    await dialog.getByText('Kosten bestätigen').waitFor();
    await expect.poll(() => dialog.getByTestId('change-price-delta').textContent()).toContain('+6,67');
    await expectAccessible(page, 'backup policy confirmation (de)');
    await screenshot(page, 'de-backup-policy-confirm');
    await dialog.getByRole('button', { name: 'Jetzt kostenpflichtig bestellen' }).click();
    await page.waitForURL(/\/orders\//);
    const orderId = new URL(page.url()).pathname.split('/').at(-1)!;
    const order = await portal.keyhouse.db.pool.query<{ type: string; spec: { backups: unknown } }>(
      'SELECT type, spec FROM orders WHERE id = $1',
      [orderId],
    );
    expect(order.rows[0]).toMatchObject({
      type: 'backup-policy',
      spec: {
        backups: {
          retention: 30,
          timeZone: 'Europe/Berlin',
          backupWindow: { startHour: 1 },
          maintenanceWindow: { day: 'sunday', startHour: 7 },
        },
      },
    });
    expect(errors).toEqual([]);
    await context.close();

    const english = await newPage(browser, portal.baseUrl, 'en');
    await english.page.goto('/login');
    await english.page.getByLabel('E-mail address').fill(owner.email);
    await english.page.getByLabel('Password').fill(TEST_PASSWORD);
    await english.page.getByRole('button', { name: 'Log in' }).click();
    await english.page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await english.page.goto(`/instances/${instance.id}`);
    await english.page.getByRole('tab', { name: 'Backups' }).click();
    await english.page.getByText('Sunday 07:00–09:30 (Europe/Berlin)').waitFor();
    await expect
      .poll(() => english.page.getByTestId('backup-retention').textContent())
      .toMatch(/^30 nightly backups \(\+€6\.67 per month\)$/);
    await english.page.getByText('No OpenPGP key yet').waitFor();
    await expectAccessible(english.page, 'backups tab (en)');
    await screenshot(english.page, 'en-backups-tab');

    // Restore the night's backup into a new instance: a create order with the price and the terms.
    await english.page.getByRole('button', { name: 'Restore into a new instance' }).click();
    const restoreNew = english.page.getByRole('dialog');
    await expect.poll(() => restoreNew.getByTestId('restore-new-price').textContent()).toMatch(/per month/);
    expect(await restoreNew.getByRole('button', { name: 'Order now (with costs)' }).isDisabled()).toBe(true);
    await restoreNew.getByLabel(/I accept the terms and conditions/).check();
    await expectAccessible(english.page, 'restore into a new instance (en)');
    await restoreNew.getByRole('button', { name: 'Order now (with costs)' }).click();
    await english.page.waitForURL(/\/orders\//);
    const created = await portal.keyhouse.db.pool.query<{
      type: string;
      details: unknown;
      spec: { nodeSize: string };
    }>('SELECT type, details, spec FROM orders WHERE id = $1', [
      new URL(english.page.url()).pathname.split('/').at(-1),
    ]);
    expect(created.rows[0]).toMatchObject({
      type: 'create',
      details: { restoreFrom: { instanceId: instance.id, backupId: nightly.id } },
      spec: { nodeSize: 'b2-4' },
    });
    expect(english.errors).toEqual([]);
    await english.context.close();
  });
});
