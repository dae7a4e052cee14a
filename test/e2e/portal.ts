/// <reference lib="dom" />
// Code inside page.evaluate runs in the browser.
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { packageRoot } from '../../src/platform/package-root.js';
import type { Config } from '../../src/config/config-schema.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

export const SCREENSHOTS = path.join(packageRoot, 'test-results', 'screenshots');
export const TEST_PASSWORD = 'correct horse battery staple';

export type Portal = { keyhouse: TestKeyhouse; baseUrl: string; stop(): Promise<void> };

/**
 * A real Keyhouse on the embedded test database, listening on a free loopback port, serving the built portal. Only
 * the API role runs unless `adjust` asks for more (see `provisioningConfig`).
 */
export async function startPortal(
  adjust?: (config: Config) => void,
  options?: Parameters<typeof startTestKeyhouse>[1],
): Promise<Portal> {
  const keyhouse = await startTestKeyhouse(adjust, options);
  await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = keyhouse.http.server.address() as AddressInfo;
  return { keyhouse, baseUrl: `http://127.0.0.1:${port}`, stop: () => keyhouse.stop() };
}

/**
 * Real provisioning on this machine: the worker and edge roles beside the API, the edge on loopback, random port
 * ranges (no clash with other test runs), one catalog version (the worker prepares each version at start).
 */
export function provisioningConfig(config: Config) {
  config.roles = ['api', 'worker', 'edge'];
  config.catalog.serviceTypes[0]!.versions = config.catalog.serviceTypes[0]!.versions.slice(0, 1);
  config.edge.listenHost = '127.0.0.1';
  const base = 20000 + Math.floor(Math.random() * 20000);
  config.edge.portRange = { from: base, to: base + 20 };
  config.keycloak.portRange = { from: base + 100, to: base + 140 };
}

/** Is the route there yet? (The API grows while the portal is built; tests of missing routes wait for them.) */
export async function hasRoute(portal: Portal, method: 'GET' | 'POST', url: string): Promise<boolean> {
  const response = await portal.keyhouse.request({ method, url });
  return !(response.statusCode === 404 && String(response.json().detail).startsWith('No route'));
}

/** Debian's Chromium, headless, with a fresh profile (playwright gives every launch its own user-data-dir). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export type Language = 'de' | 'en';

export async function newPage(browser: Browser, baseUrl: string, language: Language) {
  const context: BrowserContext = await browser.newContext({
    baseURL: baseUrl,
    locale: language === 'de' ? 'de-DE' : 'en-GB',
    viewport: { width: 1360, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(path.join(packageRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: string[] }[] };

/** No serious or critical axe-core violation (WCAG 2.x A/AA rules) on the page as it is now. */
export async function expectAccessible(page: Page, what: string) {
  // Colours mid-transition (a button just enabled) would be judged as they are at that instant.
  // Spinners run forever: wait only for finite ones.
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getComputedTiming().endTime !== Infinity)
        .map((a) => a.finished.catch(() => undefined)),
    ),
  );
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(o: object): Promise<{ violations: AxeViolation[] }> } })
      .axe;
    const result = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes }));
  });
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `axe-core on ${what}`).toEqual([]);
}

let counter = 0;
export const uniqueEmail = (prefix = 'e2e') =>
  `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}@example.com`;

/** Signs up through the portal's form and waits for the dashboard. */
export async function signUp(page: Page, language: Language, organizationName = 'Beispiel GmbH') {
  const t = language === 'de' ? de : en;
  await page.goto('/signup');
  await page.getByLabel(t.organizationName).fill(organizationName);
  await page.getByLabel(t.email).fill(uniqueEmail());
  await page.getByLabel(t.password).fill(TEST_PASSWORD);
  await page.getByRole('button', { name: t.signUp }).click();
  await page.getByRole('heading', { level: 1, name: t.overview }).waitFor();
}

/** Texts the tests look for, per language (a test in German must find German words). */
export const de = {
  organizationName: 'Name der Organisation',
  email: 'E-Mail-Adresse',
  password: 'Passwort',
  signUp: 'Registrieren',
  overview: 'Übersicht',
  noInstances: 'Noch keine Instanzen',
  orderInstance: 'Instanz bestellen',
  next: 'Weiter',
  back: 'Zurück',
  orderNow: 'Jetzt kostenpflichtig bestellen',
  steps: [
    'Produkt',
    'Servicetyp',
    'Nodesize',
    'Speichergröße',
    'Vertrauenswürdige Quellen',
    'Region',
    'Abrechnungsprofil',
    'Zusammenfassung',
  ],
  storage: 'Speicher (GB)',
  storageInvalid: 'Wählen Sie 50 bis 200 GB in Schritten von 50 GB.',
  addSource: 'Quelle hinzufügen',
  addMine: 'Meine Adresse hinzufügen',
  source: (n: number) => `Vertrauenswürdige Quelle ${n}`,
  adminSection: 'Admin-Konsole und Admin-API (optional)',
  adminSome: 'Nur diese vertrauenswürdigen Quellen',
  adminNotTrusted: 'liegt nicht in den vertrauenswürdigen Quellen',
  addAdminSource: 'Admin-Quelle hinzufügen',
  adminSource: (n: number) => `Admin-Quelle ${n}`,
  newProfile: 'Neues Abrechnungsprofil',
  company: 'Firma',
  street: 'Straße und Hausnummer',
  postalCode: 'Postleitzahl',
  city: 'Ort',
  vatId: 'USt-IdNr.',
  invoiceEmail: 'E-Mail-Adresse für Rechnungen',
  terms: /Ich akzeptiere die Allgemeinen Geschäftsbedingungen/,
  atLeastOne: 'Schalten Sie mindestens eine Quelle frei',
  // A message of the shared schema (src/access/trusted-sources.ts), by its code (src/platform/de-messages.ts).
  wholeInternet: 'würde das ganze Internet zulassen',
  statusNewMeaning: 'Status direkt nach dem Auftrag.',
  language: 'Deutsch',
};
export const en: typeof de = {
  organizationName: 'Organisation name',
  email: 'E-mail address',
  password: 'Password',
  signUp: 'Sign up',
  overview: 'Overview',
  noInstances: 'No instances yet',
  orderInstance: 'Order an instance',
  next: 'Next',
  back: 'Back',
  orderNow: 'Order now (with costs)',
  steps: [
    'Product',
    'Service type',
    'Node size',
    'Storage',
    'Trusted sources',
    'Region',
    'Billing profile',
    'Summary',
  ],
  storage: 'Storage (GB)',
  storageInvalid: 'Choose from 50 to 200 GB in steps of 50 GB.',
  addSource: 'Add a source',
  addMine: 'Add my address',
  source: (n: number) => `Trusted source ${n}`,
  adminSection: 'Admin console and admin API (optional)',
  adminSome: 'Only these trusted sources',
  adminNotTrusted: 'is not within the trusted sources',
  addAdminSource: 'Add an admin source',
  adminSource: (n: number) => `Admin source ${n}`,
  newProfile: 'New billing profile',
  company: 'Company',
  street: 'Street and number',
  postalCode: 'Postal code',
  city: 'City',
  vatId: 'VAT id',
  invoiceEmail: 'E-mail address for invoices',
  terms: /I accept the terms and conditions/,
  atLeastOne: 'Allow at least one source',
  wholeInternet: 'would allow the whole Internet',
  statusNewMeaning: 'Status right after the order.',
  language: 'English',
};
export const texts = { de, en };
