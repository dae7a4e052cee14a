import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceBackups } from '../../src/backups/backup-schemas.js';
import { ensureBackup, failBackup, startBackup } from '../../src/backups/backup-store.js';
import { defaultInstancesDir, keycloakLogFile } from '../../src/drivers/local/instance-files.js';
import { operatorRoutes } from '../../src/http/routes/operator-routes.js';
import type { Instance } from '../../src/instances/instance-schemas.js';
import {
  generateInstanceSecrets,
  openInstanceSecrets,
  sealInstanceSecrets,
} from '../../src/instances/instance-secrets.js';
import { storeSecretsOnce } from '../../src/instances/instance-store.js';
import type { OperatorService } from '../../src/operators/operator-service.js';
import { recordOrderStep } from '../../src/orders/order-steps.js';
import type { Order } from '../../src/orders/order-schemas.js';
import { transitionOrder } from '../../src/orders/order-status.js';
import { insertOrder } from '../../src/orders/order-store.js';
import type { TicketService } from '../../src/support/ticket-service.js';
import { packageRoot } from '../../src/platform/package-root.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import {
  createUserWithRole,
  signInOperator,
  signUp,
  TEST_PASSWORD,
  uniqueEmail,
  type SignedInUser,
} from '../support/accounts.js';
import { eventually, insertDatabaseOnlyInstance } from '../support/backups.js';
import { exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

// The operator console's API: operators see every organisation, act on orders and tickets (audited as themselves),
// and nobody else learns that these routes exist.

let keyhouse: TestKeyhouse;
let customer: SignedInUser;
let otherCustomer: SignedInUser;
let operator: Awaited<ReturnType<typeof signInOperator>>;
let readOnlyOperator: Awaited<ReturnType<typeof signInOperator>>;
let clock = Date.now();
const now = () => new Date(clock);

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(undefined, { now });
  customer = await signUp(keyhouse, { organizationName: 'Kunde Eins GmbH' });
  otherCustomer = await signUp(keyhouse, { organizationName: 'Kunde Zwei AG' });
  operator = await signInOperator(keyhouse, 'operator');
  readOnlyOperator = await signInOperator(keyhouse, 'operator-read-only');
});
afterAll(() => keyhouse?.stop());

async function placeOrder(user: SignedInUser) {
  const response = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/orders',
    headers: user.sessionHeaders,
    payload: exampleOrder(keyhouse.config),
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string; instanceId: string }>();
}

/** What the reconciler leaves when a create order fails at a driver step. */
async function failOrder(orderId: string) {
  await transitionOrder(keyhouse.db.pool, orderId, 'new', 'processing');
  await recordOrderStep(keyhouse.db.pool, orderId, 'database', 'done', 'database and role created');
  await recordOrderStep(
    keyhouse.db.pool,
    orderId,
    'keycloak-start',
    'failed',
    'Keycloak did not become ready',
  );
  await keyhouse.db.transaction((tx) =>
    transitionOrder(tx, orderId, 'processing', 'failed', {
      reason: 'Provisioning did not complete after several attempts.',
      operatorDetail: 'readiness probe timed out after 180 s; java.lang.OutOfMemoryError in keycloak.log',
    }),
  );
}

const ops = (
  method: 'GET' | 'POST' | 'PATCH',
  url: string,
  who = operator,
  payload?: Record<string, unknown>,
) =>
  keyhouse.request({
    method,
    url,
    headers: method === 'GET' ? { cookie: who.cookie } : who.sessionHeaders,
    payload,
  });

describe('operator routes are invisible to everyone else', () => {
  /** Every route the plugin registers, found by registering it on a bare server (handlers never run). */
  async function operatorRouteList(): Promise<{ method: string; url: string }[]> {
    const app = Fastify();
    const routes: { method: string; url: string }[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        if (method !== 'HEAD') routes.push({ method, url: route.url });
    });
    app.setValidatorCompiler(() => () => true);
    app.setSerializerCompiler(() => JSON.stringify);
    await app.register(operatorRoutes({} as OperatorService, {} as TicketService));
    await app.ready();
    await app.close();
    return routes;
  }

  it('answers a customer (session or token), and nobody signed in, exactly like an unknown route', async () => {
    const routes = await operatorRouteList();
    expect(routes.length).toBeGreaterThanOrEqual(11);
    const token = await customer.createApiToken();
    const id = '00000000-0000-4000-8000-000000000000';
    for (const route of routes) {
      const url = route.url.replace(':id', id);
      for (const headers of [customer.sessionHeaders, { authorization: `Bearer ${token}` }, {}]) {
        const response = await keyhouse.request({ method: route.method as 'GET', url, headers, payload: {} });
        expect(response.statusCode, `${route.method} ${url}`).toBe(404);
        expect(response.json()).toMatchObject({
          type: 'https://keyhouse.dev/problems/not-found',
          detail: `No route ${route.method} ${url}.`,
        });
      }
    }
    const document = await keyhouse.request({ url: '/api/v1/openapi.json' });
    expect(document.body).not.toContain('/api/v1/ops');
  });

  it('gives operators no customer routes: they belong to no organisation', async () => {
    const session = await keyhouse.request({
      url: '/api/v1/auth/session',
      headers: { cookie: operator.cookie },
    });
    expect(session.json()).toMatchObject({ organization: null, user: { role: 'operator' } });
    const orders = await keyhouse.request({ url: '/api/v1/orders', headers: { cookie: operator.cookie } });
    expect(orders.statusCode).toBe(401);
  });
});

describe('orders across organisations', () => {
  let failed: { id: string; instanceId: string };
  let waiting: { id: string; instanceId: string };
  let stuck: { id: string; instanceId: string };

  beforeAll(async () => {
    failed = await placeOrder(customer);
    await failOrder(failed.id);
    waiting = await placeOrder(otherCustomer);
    stuck = await placeOrder(otherCustomer);
    await transitionOrder(keyhouse.db.pool, stuck.id, 'new', 'processing');
  });

  it('lists every organisation’s orders with filters', async () => {
    const all = await ops('GET', '/api/v1/ops/orders?limit=100');
    const ids = all.json().items.map((o: { id: string }) => o.id);
    expect(ids).toEqual(expect.arrayContaining([failed.id, waiting.id, stuck.id]));
    const byStatus = await ops('GET', '/api/v1/ops/orders?status=failed');
    expect(byStatus.json().items.map((o: { id: string }) => o.id)).toEqual([failed.id]);
    expect(byStatus.json().items[0].organization).toMatchObject({ name: 'Kunde Eins GmbH' });
    const byOrganization = await ops(
      'GET',
      `/api/v1/ops/orders?organizationId=${otherCustomer.organization.id}`,
    );
    expect(byOrganization.json().items).toHaveLength(2);
    const byType = await ops('GET', '/api/v1/ops/orders?type=delete');
    expect(byType.json().items).toEqual([]);
    const byRegion = await ops('GET', '/api/v1/ops/orders?region=local&status=new');
    expect(byRegion.json().items.map((o: { id: string }) => o.id)).toEqual([waiting.id]);

    // "Processing for longer than 30 minutes": nothing now, the stuck order once the clock is 31 minutes on.
    expect((await ops('GET', '/api/v1/ops/orders?processingLongerThanMinutes=30')).json().items).toEqual([]);
    clock += 31 * 60_000;
    const longRunning = await ops('GET', '/api/v1/ops/orders?processingLongerThanMinutes=30');
    expect(longRunning.json().items.map((o: { id: string }) => o.id)).toEqual([stuck.id]);
    const invalid = await ops('GET', '/api/v1/ops/orders?processingLongerThanMinutes=-1');
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().errors[0].path).toBe('query.processingLongerThanMinutes');
  });

  it('shows the operator detail the customer does not see: driver error, step messages, log tail', async () => {
    const instance = (
      await keyhouse.request({
        url: `/api/v1/instances/${failed.instanceId}`,
        headers: { cookie: customer.cookie },
      })
    ).json();
    // Where the local driver has Keycloak write its log.
    const keycloakLog = keycloakLogFile(defaultInstancesDir(keyhouse.config.dataDir), instance.name);
    mkdirSync(path.dirname(keycloakLog), { recursive: true });
    // Keycloak's file format, in this host's time (as the local driver's Keycloak writes it), with the
    // instance's admin password in a line: the console's tail has it cut out like the customer's log view.
    const stamp = (offsetMs: number) => {
      const d = new Date(Date.now() - offsetMs);
      const p = (n: number, w = 2) => String(n).padStart(w, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
    };
    // Stored as the reconciler stores them before Keycloak's first start.
    const secretBox = createSecretBox({
      secretKey: keyhouse.config.secretKey,
      dataDir: keyhouse.config.dataDir,
    });
    const { adminPassword } = openInstanceSecrets(
      secretBox,
      await storeSecretsOnce(
        keyhouse.db.pool,
        instance.id,
        sealInstanceSecrets(secretBox, generateInstanceSecrets()),
      ),
    );
    writeFileSync(
      keycloakLog,
      `${stamp(2000)} INFO  [io.quarkus] (main) starting with ${adminPassword}\n` +
        `${stamp(1000)} ERROR [org.keycloak] (main) java.lang.OutOfMemoryError: Java heap space\n`,
    );

    const detail = (await ops('GET', `/api/v1/ops/orders/${failed.id}`)).json();
    expect(detail.operatorDetail).toMatch(/OutOfMemoryError/);
    expect(detail.steps.map((s: { message?: string }) => s.message)).toEqual([
      'database and role created',
      'Keycloak did not become ready',
    ]);
    expect(detail.logTail).toContain('java.lang.OutOfMemoryError: Java heap space');
    expect(detail.logTail).toContain('starting with [redacted]');
    expect(detail.logTail).not.toContain(adminPassword);
    expect(detail.organization.name).toBe('Kunde Eins GmbH');

    const customerView = await keyhouse.request({
      url: `/api/v1/orders/${failed.id}`,
      headers: { cookie: customer.cookie },
    });
    expect(customerView.body).not.toContain('OutOfMemoryError');
  });

  it('retries a failed order once per failed attempt, audited; the customer sees the new attempt', async () => {
    const refused = await ops('POST', `/api/v1/ops/orders/${failed.id}/retry`, readOnlyOperator, {
      attempt: 1,
    });
    expect(refused.statusCode).toBe(403);

    const [first, second] = await Promise.all([
      ops('POST', `/api/v1/ops/orders/${failed.id}/retry`, operator, { attempt: 1 }),
      ops('POST', `/api/v1/ops/orders/${failed.id}/retry`, operator, { attempt: 1 }),
    ]);
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(first.json()).toMatchObject({ status: 'new', attempt: 2, steps: [], failureReason: null });
    expect(second.json().attempt).toBe(2);
    const { rows } = await keyhouse.db.pool.query(
      `SELECT attempt, operator_detail FROM order_attempts WHERE order_id = $1`,
      [failed.id],
    );
    expect(rows).toEqual([{ attempt: 1, operator_detail: expect.stringMatching(/OutOfMemoryError/) }]);
    // A job to work on it again.
    const jobs = await keyhouse.db.pool.query(`SELECT state FROM pgboss.job WHERE singleton_key = $1`, [
      failed.id,
    ]);
    expect(jobs.rows.length).toBeGreaterThanOrEqual(1);

    const seen = (
      await keyhouse.request({ url: `/api/v1/orders/${failed.id}`, headers: { cookie: customer.cookie } })
    ).json();
    expect(seen).toMatchObject({
      status: 'new',
      attempt: 2,
      previousAttempts: [
        { attempt: 1, failureReason: 'Provisioning did not complete after several attempts.' },
      ],
    });
    const instance = (
      await keyhouse.request({
        url: `/api/v1/instances/${failed.instanceId}`,
        headers: { cookie: customer.cookie },
      })
    ).json();
    expect(instance.status).toBe('provisioning');

    const audit = (
      await keyhouse.request({
        url: '/api/v1/audit-events?action=order.retry',
        headers: { cookie: customer.cookie },
      })
    ).json();
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ actor: `operator:${operator.email}`, targetId: failed.id });

    const notFailed = await ops('POST', `/api/v1/ops/orders/${stuck.id}/retry`, operator, { attempt: 1 });
    expect(notFailed.statusCode).toBe(409);
  });

  it('cancels an order that has not started, not one that is processing', async () => {
    const processing = await ops('POST', `/api/v1/ops/orders/${stuck.id}/cancel`);
    expect(processing.statusCode).toBe(409);
    const cancelled = await ops('POST', `/api/v1/ops/orders/${waiting.id}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({
      status: 'failed',
      failureReason: 'The order was cancelled by the provider before it started.',
      failureReasonParts: [{ code: 'failure.cancelledByProvider', params: {} }],
    });
    const again = await ops('POST', `/api/v1/ops/orders/${waiting.id}/cancel`);
    expect(again.statusCode).toBe(409);
    const instance = (
      await keyhouse.request({
        url: `/api/v1/instances/${waiting.instanceId}`,
        headers: { cookie: otherCustomer.cookie },
      })
    ).json();
    expect(instance.status).toBe('failed');
  });

  it('lists every instance with organisation, and the region capacity', async () => {
    const instances = (await ops('GET', '/api/v1/ops/instances?limit=100')).json().items;
    expect(instances.map((i: { organization: { name: string } }) => i.organization.name)).toEqual(
      expect.arrayContaining(['Kunde Eins GmbH', 'Kunde Zwei AG']),
    );
    expect(instances[0]).toMatchObject({ version: expect.any(String), nodeSize: 'b2-4', conditions: [] });
    const organizations = (await ops('GET', '/api/v1/ops/organizations')).json().items;
    expect(organizations.map((o: { name: string }) => o.name)).toEqual(['Kunde Eins GmbH', 'Kunde Zwei AG']);
    const capacity = (await ops('GET', '/api/v1/ops/capacity')).json().regions;
    expect(capacity).toEqual([
      expect.objectContaining({
        region: 'local',
        instances: 2, // the retried (provisioning) and the stuck one; the cancelled one failed
        memoryGb: 8,
        maxInstances: keyhouse.config.catalog.regions[0]!.capacity.maxInstances,
        processingOrders: 1,
        waitingOrders: 1,
        warmPool: null,
      }),
    ]);
  });
});

describe('tickets: a conversation both ways', () => {
  it('open → waiting → open → closed, each side sees the other’s replies', async () => {
    const created = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: customer.sessionHeaders,
      payload: { subject: 'Instance does not start', message: 'Since this morning the instance is down.' },
    });
    const ticket = created.json();
    const inbox = (await ops('GET', '/api/v1/ops/tickets?status=open')).json().items;
    expect(inbox.find((t: { id: string }) => t.id === ticket.id)).toMatchObject({
      organizationName: 'Kunde Eins GmbH',
      status: 'open',
    });

    const readOnly = await ops('POST', `/api/v1/ops/tickets/${ticket.id}/replies`, readOnlyOperator, {
      message: 'no',
    });
    expect(readOnly.statusCode).toBe(403);
    const answered = await ops('POST', `/api/v1/ops/tickets/${ticket.id}/replies`, operator, {
      message: 'We are looking into it.',
    });
    expect(answered.statusCode).toBe(201);
    expect(answered.json().status).toBe('waiting');

    const customerView = (
      await keyhouse.request({ url: `/api/v1/tickets/${ticket.id}`, headers: { cookie: customer.cookie } })
    ).json();
    expect(customerView.status).toBe('waiting');
    expect(customerView.replies).toEqual([
      expect.objectContaining({
        authorKind: 'operator',
        author: 'Keyhouse support',
        message: 'We are looking into it.',
      }),
    ]);
    const foreign = await keyhouse.request({
      url: `/api/v1/tickets/${ticket.id}`,
      headers: { cookie: otherCustomer.cookie },
    });
    expect(foreign.statusCode).toBe(404);
    const foreignReply = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/tickets/${ticket.id}/replies`,
      headers: otherCustomer.sessionHeaders,
      payload: { message: 'me too' },
    });
    expect(foreignReply.statusCode).toBe(404);

    const { session: readOnlyMember } = await createUserWithRole(keyhouse, customer, 'read-only');
    const notAllowed = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/tickets/${ticket.id}/replies`,
      headers: readOnlyMember.sessionHeaders,
      payload: { message: 'hello' },
    });
    expect(notAllowed.statusCode).toBe(403);

    const replied = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/tickets/${ticket.id}/replies`,
      headers: customer.sessionHeaders,
      payload: { message: 'Thanks, it works again.' },
    });
    expect(replied.json().status).toBe('open');
    const operatorView = (await ops('GET', `/api/v1/ops/tickets/${ticket.id}`)).json();
    expect(operatorView.replies.map((r: { author: string }) => r.author)).toEqual([
      operator.email,
      customer.email,
    ]);

    const closed = await ops('PATCH', `/api/v1/ops/tickets/${ticket.id}`, operator, { status: 'closed' });
    expect(closed.json().status).toBe('closed');
    const audit = (
      await keyhouse.request({
        url: '/api/v1/audit-events?action=ticket.status',
        headers: { cookie: customer.cookie },
      })
    ).json();
    expect(audit.items[0]).toMatchObject({
      actor: `operator:${operator.email}`,
      details: { from: 'open', to: 'closed' },
    });
  });
});

describe('keyhouse admin create-operator (on the server)', () => {
  /** The CLI as a process, on this test's database and data dir, the way an operator runs it on the server. */
  function runAdmin(args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/keyhouse.ts', 'admin', ...args], {
        cwd: packageRoot,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: keyhouse.databaseUrl,
          DATA_DIR: keyhouse.config.dataDir,
        },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
      child.stdin.end(stdin);
    });
  }

  it('creates an operator who signs in; the same address again is refused; usage errors exit 2', async () => {
    const email = uniqueEmail('cli-operator');
    const created = await runAdmin(
      ['create-operator', '--email', email, '--password-stdin'],
      `${TEST_PASSWORD}\n`,
    );
    expect(created).toMatchObject({ code: 0, out: expect.stringContaining(`operator ${email} created`) });
    const login = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password: TEST_PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    expect(login.json()).toMatchObject({ organization: null, user: { role: 'operator' } });

    const again = await runAdmin(
      ['create-operator', '--email', email, '--password-stdin'],
      `${TEST_PASSWORD}\n`,
    );
    expect(again.code).toBe(1);
    expect(again.err).toContain('already has an account');
    expect((await runAdmin(['create-operator'])).code).toBe(2);
    expect((await runAdmin(['create-operator', '--email', email, '--role', 'admin'])).code).toBe(2);
  }, 60_000);

  it('without a password, queues the mail to choose one', async () => {
    const email = uniqueEmail('cli-operator');
    const created = await runAdmin([
      'create-operator',
      '--email',
      email,
      '--role',
      'operator-read-only',
      '--language',
      'de',
    ]);
    expect(created.code).toBe(0);
    const { rows } = await keyhouse.db.pool.query(
      `SELECT kind, language FROM mail_outbox WHERE recipient = $1`,
      [email],
    );
    expect(rows).toEqual([{ kind: 'password-reset', language: 'de' }]);
  }, 60_000);
});

describe('operators from the configuration', () => {
  it('creates the listed operators at start, each with a mail to choose a password', async () => {
    const email = uniqueEmail('configured');
    const configure = (config: Parameters<Parameters<typeof startTestKeyhouse>[0] & object>[0]) => {
      config.operators = [{ email, role: 'operator-read-only', language: 'de' }];
    };
    const configured = await startTestKeyhouse(configure);
    try {
      const { rows } = await configured.db.pool.query(
        `SELECT u.role, u.organization_id, (SELECT count(*)::int FROM mail_outbox m WHERE m.recipient = u.email
                AND m.kind = 'password-reset' AND m.language = 'de') AS mails
           FROM users u WHERE u.email = $1`,
        [email],
      );
      expect(rows).toEqual([{ role: 'operator-read-only', organization_id: null, mails: 1 }]);
    } finally {
      await configured.stop();
    }
  });
});

describe('a retried backup order', () => {
  // With a worker, on a Keyhouse of its own: the retry runs for real (pg_dump of the instance's real database).
  let withWorker: TestKeyhouse;
  beforeAll(async () => {
    withWorker = await startTestKeyhouse((config) => (config.roles = ['api', 'worker']), {
      backupSchedule: false,
    });
  }, 120_000);
  afterAll(() => withWorker?.stop());

  it('takes the backup that failed in the first attempt again, under the same id', async () => {
    const owner = await signUp(withWorker);
    const staff = await signInOperator(withWorker, 'operator');
    const instance = await insertDatabaseOnlyInstance(withWorker, owner, {
      runningSince: new Date(Date.now() - 3_600_000).toISOString(),
    });
    const { billingProfileId } = (
      await withWorker.request({ url: `/api/v1/instances/${instance.id}`, headers: { cookie: owner.cookie } })
    ).json<Instance>();

    // What the first attempt leaves when pg_dump fails on its last try (written through the functions the
    // reconciler and the backup runner use): the backup failed, the order failed at its backup step.
    const pool = withWorker.db.pool;
    const order = await insertOrder(pool, {
      id: randomUUID(),
      organizationId: owner.organization.id,
      instanceId: instance.id,
      type: 'backup',
      spec: instance.spec,
      price: { currency: 'EUR', perHour: '0.1300', perMonth: '94.60' },
      priceDelta: null,
      billingProfileId,
      terms: null,
      actorUserId: owner.user.id,
      idempotencyKey: null,
      requestHash: null,
    });
    await transitionOrder(pool, order.id, 'new', 'processing');
    const { backup } = await ensureBackup(pool, {
      id: randomUUID(),
      instanceId: instance.id,
      kind: 'on-demand',
      orderId: order.id,
      keycloakVersion: instance.spec.version,
    });
    await startBackup(pool, backup.id);
    const pgDumpError = 'pg_dump: error: connection to server failed: the database system is shutting down';
    await failBackup(pool, backup.id, {
      reason: 'The backup could not be taken.',
      operatorDetail: pgDumpError,
    });
    await recordOrderStep(pool, order.id, 'backup', 'failed', 'The backup could not be taken.');
    await withWorker.db.transaction((tx) =>
      transitionOrder(tx, order.id, 'processing', 'failed', {
        reason: 'The backup order did not complete after several attempts.',
        operatorDetail: pgDumpError,
      }),
    );

    const retried = await withWorker.request({
      method: 'POST',
      url: `/api/v1/ops/orders/${order.id}/retry`,
      headers: staff.sessionHeaders,
      payload: { attempt: 1 },
    });
    expect(retried.statusCode).toBe(200);
    const finished = await eventually(async () => {
      const seen = (
        await withWorker.request({ url: `/api/v1/orders/${order.id}`, headers: { cookie: owner.cookie } })
      ).json<Order>();
      return (seen.status === 'done' || seen.status === 'failed') && seen;
    }, 120_000);
    expect(finished).toMatchObject({ status: 'done', attempt: 2, failureReason: null });

    const listed = (
      await withWorker.request({
        url: `/api/v1/instances/${instance.id}/backups`,
        headers: { cookie: owner.cookie },
      })
    ).json<InstanceBackups>();
    const onDemand = listed.items.filter((item) => item.kind === 'on-demand');
    expect(onDemand).toEqual([expect.objectContaining({ id: backup.id, status: 'done' })]);
    expect(onDemand[0]!.sizeBytes).toBeGreaterThan(1000);
  }, 180_000);
});
