import { strToU8, zipSync, type Zippable } from 'fflate';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceMetrics } from '../../src/metrics/metrics-schemas.js';
import type { LogPage } from '../../src/instances/instance-log-schemas.js';
import { bearerHeaders, signUp, type SignedInUser } from '../support/accounts.js';
import { adminClientThroughEdge, edgeDispatcher, passwordLogin } from '../support/keycloak-through-edge.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { until } from '../support/until.js';

/**
 * What a customer sees of a running instance, on one real Keycloak behind the edge: its log (search, download,
 * live tail of a line this test causes, no secrets), its metrics from a real Prometheus (logins, failed logins
 * and tokens counted exactly as this test made them), and a login theme uploaded, refused when it carries code
 * or leaves its folder, deployed, replaced and removed by orders. Embedded-database project only: one Keycloak
 * start costs a minute or more here.
 */

const zip = (files: Record<string, string>) =>
  Buffer.from(
    zipSync(Object.fromEntries(Object.entries(files).map(([n, c]) => [n, strToU8(c)])) as Zippable),
  );
const theme = (title: string) =>
  zip({
    'acme/login/theme.properties':
      'parent=keycloak.v2\nimport=common/keycloak\nstyles=css/styles.css css/acme.css\n',
    'acme/login/resources/css/acme.css': '.pf-v5-c-login__main { border-top: 8px solid #00a35c; }\n',
    'acme/login/messages/messages_en.properties': `loginAccountTitle=${title}\n`,
  });

describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'logs, metrics and themes of an instance',
  () => {
    let keyhouse: TestKeyhouse;
    let customer: SignedInUser;
    let token: string;
    let instanceId = '';
    let url = '';
    let realm = '';
    let admin = { username: '', password: '' };
    const api = (method: 'GET' | 'POST', path: string, payload?: unknown) =>
      keyhouse.request({ method, url: path, headers: bearerHeaders(token), payload: payload as object });

    async function placeAndWait(body: object): Promise<string> {
      const placed = await api('POST', `/api/v1/instances/${instanceId}/orders`, body);
      expect(placed.statusCode, placed.body).toBe(201);
      const orderId = placed.json<{ id: string }>().id;
      const order = await until(
        'the order to end',
        async () => {
          const o = (await api('GET', `/api/v1/orders/${orderId}`)).json<{
            status: string;
            steps: object[];
          }>();
          return o.status === 'done' || o.status === 'failed' ? o : undefined;
        },
        5 * 60_000,
      );
      expect(order.status, JSON.stringify(order.steps)).toBe('done');
      return orderId;
    }

    beforeAll(async () => {
      keyhouse = await startTestKeyhouse((config) => {
        config.roles = ['api', 'worker', 'edge'];
        config.catalog.serviceTypes[0]!.versions = config.catalog.serviceTypes[0]!.versions.slice(0, 1);
        config.edge.listenHost = '127.0.0.1';
        const base = 20000 + Math.floor(Math.random() * 20000);
        config.edge.portRange = { from: base, to: base + 20 };
        config.keycloak.portRange = { from: base + 100, to: base + 140 };
      });
      customer = await signUp(keyhouse);
      token = await customer.createApiToken();
      const placed = await api('POST', '/api/v1/orders', exampleOrder(keyhouse.config));
      expect(placed.statusCode).toBe(201);
      instanceId = placed.json<{ instanceId: string }>().instanceId;
      const orderId = placed.json<{ id: string }>().id;
      await until(
        'the instance to be provisioned',
        async () => {
          const order = (await api('GET', `/api/v1/orders/${orderId}`)).json<{ status: string }>();
          if (order.status === 'failed') throw new Error('provisioning failed');
          return order.status === 'done' ? true : undefined;
        },
        12 * 60_000,
      );
      url = (await api('GET', `/api/v1/instances/${instanceId}`)).json<{ url: string }>().url;
      realm = customer.organization.customerNumber;
      admin = (await api('POST', `/api/v1/instances/${instanceId}/credentials/reveal`)).json();
    }, 15 * 60_000);

    afterAll(async () => {
      if (instanceId) {
        const { rows } = await keyhouse.db.pool.query<{ name: string }>(
          'SELECT name FROM instances WHERE id = $1',
          [instanceId],
        );
        if (rows[0])
          await keyhouse.localBackend!.driver.destroy(
            { instanceId, name: rows[0].name },
            async () => undefined,
          );
      }
      await keyhouse?.stop();
    }, 120_000);

    it('keeps the management port (and so /metrics) on loopback', async () => {
      const endpoint = keyhouse.localBackend!.driver.managementEndpoint({
        name: (await api('GET', `/api/v1/instances/${instanceId}`)).json<{ name: string }>().name,
      })!;
      const listening = execFileSync('ss', ['-Hltn', `sport = :${endpoint.port}`], { encoding: 'utf8' });
      // An IPv6 socket bound to loopback shows the address IPv4-mapped.
      expect(
        listening
          .trim()
          .split('\n')
          .map((line) => line.split(/\s+/)[3]!.replace(/^\[::ffff:([\d.]+)\]/, '$1')),
      ).toEqual([`127.0.0.1:${endpoint.port}`]);
      // Through the edge, /metrics is Keycloak's main port: nothing there.
      const viaEdge = await fetch(`${url}/metrics`, {
        dispatcher: edgeDispatcher(keyhouse.ca.certificatePem),
      } as RequestInit);
      expect(viaEdge.status).toBe(404);
      await viaEdge.body?.cancel();
    });

    it(
      'counts the logins, failed logins and tokens this test makes, from a real Prometheus',
      { timeout: 4 * 60_000 },
      async () => {
        const metrics = async () => {
          const answer = await api('GET', `/api/v1/instances/${instanceId}/metrics?range=hour`);
          expect(answer.statusCode, answer.body).toBe(200);
          return answer.json<InstanceMetrics>();
        };
        // The baseline: the driver's own logins (handover, login check) once scraped, the same on two reads in a row.
        let previous = '';
        const baseline = await until(
          'stable totals',
          async () => {
            const m = await metrics();
            const totals = JSON.stringify(m.totals);
            const scraped = m.series.heapUsedBytes.some(([, v]) => v !== null);
            const same = scraped && totals === previous;
            previous = totals;
            if (!same) await new Promise((resolve) => setTimeout(resolve, 2500));
            return same ? m.totals : undefined;
          },
          120_000,
        );
        const login = (password: string) =>
          passwordLogin({
            url,
            ca: keyhouse.ca.certificatePem,
            realm: 'master',
            username: admin.username,
            password,
          });
        for (let i = 0; i < 3; i++) expect(await login(admin.password)).toBe(200);
        for (let i = 0; i < 2; i++) expect(await login('wrong password')).toBe(401);
        const after = await until(
          'the logins in the metrics',
          async () => {
            const m = await metrics();
            return m.totals.logins - baseline.logins >= 3 &&
              m.totals.failedLogins - baseline.failedLogins >= 2
              ? m
              : undefined;
          },
          60_000,
        );
        expect({
          logins: after.totals.logins - baseline.logins,
          failedLogins: after.totals.failedLogins - baseline.failedLogins,
          tokensIssued: after.totals.tokensIssued - baseline.tokensIssued,
        }).toEqual({ logins: 3, failedLogins: 2, tokensIssued: 3 });
        const last = <T>(points: [number, T][]) => points.filter(([, v]) => v !== null).at(-1)?.[1];
        expect(last(after.series.requestsPerSecond)).toBeGreaterThan(0);
        expect(last(after.series.responseTimeP95Ms)).toBeGreaterThan(0);
        expect(last(after.series.heapUsedBytes)).toBeGreaterThan(10 * 1024 * 1024);
        expect(after.heapMaxBytes).toBeGreaterThanOrEqual(last(after.series.heapUsedBytes)!);
        expect(last(after.series.cpuPercent)).toBeGreaterThanOrEqual(0);
        expect(last(after.series.databaseBytes)).toBeGreaterThan(1024 * 1024);
      },
    );

    it('shows the log: a live tail with the line this test causes, search, download, no secrets', async () => {
      const stranger = `nobody-${randomBytes(4).toString('hex')}`;
      await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
      const address = keyhouse.http.server.address() as { port: number };
      const controller = new AbortController();
      const stream = await fetch(
        `http://127.0.0.1:${address.port}/api/v1/instances/${instanceId}/logs/stream`,
        {
          headers: bearerHeaders(token),
          signal: controller.signal,
        },
      );
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      const reader = stream.body!.getReader();
      let received = '';
      // The tail runs: its first comment is there before the line is caused.
      while (!received.includes(': following'))
        received += new TextDecoder().decode((await reader.read()).value);
      expect(
        await passwordLogin({
          url,
          ca: keyhouse.ca.certificatePem,
          realm,
          username: stranger,
          password: 'x',
        }),
      ).toBe(401);
      const deadline = Date.now() + 30_000;
      while (!received.includes(stranger) && Date.now() < deadline)
        received += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      expect(received).toContain('event: entries');
      expect(received).toContain(stranger);

      const search = await api('GET', `/api/v1/instances/${instanceId}/logs?search=${stranger}`);
      expect(search.statusCode).toBe(200);
      const page = search.json<LogPage>();
      expect(page.entries.length).toBeGreaterThanOrEqual(1);
      expect(page.entries.every((e) => e.text.includes(stranger))).toBe(true);
      expect(page.entries[0]!.level).toBe('WARN');

      const all = await api('GET', `/api/v1/instances/${instanceId}/logs?limit=2000`);
      expect(all.json<LogPage>().entries.some((e) => e.text.includes('started in'))).toBe(true);
      const download = await api('GET', `/api/v1/instances/${instanceId}/logs/download`);
      expect(download.statusCode).toBe(200);
      expect(download.headers['content-disposition']).toMatch(
        /attachment; filename="kc-[0-9a-f]{8}-keycloak\.log"/,
      );
      expect(download.body).toContain(stranger);
      const secrets = await keyhouse.db.pool.query<{ secrets: string }>(
        'SELECT secrets FROM instances WHERE id = $1',
        [instanceId],
      );
      expect(secrets.rows[0]!.secrets).toBeTruthy();
      expect(download.body).not.toContain(admin.password);

      const bad = await api('GET', `/api/v1/instances/${instanceId}/logs?limit=99999`);
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('query.limit');
      const other = await signUp(keyhouse);
      const foreign = await keyhouse.request({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}/logs`,
        headers: other.sessionHeaders,
      });
      expect(foreign.statusCode).toBe(404);
    });

    it(
      'refuses themes with code or ../ paths, deploys one, replaces it and removes it',
      { timeout: 10 * 60_000 },
      async () => {
        const upload = (archive: Buffer, fileName = 'acme.zip') =>
          api('POST', `/api/v1/instances/${instanceId}/themes`, {
            fileName,
            archive: archive.toString('base64'),
          });
        const refusals = [
          zip({ 'acme/login/theme.properties': 'parent=keycloak.v2\n', 'acme/login/Evil.class': 'cafebabe' }),
          zip({ 'acme/login/theme.properties': 'parent=keycloak.v2\n', 'acme/login/../../../../tmp/x': 'x' }),
          zip({ 'keycloak/login/theme.properties': 'parent=base\n' }),
        ];
        for (const archive of refusals) {
          const refused = await upload(archive);
          expect(refused.statusCode).toBe(400);
          expect(refused.json<{ errors: { path: string }[] }>().errors.map((e) => e.path)).toEqual([
            'archive',
          ]);
        }
        expect((await api('GET', `/api/v1/instances/${instanceId}/themes`)).json()).toEqual({ themes: [] });

        const first = await upload(theme('Welcome to ACME'));
        expect(first.statusCode, first.body).toBe(201);
        expect(first.json()).toMatchObject({ name: 'acme', version: 1, types: ['login'], fileCount: 3 });
        const second = await upload(theme('Welcome back to ACME'), 'acme-2.zip');
        expect(second.json()).toMatchObject({ name: 'acme', version: 2 });

        const notUploaded = await api('POST', `/api/v1/instances/${instanceId}/orders`, {
          type: 'theme-deploy',
          name: 'acme',
          version: 9,
        });
        expect(notUploaded.statusCode).toBe(400);
        expect(notUploaded.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('version');

        const loginPage = async () => {
          const response = await fetch(
            `${url}/realms/${realm}/protocol/openid-connect/auth?client_id=account-console&response_type=code&scope=openid` +
              `&redirect_uri=${encodeURIComponent(`${url}/realms/${realm}/account/`)}` +
              // The account console is a public client with PKCE: without a challenge Keycloak answers with an
              // error redirect instead of the login page.
              `&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
            { dispatcher: edgeDispatcher(keyhouse.ca.certificatePem), redirect: 'manual' } as RequestInit,
          );
          expect(response.status).toBe(200);
          return response.text();
        };
        const deploy = await placeAndWait({ type: 'theme-deploy', name: 'acme', version: 1 });
        const deployOrder = (await api('GET', `/api/v1/orders/${deploy}`)).json<{
          steps: { name: string; message?: string }[];
        }>();
        expect(deployOrder.steps.find((s) => s.name === 'themes')?.message).toBe('acme 1 added');
        expect(deployOrder.steps.find((s) => s.name === 'keycloak-start')?.message).toMatch(/^adopted/);
        const client = await adminClientThroughEdge({ url, ca: keyhouse.ca.certificatePem, ...admin });
        await client.realms.update({ realm }, { loginTheme: 'acme' });
        const page = await loginPage();
        expect(page).toContain('Welcome to ACME');
        expect(page).toMatch(/\/login\/acme\/css\/acme\.css/);

        // A replaced theme needs a new Keycloak (it caches themes): with room in the region, one beside the running
        // one takes over at the edge, with the new version in its own fresh home (the running one's is untouched).
        const replace = await placeAndWait({ type: 'theme-deploy', name: 'acme', version: 2 });
        const replaceOrder = (await api('GET', `/api/v1/orders/${replace}`)).json<{
          steps: { name: string; message?: string; messageParts?: { code: string }[] }[];
        }>();
        const standby = replaceOrder.steps.find((s) => s.name === 'keycloak-standby');
        expect(standby?.message).toContain('acme 2 added');
        expect(standby?.messageParts?.map((part) => part.code)).toContain('step.themeAdded');
        expect(replaceOrder.steps.map((s) => s.name)).toEqual(
          expect.arrayContaining(['edge-switch', 'keycloak-drain']),
        );
        expect(replaceOrder.steps.map((s) => s.name)).not.toContain('restart-in-place');
        expect(await loginPage()).toContain('Welcome back to ACME');
        const listed = (await api('GET', `/api/v1/instances/${instanceId}/themes`)).json<{
          themes: { name: string; deployedVersion: number | null; versions: { version: number }[] }[];
        }>();
        expect(listed.themes).toEqual([
          expect.objectContaining({
            name: 'acme',
            deployedVersion: 2,
            versions: [expect.objectContaining({ version: 2 }), expect.objectContaining({ version: 1 })],
          }),
        ]);

        await placeAndWait({ type: 'theme-remove', name: 'acme' });
        const fallback = await loginPage();
        expect(fallback).not.toContain('ACME');
        expect(
          (await api('GET', `/api/v1/instances/${instanceId}`)).json<{ themes: object[] }>().themes,
        ).toEqual([]);
      },
    );
  },
);
