/// <reference lib="dom" />
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { strToU8, zipSync, type Zippable } from 'fflate';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceMetrics } from '../../src/metrics/metrics-schemas.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { probeTls } from '../support/edge-probes.js';
import { adminClientThroughEdge, passwordLogin } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';
import { issueCertificate } from '../support/test-pki.js';
import { until } from '../support/until.js';
import {
  expectAccessible,
  launchBrowser,
  newPage,
  provisioningConfig,
  screenshot,
  signUp,
  startPortal,
  type Portal,
} from './portal.js';

// The instance page's new tabs in a real Chromium, in German, on one real Keycloak behind the edge with a real
// Prometheus: the metrics after logins this test makes (the totals the portal shows are the API's, and the API's
// count exactly what the test did), the log tail showing a line this test causes, and a login theme uploaded
// (a refused one first), deployed by an order and seen on Keycloak's login page; then a custom domain with an
// uploaded certificate (a refused one first), its DNS record in the test's own DNS server, served through the edge
// with its own certificate to a Chromium that resolves the name to loopback (--host-resolver-rules), and removed
// again. The German screenshots of the tabs go to docs/screenshots/ (the README shows them) when
// KEYHOUSE_UPDATE_SCREENSHOTS=1, otherwise to test-results/ only, so a test run leaves the checkout as it was.

const DOCS_SCREENSHOTS = path.join(packageRoot, 'docs', 'screenshots');
const UPDATE_DOCS_SCREENSHOTS = process.env.KEYHOUSE_UPDATE_SCREENSHOTS === '1';
const DOMAIN = 'login.beispiel.test';
const zip = (files: Record<string, string>) =>
  Buffer.from(
    zipSync(Object.fromEntries(Object.entries(files).map(([n, c]) => [n, strToU8(c)])) as Zippable),
  );

let portal: Portal;
let browser: Browser;
let dns: TestDnsServer;
let dir: string;
// The customer's PKI: a root the platform is told to trust (domains.extraRootsFile), an intermediate, the leaf.
const root = issueCertificate({ commonName: 'Beispiel Root', ca: true });
const intermediate = issueCertificate({ commonName: 'Beispiel Intermediate', ca: true, issuer: root });
const leaf = issueCertificate({ commonName: DOMAIN, names: [DOMAIN], issuer: intermediate });
/** The instance the first test provisions; the custom-domain test goes on with it. */
let provisioned:
  | {
      instanceId: string;
      url: string;
      name: string;
      realm: string;
      signedIn: Awaited<ReturnType<typeof newPage>>;
    }
  | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-e2e-domain-'));
  writeFileSync(path.join(dir, 'roots.pem'), root.certPem);
  dns = await startTestDnsServer();
  [portal, browser] = await Promise.all([
    startPortal((config) => {
      provisioningConfig(config);
      config.domains.dnsServers = [dns.address];
      config.domains.extraRootsFile = path.join(dir, 'roots.pem');
    }),
    launchBrowser(),
  ]);
}, 10 * 60_000);
afterAll(async () => {
  await browser?.close();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (portal) {
    const { rows } = await portal.keyhouse.db.pool.query<{ id: string; name: string }>(
      "SELECT id, name FROM instances WHERE status <> 'deleted'",
    );
    for (const { id, name } of rows)
      await portal.keyhouse.localBackend!.driver.destroy({ instanceId: id, name }, async () => undefined);
  }
  await portal?.stop();
}, 180_000);

async function docsScreenshot(page: Page, name: string) {
  if (UPDATE_DOCS_SCREENSHOTS) {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(DOCS_SCREENSHOTS, `${name}.png`), fullPage: true });
  }
  await screenshot(page, name);
}

describe('the instance page: metrics, logs and themes (de)', () => {
  it(
    'shows metrics after logins, a log line the test caused, and a deployed login theme',
    { timeout: 20 * 60_000 },
    async () => {
      const signedIn = await newPage(browser, portal.baseUrl, 'de');
      const { page, errors } = signedIn;
      await signUp(page, 'de');
      const csrf = await page.evaluate(() => sessionStorage.getItem('keyhouse.csrf'));
      const write = { 'x-csrf-token': csrf ?? '' };
      const placed = await page.request.post('/api/v1/orders', {
        headers: write,
        data: exampleOrder(portal.keyhouse.config),
      });
      expect(placed.status()).toBe(201);
      const { id: orderId, instanceId } = (await placed.json()) as { id: string; instanceId: string };
      const getJson = async <T>(url: string) => (await (await page.request.get(url)).json()) as T;
      await until(
        'the instance to be provisioned',
        async () => {
          const order = await getJson<{ status: string }>(`/api/v1/orders/${orderId}`);
          if (order.status === 'failed') throw new Error('provisioning failed');
          return order.status === 'done' ? true : undefined;
        },
        12 * 60_000,
      );
      const instance = await getJson<{ url: string; name: string }>(`/api/v1/instances/${instanceId}`);
      const admin = await (
        await page.request.post(`/api/v1/instances/${instanceId}/credentials/reveal`, { headers: write })
      ).json();
      const session = await getJson<{ organization: { customerNumber: string } }>('/api/v1/auth/session');
      const realm = session.organization.customerNumber;
      const ca = portal.keyhouse.ca.certificatePem;
      provisioned = { instanceId, url: instance.url, name: instance.name, realm, signedIn };

      // ---- Metrics: a baseline once scraped, then 4 logins and 2 failed ones.
      const metrics = () => getJson<InstanceMetrics>(`/api/v1/instances/${instanceId}/metrics?range=hour`);
      let previous = '';
      const baseline = await until(
        'stable totals',
        async () => {
          const m = await metrics();
          const same =
            m.series.heapUsedBytes.some(([, v]) => v !== null) && JSON.stringify(m.totals) === previous;
          previous = JSON.stringify(m.totals);
          if (!same) await new Promise((resolve) => setTimeout(resolve, 2500));
          return same ? m.totals : undefined;
        },
        120_000,
      );
      const login = (password: string) =>
        passwordLogin({ url: instance.url, ca, realm: 'master', username: admin.username, password });
      for (let i = 0; i < 4; i++) expect(await login(admin.password)).toBe(200);
      for (let i = 0; i < 2; i++) expect(await login('falsch')).toBe(401);
      const after = await until('the logins in the metrics', async () => {
        const m = await metrics();
        return m.totals.failedLogins - baseline.failedLogins >= 2 && m.totals.logins - baseline.logins >= 4
          ? m.totals
          : undefined;
      });
      expect(after.logins - baseline.logins).toBe(4);
      expect(after.failedLogins - baseline.failedLogins).toBe(2);
      expect(after.tokensIssued - baseline.tokensIssued).toBe(4);

      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('tab', { name: 'Metriken' }).click();
      const totals = page.getByTestId('metrics-totals');
      await totals.waitFor();
      // The portal shows the API's totals, in German.
      await expect
        .poll(() => totals.textContent(), { timeout: 30_000 })
        .toBe(
          `Letzte Stunde: ${after.logins} Anmeldungen, ${after.failedLogins} fehlgeschlagene Anmeldungen, ` +
            `${after.tokensIssued} ausgestellte Tokens.`,
        );
      await screenshot(page, 'de-instance-metrics-before-check');
      for (const series of [
        'requestsPerSecond',
        'logins',
        'failedLogins',
        'heapUsedBytes',
        'databaseBytes',
      ]) {
        // A drawn area: a path with a shape of its own (the charts also hold empty helper paths).
        const shapes = () =>
          page
            .getByTestId(`metric-${series}`)
            .locator('svg path')
            .evaluateAll((paths) => paths.map((p) => (p.getAttribute('d') ?? '').length));
        await expect
          .poll(async () => Math.max(0, ...(await shapes())), { message: series, timeout: 30_000 })
          .toBeGreaterThan(20);
      }
      expect(await page.getByTestId('metric-heapUsedBytes-latest').textContent()).toMatch(/^\d+ MB$/);
      await expectAccessible(page, 'metrics tab (de)');
      await docsScreenshot(page, 'de-instance-metrics');

      // ---- Logs: the live tail shows the failed login of a user name only this test uses.
      await page.getByRole('tab', { name: 'Logs' }).click();
      await page.getByRole('log').waitFor();
      await page.locator('label[for="logs-follow"]').click();
      const stranger = `unbekannt-${randomBytes(4).toString('hex')}`;
      // The tail is connected (EventSource open) before the line is written.
      await page.getByTestId('logs-live').getByText('live', { exact: true }).waitFor();
      expect(await passwordLogin({ url: instance.url, ca, realm, username: stranger, password: 'x' })).toBe(
        401,
      );
      await page.getByRole('log').getByText(stranger).first().waitFor({ timeout: 30_000 });
      await expectAccessible(page, 'logs tab (de)');
      await docsScreenshot(page, 'de-instance-logs');

      // ---- Themes: a theme with a class file is refused at the file field; a good one is deployed.
      await page.getByRole('tab', { name: 'Login-Themes' }).click();
      await page.getByText('Nur Themes: kein Code auf einem geteilten Host').waitFor();
      const chooseFile = async (name: string, archive: Buffer) => {
        await page
          .locator('input[type="file"]')
          .setInputFiles({ name, mimeType: 'application/zip', buffer: archive });
        await page.getByRole('button', { name: 'Hochladen' }).click();
      };
      await chooseFile(
        'boese.zip',
        zip({
          'boese/login/theme.properties': 'parent=keycloak.v2\n',
          'boese/login/Exploit.class': 'cafebabe',
        }),
      );
      await page
        .getByTestId('theme-archive-help')
        .getByText(/classes and libraries are not allowed/)
        .waitFor();
      await docsScreenshot(page, 'de-instance-themes-refused');
      await chooseFile(
        'acme.zip',
        zip({
          'acme/login/theme.properties':
            'parent=keycloak.v2\nimport=common/keycloak\nstyles=css/styles.css css/acme.css\n',
          'acme/login/resources/css/acme.css':
            '.pf-v5-c-login__main-header { border-top: 12px solid #00a35c; }\n',
          'acme/login/messages/messages_de.properties': 'loginAccountTitle=Willkommen bei ACME\n',
          'acme/login/messages/messages_en.properties': 'loginAccountTitle=Welcome to ACME\n',
        }),
      );
      await page.getByText('Theme acme, Version 1 hochgeladen.').waitFor();
      await expectAccessible(page, 'themes tab (de)');
      await docsScreenshot(page, 'de-instance-themes');
      await page.getByRole('button', { name: 'acme 1 bereitstellen' }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      await page
        .locator('.pf-v6-c-progress-stepper__step.pf-m-current')
        .getByText('DONE')
        .waitFor({ timeout: 5 * 60_000 });

      // The customer picks the theme in Keycloak, as usual; then Keycloak's login page shows it, through the edge.
      const client = await adminClientThroughEdge({ url: instance.url, ca, ...admin });
      // German login pages need the realm's internationalization (off in a new realm: English only).
      await client.realms.update(
        { realm },
        {
          loginTheme: 'acme',
          internationalizationEnabled: true,
          supportedLocales: ['de', 'en'],
          defaultLocale: 'de',
        },
      );
      const keycloak = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE' });
      const loginPage = await keycloak.newPage();
      await loginPage.goto(`${instance.url}/realms/${realm}/account/`);
      await loginPage.getByText('Willkommen bei ACME').waitFor({ timeout: 30_000 });
      const border = await loginPage
        .locator('.pf-v5-c-login__main-header')
        .evaluate((element) => getComputedStyle(element).borderTopWidth);
      expect(border).toBe('12px');
      await docsScreenshot(loginPage, 'de-keycloak-login-theme');
      await keycloak.close();

      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('tab', { name: 'Login-Themes' }).click();
      await page.getByText('bereitgestellt').waitFor();
      await docsScreenshot(page, 'de-instance-themes-deployed');
      expect(errors).toEqual([]);
    },
  );

  it(
    'serves a custom domain with the uploaded certificate through the edge, then falls back when it is removed',
    { timeout: 20 * 60_000 },
    async () => {
      if (!provisioned) throw new Error('needs the instance of the test before');
      const { instanceId, url, name, realm } = provisioned;
      const port = Number(new URL(url).port);
      // The same customer, still signed in.
      const { page, context, errors } = provisioned.signedIn;
      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('tab', { name: 'Eigene Domain' }).click();
      await page.getByText('Noch keine eigene Domain').waitFor();

      // A certificate of another name is refused at the chain's field, before anything is stored.
      const other = issueCertificate({
        commonName: 'andere.test',
        names: ['andere.test'],
        issuer: intermediate,
      });
      const fill = async (chain: string, key: string) => {
        await page.getByLabel('Hostname').fill(DOMAIN);
        await page.getByLabel(/^Zertifikatskette/).fill(chain);
        await page.getByLabel(/^Privater Schlüssel/).fill(key);
        await page.getByRole('button', { name: 'Speichern' }).click();
      };
      await fill(other.certPem + intermediate.certPem, other.keyPem);
      await page.getByText(/does not cover login\.beispiel\.test/).waitFor();
      await screenshot(page, 'de-instance-domain-refused');
      await fill(leaf.certPem + intermediate.certPem, leaf.keyPem);
      const record = page.getByTestId('domain-dns-record');
      await record.waitFor();
      expect(await record.textContent()).toBe(`${DOMAIN}. CNAME ${name}.localhost.`);
      expect(await page.getByTestId('domain-status').textContent()).toBe('wartet auf DNS');

      // The customer creates the record; the check sees it and places the order that serves the domain.
      dns.zone.set(`${name}.localhost`, { A: ['127.0.0.1'] });
      dns.zone.set(DOMAIN, { CNAME: `${name}.localhost` });
      await page.getByRole('button', { name: 'DNS prüfen und bereitstellen' }).click();
      await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
      await page
        .locator('.pf-v6-c-progress-stepper__step.pf-m-current')
        .getByText('DONE')
        .waitFor({ timeout: 8 * 60_000 });
      await page.goto(`/instances/${instanceId}`);
      await page.getByRole('tab', { name: 'Eigene Domain' }).click();
      await page.getByTestId('domain-status').getByText('aktiv').waitFor();
      await expectAccessible(page, 'domain tab (de)');
      await docsScreenshot(page, 'de-instance-domain');

      // Same refusal before TLS as the instance's own name: an untrusted source gets not one byte.
      const untrusted = await probeTls({
        host: '127.0.0.1',
        port,
        servername: DOMAIN,
        ca: root.certPem,
        localAddress: '127.0.0.2',
      });
      expect(untrusted).toMatchObject({ bytesReceived: 0, secured: false });
      // A trusted one gets the uploaded chain, which verifies against the customer's root for the name.
      const trusted = await probeTls({ host: '127.0.0.1', port, servername: DOMAIN, ca: root.certPem });
      expect(trusted).toMatchObject({ secured: true, error: null });

      // Chromium, with the customer's name on loopback, gets the uploaded certificate, and Keycloak answers as the
      // custom domain (its hostname): the login page stays on it.
      const customerBrowser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          `--host-resolver-rules=MAP ${DOMAIN} 127.0.0.1`,
        ],
      });
      try {
        const keycloak = await customerBrowser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE' });
        const loginPage = await keycloak.newPage();
        const response = await loginPage.goto(`https://${DOMAIN}:${port}/realms/${realm}/account/`);
        expect(await response!.securityDetails()).toMatchObject({
          subjectName: DOMAIN,
          issuer: 'Beispiel Intermediate',
        });
        await loginPage.locator('#kc-form-login').waitFor({ timeout: 30_000 });
        expect(new URL(loginPage.url()).host).toBe(`${DOMAIN}:${port}`);
        expect(new URL((await loginPage.locator('#kc-form-login').getAttribute('action'))!).host).toBe(
          `${DOMAIN}:${port}`,
        );
        await docsScreenshot(loginPage, 'de-keycloak-custom-domain');

        // Removed: an order brings Keycloak back to its own name; the edge no longer has a certificate for the
        // customer's name (its own is the default).
        await page.getByRole('button', { name: 'Domain entfernen' }).click();
        await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
        await page
          .locator('.pf-v6-c-progress-stepper__step.pf-m-current')
          .getByText('DONE')
          .waitFor({ timeout: 8 * 60_000 });
        const fallback = await loginPage.goto(`https://${DOMAIN}:${port}/realms/${realm}/account/`);
        expect((await fallback!.securityDetails())?.subjectName).toBe(`${name}.localhost`);
        const own = await loginPage.goto(`${url}/realms/${realm}/account/`);
        expect((await own!.securityDetails())?.subjectName).toBe(`${name}.localhost`);
        await loginPage.locator('#kc-form-login').waitFor({ timeout: 30_000 });
        expect(new URL(loginPage.url()).host).toBe(new URL(url).host);
        await keycloak.close();
      } finally {
        await customerBrowser.close();
      }
      expect(errors).toEqual([]);
      await context.close();
    },
  );
});
