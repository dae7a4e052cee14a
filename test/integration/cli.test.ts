import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/platform/package-root.js';
import { bearerHeaders, signUp, TEST_PASSWORD, type SignedInUser } from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { exampleBillingProfile } from '../support/orders.js';
import { insertDatabaseOnlyInstance } from '../support/backups.js';

/**
 * The built `keyhouse` binary (package.json "bin") against a Keyhouse listening on loopback: JSON output parsed,
 * exit codes checked (0 done, 1 refused, 2 usage). Only the API role runs, so orders stay where the tests put them.
 */
const BINARY = path.join(packageRoot, 'dist', 'src', 'cli', 'keyhouse.js');

let keyhouse: TestKeyhouse;
let url: string;
let customer: SignedInUser;
let token: string;
let billingProfileId: string;
let home: string;

type Run = { code: number; stdout: string; stderr: string };

function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BINARY, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        KEYHOUSE_URL: url,
        KEYHOUSE_TOKEN: token,
        ...options.env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

const json = (run: Run) => {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
};

beforeAll(async () => {
  // The issue asks for the built binary: compile the server and CLI sources (not the portal) once for this file.
  await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageRoot });
  keyhouse = await startTestKeyhouse();
  await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(keyhouse.http.server.address() as AddressInfo).port}`;
  customer = await signUp(keyhouse);
  token = await customer.createApiToken('cli test');
  const profile = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/billing-profiles',
    headers: bearerHeaders(token),
    payload: exampleBillingProfile,
  });
  billingProfileId = profile.json().id;
  home = mkdtempSync(path.join(tmpdir(), 'keyhouse-cli-home-'));
}, 180_000);

afterAll(async () => {
  await keyhouse?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const orderArgs = (overrides: string[] = []) => [
  'order',
  'create',
  '--node-size',
  'b2-4',
  '--storage-gb',
  '50',
  '--trusted-source',
  '127.0.0.1',
  '--trusted-source',
  '10.1.2.0/24',
  '--region',
  'local',
  '--billing-profile-id',
  billingProfileId,
  '--accept-terms',
  '--output',
  'json',
  ...overrides,
];

async function setOrder(orderId: string, status: 'done' | 'failed', instanceStatus: string) {
  await keyhouse.db.pool.query(
    `UPDATE orders SET status = $2, failure_reason = CASE WHEN $2 = 'failed' THEN 'Region full' END WHERE id = $1`,
    [orderId, status],
  );
  await keyhouse.db.pool.query(
    `UPDATE instances SET status = $2 WHERE id = (SELECT instance_id FROM orders WHERE id = $1)`,
    [orderId, instanceStatus],
  );
}

describe('keyhouse CLI', () => {
  let orderId: string;
  let instanceId: string;

  it('prints its usage, and refuses unknown commands and missing configuration with exit code 2', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('order create');
    expect((await cli(['frobnicate'])).code).toBe(2);
    const noToken = await cli(['orders', 'list'], { env: { KEYHOUSE_TOKEN: '' } });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('KEYHOUSE_TOKEN');
  });

  it('shows the catalog as JSON and as a table', async () => {
    const catalog = json(await cli(['catalog', '--output', 'json']));
    expect(catalog.nodeSizes.map((n: { id: string }) => n.id)).toContain('b2-4');
    const text = await cli(['catalog']);
    expect(text.stdout).toMatch(/ID\s+FAMILY\s+VCPU/);
  });

  it('validates an order with the shared schema before sending, and prints field errors (exit 1)', async () => {
    const storage = await cli(orderArgs(['--storage-gb', '75']));
    expect(storage.code).toBe(1);
    expect(storage.stderr).toContain('storageGb: storage grows in steps of 50 GB');
    const sources = await cli(orderArgs(['--trusted-source', '0.0.0.0/0']));
    expect(sources.code).toBe(1);
    expect(sources.stderr).toMatch(/trustedSources\.2: .*whole Internet/);
    const terms = await cli(orderArgs().filter((a) => a !== '--accept-terms'));
    expect(terms.code).toBe(2);
    expect(terms.stderr).toContain('--accept-terms');
    const { rows } = await keyhouse.db.pool.query('SELECT 1 FROM orders');
    expect(rows).toHaveLength(0);
  });

  it("prints the server's refusal with its fields when the API says no (exit 1)", async () => {
    const unknownProfile = await cli(
      orderArgs(['--billing-profile-id', '0b6f4c1e-8f8a-4a39-9a43-1f1c1f0e2a11']),
    );
    expect(unknownProfile.code).toBe(1);
    expect(unknownProfile.stderr).toContain('400');
    expect(unknownProfile.stderr).toContain('billingProfileId: No billing profile with this id');
  });

  it('orders an instance, then lists and shows orders and instances', async () => {
    const order = json(await cli(orderArgs()));
    expect(order).toMatchObject({
      type: 'create',
      status: 'new',
      spec: { trustedSources: ['127.0.0.1/32', '10.1.2.0/24'] },
    });
    orderId = order.id;
    instanceId = order.instanceId;
    expect(json(await cli(['orders', 'list', '--output', 'json'])).map((o: { id: string }) => o.id)).toEqual([
      orderId,
    ]);
    expect(json(await cli(['orders', 'show', orderId, '--output', 'json'])).id).toBe(orderId);
    const instances = json(await cli(['instances', 'list', '--output', 'json']));
    expect(instances).toEqual([expect.objectContaining({ id: instanceId, status: 'provisioning' })]);
    expect(json(await cli(['instances', 'show', instanceId, '--output', 'json'])).id).toBe(instanceId);
    const table = await cli(['instances', 'list']);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(table.stdout).toContain(instanceId);
  });

  it('refuses changes and credentials while the instance is provisioning, with the reason (exit 1)', async () => {
    const credentials = await cli(['credentials', instanceId]);
    expect(credentials.code).toBe(1);
    expect(credentials.stderr).toContain('no credentials yet');
    const sources = await cli(['sources', 'add', instanceId, '192.168.7.0/24']);
    expect(sources.code).toBe(1);
    expect(sources.stderr).toMatch(/409 Conflict: .*still running|409 Conflict: .*provisioning/);
  });

  it('watches an order to its end: exit 0 when done', async () => {
    await setOrder(orderId, 'done', 'running');
    const watched = await cli(['orders', 'watch', orderId, '--output', 'json']);
    expect(json(watched)).toMatchObject({ id: orderId, status: 'done' });
  });

  it('changes trusted sources (add, remove, set), refuses invalid changes locally', async () => {
    const added = json(await cli(['sources', 'add', instanceId, '192.168.7.0/24', '--output', 'json']));
    expect(added).toMatchObject({
      type: 'trusted-sources',
      spec: { trustedSources: ['127.0.0.1/32', '10.1.2.0/24', '192.168.7.0/24'] },
    });
    await setOrder(added.id, 'done', 'running');
    const removed = json(await cli(['sources', 'remove', instanceId, '10.1.2.0/24', '--output', 'json']));
    expect(removed.spec.trustedSources).toEqual(['127.0.0.1/32', '192.168.7.0/24']);
    await setOrder(removed.id, 'done', 'running');

    const same = await cli(['scale', instanceId, '--node-size', 'b2-4']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('nodeSize: the instance already runs on b2-4');
    const shrink = await cli(['storage', instanceId, '--storage-gb', '50']);
    expect(shrink.code).toBe(1);
    expect(shrink.stderr).toContain('storage can only grow');
    const wrongName = await cli(['delete', instanceId, '--confirm-name', 'not-the-name']);
    expect(wrongName.code).toBe(1);
    expect(wrongName.stderr).toContain('confirmName');

    const scaled = json(await cli(['scale', instanceId, '--node-size', 'b4-8', '--output', 'json']));
    expect(scaled).toMatchObject({ type: 'scale', spec: { nodeSize: 'b4-8' } });
    const busy = await cli(['restart', instanceId]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('still running');
    await setOrder(scaled.id, 'failed', 'running');
    const failedWatch = await cli(['orders', 'watch', scaled.id, '--output', 'json']);
    expect(failedWatch.code).toBe(1);
    expect(JSON.parse(failedWatch.stdout)).toMatchObject({ status: 'failed', failureReason: 'Region full' });
  });

  it('orders with admin sources and changes them (set, none, reset), checked locally against the trusted sources', async () => {
    const outside = await cli(orderArgs(['--admin-source', '192.168.9.9']));
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/adminSources\.0: .*not within the trusted sources/);

    const set = json(await cli(['admin-sources', 'set', instanceId, '192.168.7.3', '--output', 'json']));
    expect(set).toMatchObject({ type: 'admin-sources', spec: { adminSources: ['192.168.7.3/32'] } });
    await setOrder(set.id, 'done', 'running');
    const shown = await cli(['instances', 'show', instanceId]);
    expect(shown.stdout).toMatch(/adminSources\s+192\.168\.7\.3\/32/);
    const notTrusted = await cli(['admin-sources', 'set', instanceId, '10.9.9.9']);
    expect(notTrusted.code).toBe(1);
    expect(notTrusted.stderr).toMatch(/adminSources\.0: .*not within the trusted sources/);
    const none = json(await cli(['admin-sources', 'none', instanceId, '--output', 'json']));
    expect(none.spec.adminSources).toEqual([]);
    await setOrder(none.id, 'done', 'running');
    const reset = json(await cli(['admin-sources', 'reset', instanceId, '--output', 'json']));
    expect(reset.spec.adminSources).toBeNull();
    await setOrder(reset.id, 'done', 'running');
    expect((await cli(['instances', 'show', instanceId])).stdout).toMatch(
      /adminSources\s+\(all trusted sources\)/,
    );
    expect((await cli(['admin-sources', 'frob', instanceId])).code).toBe(2);
  });

  it('opens and lists tickets', async () => {
    const ticket = json(
      await cli([
        'tickets',
        'create',
        '--subject',
        'Scale failed',
        '--message',
        'Why?',
        '--order-id',
        orderId,
        '--output',
        'json',
      ]),
    );
    expect(ticket).toMatchObject({ subject: 'Scale failed', orderId });
    expect(json(await cli(['tickets', '--output', 'json'])).map((t: { id: string }) => t.id)).toEqual([
      ticket.id,
    ]);
  });

  it('logs in with e-mail and password, storing a token readable by the owner only', async () => {
    const login = await cli(['login', '--url', url, '--email', customer.email, '--password-stdin'], {
      env: { KEYHOUSE_URL: '', KEYHOUSE_TOKEN: '' },
      stdin: `${TEST_PASSWORD}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    const file = path.join(home, '.config', 'keyhouse', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const listed = await cli(['instances', 'list', '--output', 'json'], {
      env: { KEYHOUSE_URL: '', KEYHOUSE_TOKEN: '' },
    });
    expect(json(listed)).toHaveLength(1);
    const wrong = await cli(['login', '--url', url, '--email', customer.email, '--password-stdin'], {
      stdin: 'wrong password\n',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('401');
  });
});

describe('keyhouse themes, domain and logs (issue 15)', () => {
  it('uploads a theme, refuses one with a class file or ../ path at the archive field, refuses a foreign domain', async () => {
    const { strToU8, zipSync } = await import('fflate');
    const { writeFileSync } = await import('node:fs');
    const { issueCertificate } = await import('../support/test-pki.js');
    const instanceId = json(await cli(orderArgs()))?.instanceId as string;
    const file = (name: string, files: Record<string, string>) => {
      const target = path.join(home, name);
      writeFileSync(
        target,
        zipSync(Object.fromEntries(Object.entries(files).map(([n, c]) => [n, strToU8(c)]))),
      );
      return target;
    };
    const good = file('acme.zip', { 'acme/login/theme.properties': 'parent=keycloak.v2\n' });
    const uploaded = json(await cli(['themes', 'upload', instanceId, good, '--output', 'json']));
    expect(uploaded).toMatchObject({ name: 'acme', version: 1 });
    const listed = await cli(['themes', instanceId]);
    expect(listed.stdout).toMatch(/^acme\s+1\s+/m);
    for (const bad of [
      file('class.zip', { 'x/login/theme.properties': 'a=b\n', 'x/login/A.class': 'cafebabe' }),
      file('escape.zip', { 'x/login/theme.properties': 'a=b\n', 'x/login/../../../../etc/x': 'x' }),
    ]) {
      const refused = await cli(['themes', 'upload', instanceId, bad]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/archive: /);
    }
    // A certificate for another name: the field at fault, before anything is stored.
    const root = issueCertificate({ commonName: 'Root', ca: true });
    const leaf = issueCertificate({ commonName: 'a', names: ['a.beispiel.test'], issuer: root });
    writeFileSync(path.join(home, 'chain.pem'), leaf.certPem + root.certPem);
    writeFileSync(path.join(home, 'key.pem'), leaf.keyPem);
    const domain = await cli([
      'domain',
      'set',
      instanceId,
      '--hostname',
      'b.beispiel.test',
      '--certificate',
      path.join(home, 'chain.pem'),
      '--key',
      path.join(home, 'key.pem'),
    ]);
    expect(domain.code).toBe(1);
    expect(domain.stderr).toMatch(/certificate\.certificateChainPem: .*does not cover b\.beispiel\.test/);
    const acme = await cli(['domain', 'set', instanceId, '--hostname', 'b.beispiel.test', '--acme']);
    expect(acme.code, acme.stderr).toBe(0);
    expect(acme.stdout).toMatch(/dnsRecord\s+b\.beispiel\.test\. CNAME kc-[0-9a-f]{8}\.localhost\./);
    expect((await cli(['domain', 'remove', instanceId])).code).toBe(0);
    // No Keycloak ran for this instance: its log is not there yet, and the CLI says so.
    const logs = await cli(['logs', instanceId]);
    expect(logs.code).toBe(1);
    expect(logs.stderr).toMatch(/no log yet/);
  });
});

describe('keyhouse backups', () => {
  it('changes the policy with local checks, lists it, uploads a key and refuses an unknown download', async () => {
    const instance = await insertDatabaseOnlyInstance(keyhouse, customer, {
      runningSince: new Date().toISOString(),
      rows: 1,
      headers: bearerHeaders(token),
    });
    const tooClose = await cli(['backups', 'policy', instance.id, '--maintenance-start', '2']);
    expect(tooClose.code).toBe(1);
    expect(tooClose.stderr).toContain('policy.maintenanceWindow.startHour');

    const placed = json(
      await cli(['backups', 'policy', instance.id, '--retention', '30', '--output', 'json']),
    );
    expect(placed).toMatchObject({ type: 'backup-policy', priceDelta: { perMonth: '6.67' } });

    const listed = await cli(['backups', 'list', instance.id]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('retention: 30 nightly backups (+6.67 EUR/month)');
    expect(listed.stdout).toContain('download key: none');

    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ email: 'ops@beispiel.de' }],
      format: 'armored',
    });
    const keyFile = path.join(home, 'backup-key.asc');
    writeFileSync(keyFile, publicKey);
    const uploaded = json(
      await cli(['backups', 'key', instance.id, '--public-key-file', keyFile, '--output', 'json']),
    );
    expect(uploaded.userIds).toEqual(['<ops@beispiel.de>']);

    const missing = await cli([
      'backups',
      'download',
      instance.id,
      '00000000-0000-4000-8000-000000000000',
      '--out',
      path.join(home, 'x.pgp'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
  });
});
