import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOrderStep } from '../../src/orders/order-steps.js';
import { bearerHeaders, createUserWithRole, signUp, type SignedInUser } from '../support/accounts.js';
import { exampleBillingProfile, exampleOrder } from '../support/orders.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

let keyhouse: TestKeyhouse;
let customer: SignedInUser;
let customerToken: string;
let other: SignedInUser;
let otherToken: string;

// Written the way people write VAT ids: the API stores it normalised.
const newBillingProfile = { ...exampleBillingProfile, vatId: 'DE 123 456 789' };

const validOrder = (overrides: Record<string, unknown> = {}) =>
  exampleOrder(keyhouse.config, { billingProfile: newBillingProfile, ...overrides });

const order = (token: string, payload: unknown, headers: Record<string, string> = {}) =>
  keyhouse.request({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { ...bearerHeaders(token), ...headers },
    payload: payload as Record<string, unknown>,
  });

async function counts() {
  const { rows } = await keyhouse.db.pool.query<{ orders: number; instances: number; profiles: number }>(
    `SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM instances)::int AS instances,
            (SELECT count(*) FROM billing_profiles)::int AS profiles`,
  );
  return rows[0]!;
}

beforeAll(async () => {
  keyhouse = await startTestKeyhouse((config) => {
    config.catalog.regions.push({
      id: 'de-north',
      name: 'DE-NORTH',
      driver: 'kubernetes',
      public: true,
      zones: [
        { id: 'de-north-1', name: 'DE-NORTH-1' },
        { id: 'de-north-2', name: 'DE-NORTH-2' },
      ],
      trustedSourcePrefixes: { ipv4: { min: 24, max: 32 }, ipv6: { min: 48, max: 128 } },
      capacity: { maxInstances: 100, concurrentOrders: 2 },
      warmPool: [],
    });
  });
  customer = await signUp(keyhouse);
  customerToken = await customer.createApiToken();
  other = await signUp(keyhouse, { organizationName: 'Other AG' });
  otherToken = await other.createApiToken();
});
afterAll(() => keyhouse.stop());

describe('POST /api/v1/orders', () => {
  it('accepts an order in status new with the full spec, a server-computed price and the accepted terms', async () => {
    const response = await order(customerToken, validOrder({ trustedSources: ['127.0.0.1', '10.0.0.0/24'] }));
    expect(response.statusCode).toBe(201);
    const created = response.json();
    expect(created).toMatchObject({
      type: 'create',
      status: 'new',
      steps: [],
      failureReason: null,
      spec: {
        serviceType: 'keycloak',
        nodeSize: 'b2-4',
        storageGb: 50,
        trustedSources: ['127.0.0.1/32', '10.0.0.0/24'],
        region: 'local',
        zone: 'local-1',
      },
      // 0.11 EUR/h node + 14.30 EUR per 50 GB and month (730 h).
      price: { currency: 'EUR', perHour: '0.1296', perMonth: '94.60' },
      termsVersion: keyhouse.config.catalog.terms.version,
    });
    const stored = await keyhouse.db.pool.query(
      'SELECT terms_accepted_at, terms_source_address, actor_user_id FROM orders WHERE id = $1',
      [created.id],
    );
    expect(stored.rows[0]).toMatchObject({
      terms_source_address: '127.0.0.1',
      actor_user_id: customer.user.id,
    });
    expect(stored.rows[0].terms_accepted_at).toBeTruthy();

    const fetched = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/orders/${created.id}`,
      headers: bearerHeaders(customerToken),
    });
    expect(fetched.json()).toEqual(created);
    const audit = await keyhouse.db.pool.query(
      `SELECT actor, source_address, details::text FROM audit_events WHERE action = 'order.create' AND target_id = $1`,
      [created.id],
    );
    expect(audit.rows[0]).toMatchObject({ actor: customer.email, source_address: '127.0.0.1' });
  });

  it('uses an existing billing profile of the organisation', async () => {
    const profile = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/billing-profiles',
      headers: bearerHeaders(customerToken),
      payload: newBillingProfile,
    });
    expect(profile.statusCode).toBe(201);
    expect(profile.json().vatId).toBe('DE123456789');
    const { billingProfile: _new, ...rest } = validOrder();
    const response = await order(customerToken, { ...rest, billingProfileId: profile.json().id });
    expect(response.statusCode).toBe(201);
    expect(response.json().billingProfileId).toBe(profile.json().id);
  });

  const refusals: [string, Record<string, unknown>, string, RegExp][] = [
    ['unknown node size', { nodeSize: 'z9-99' }, 'nodeSize', /.+/],
    ['unknown service type', { serviceType: 'mysql' }, 'serviceType', /.+/],
    ['unknown version', { version: '21.0.0' }, 'version', /available versions/],
    ['unknown region', { region: 'mars' }, 'region', /.+/],
    ['zone of another region', { zone: 'de-north-1' }, 'zone', /zones of local/],
    ['storage below the minimum', { storageGb: 0 }, 'storageGb', /at least 50 GB/],
    ['storage above the maximum', { storageGb: 250 }, 'storageGb', /at most 200 GB/],
    ['storage off the step', { storageGb: 75 }, 'storageGb', /steps of 50 GB/],
    ['storage as a string', { storageGb: '50' }, 'storageGb', /.+/],
    ['storage with a fraction', { storageGb: 50.5 }, 'storageGb', /.+/],
    ['no trusted source', { trustedSources: [] }, 'trustedSources', /at least one source/],
    [
      'host bits set',
      { trustedSources: ['203.0.113.7/24'] },
      'trustedSources.0',
      /network is 203\.0\.113\.0\/24/,
    ],
    ['any IPv4', { trustedSources: ['0.0.0.0/0'] }, 'trustedSources.0', /whole Internet/],
    ['any IPv6', { trustedSources: ['::/0'] }, 'trustedSources.0', /whole Internet/],
    ['too broad', { trustedSources: ['10.0.0.0/16'] }, 'trustedSources.0', /between \/24 and \/32/],
    ['duplicate', { trustedSources: ['127.0.0.1', '127.0.0.1/32'] }, 'trustedSources.1', /repeats entry 1/],
    ['not an address', { trustedSources: ['localhost'] }, 'trustedSources.0', /not an IPv4 or IPv6/],
    [
      'too many sources',
      { trustedSources: Array.from({ length: 51 }, (_, i) => `10.0.${i}.0/24`) },
      'trustedSources',
      /At most 50/,
    ],
    [
      'private source in a public region',
      { region: 'de-north', trustedSources: ['192.168.1.1'] },
      'trustedSources.0',
      /accepts only public unicast/,
    ],
    ['both billing choices', { billingProfileId: randomUUID() }, 'billingProfileId', /not both/],
    ['old terms', { acceptTerms: { version: '2019-01' } }, 'acceptTerms.version', /terms changed/],
    ['unknown field', { coupon: 'FREE' }, 'coupon', /not a field/],
    [
      'VAT id of the wrong format',
      { billingProfile: { ...newBillingProfile, vatId: 'DE12' } },
      'billingProfile.vatId',
      /expected like DE123456789/,
    ],
    [
      'unknown country',
      { billingProfile: { ...newBillingProfile, country: 'XX' } },
      'billingProfile.country',
      /ISO 3166/,
    ],
  ];

  it.each(refusals)(
    'refuses %s with a problem at the field, writing nothing',
    async (_name, change, path, text) => {
      const before = await counts();
      const response = await order(customerToken, validOrder(change));
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json();
      expect(problem.errors).toContainEqual(
        expect.objectContaining({ path, message: expect.stringMatching(text), code: expect.any(String) }),
      );
      expect(await counts()).toEqual(before);
    },
  );

  it("refuses another organisation's billing profile as unknown, writing nothing", async () => {
    const foreign = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/billing-profiles',
      headers: bearerHeaders(otherToken),
      payload: newBillingProfile,
    });
    const before = await counts();
    const { billingProfile: _new, ...rest } = validOrder();
    const response = await order(customerToken, { ...rest, billingProfileId: foreign.json().id });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([
      {
        path: 'billingProfileId',
        message: expect.stringMatching(/No billing/),
        code: 'billing.profileUnknown',
        params: {},
      },
    ]);
    expect(await counts()).toEqual(before);
  });

  it('answers malformed JSON 400, other content types 415 and bodies over 64 KB 413', async () => {
    const headers = { ...bearerHeaders(customerToken), 'content-type': 'application/json' };
    const malformed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: '{"a":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');
    const text = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { ...headers, 'content-type': 'text/plain' },
      payload: 'order please',
    });
    expect(text.statusCode).toBe(415);
    const huge = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers,
      payload: JSON.stringify({ ...validOrder(), padding: 'x'.repeat(70 * 1024) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().status).toBe(413);
  });

  it('lets managers and admins order, but not technicians or read-only users', async () => {
    const manager = await createUserWithRole(keyhouse, customer, 'manager');
    const technician = await createUserWithRole(keyhouse, customer, 'technician');
    const readOnly = await createUserWithRole(keyhouse, customer, 'read-only');
    expect((await order(manager.token, validOrder())).statusCode).toBe(201);
    expect((await order(technician.token, validOrder())).statusCode).toBe(403);
    expect((await order(readOnly.token, validOrder())).statusCode).toBe(403);
    const list = await keyhouse.request({ method: 'GET', url: '/api/v1/orders', headers: readOnly.headers });
    expect(list.statusCode).toBe(200);
  });

  it('requires the CSRF token for cookie-authenticated orders', async () => {
    const withoutToken = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { cookie: customer.cookie },
      payload: validOrder(),
    });
    expect(withoutToken.statusCode).toBe(403);
    const withToken = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: customer.sessionHeaders,
      payload: validOrder(),
    });
    expect(withToken.statusCode).toBe(201);
  });

  it('refuses anonymous orders', async () => {
    const response = await keyhouse.request({ method: 'POST', url: '/api/v1/orders', payload: validOrder() });
    expect(response.statusCode).toBe(401);
  });
});

describe('the provisioning job', () => {
  it('is queued in the order’s own transaction: both rows carry one transaction id', async () => {
    const response = await order(customerToken, validOrder());
    expect(response.statusCode).toBe(201);
    const orderId = response.json<{ id: string }>().id;
    const { rows } = await keyhouse.db.pool.query<{ order_xid: string; job_xid: string }>(
      `SELECT (SELECT xmin::text FROM orders WHERE id = $1) AS order_xid,
              (SELECT xmin::text FROM pgboss.job WHERE singleton_key = $1::text) AS job_xid`,
      [orderId],
    );
    expect(rows[0]!.job_xid).not.toBeNull();
    expect(rows[0]!.job_xid).toBe(rows[0]!.order_xid);
  });

  it('is not queued for a refused order', async () => {
    const jobs = async () =>
      (await keyhouse.db.pool.query<{ count: number }>('SELECT count(*)::int AS count FROM pgboss.job'))
        .rows[0]!.count;
    const before = await jobs();
    const refused = await order(
      customerToken,
      validOrder({ billingProfile: undefined, billingProfileId: randomUUID() }),
    );
    expect(refused.statusCode).toBe(400);
    expect(await jobs()).toBe(before);
  });
});

describe('step messages', () => {
  it('carry their English text, code and parameters to the API; a later plain text replaces them', async () => {
    const placed = (await order(customerToken, validOrder())).json<{ id: string }>();
    const steps = async () =>
      (
        await keyhouse.request({
          method: 'GET',
          url: `/api/v1/orders/${placed.id}`,
          headers: bearerHeaders(customerToken),
        })
      ).json<{ steps: Record<string, unknown>[] }>().steps;
    await recordOrderStep(keyhouse.db.pool, placed.id, 'keycloak-ready', 'done', {
      code: 'step.keycloakReady',
      params: { seconds: 48 },
    });
    expect(await steps()).toEqual([
      expect.objectContaining({
        name: 'keycloak-ready',
        status: 'done',
        message: 'ready after 48 s of apply',
        messageParts: [{ code: 'step.keycloakReady', params: { seconds: 48 } }],
      }),
    ]);
    // A note of several parts: the English joined by "; ", each part with its code.
    await recordOrderStep(keyhouse.db.pool, placed.id, 'database', 'done', [
      { code: 'step.databaseCreated', params: { database: 'kc_1a2b3c4d' } },
      { code: 'step.roleExisted', params: {} },
    ]);
    expect((await steps())[1]).toMatchObject({
      name: 'database',
      message: 'kc_1a2b3c4d: database created; role existed',
      messageParts: [
        { code: 'step.databaseCreated', params: { database: 'kc_1a2b3c4d' } },
        { code: 'step.roleExisted', params: {} },
      ],
    });
    await recordOrderStep(keyhouse.db.pool, placed.id, 'keycloak-ready', 'running', 'retrying after a crash');
    const [step] = await steps();
    expect(step).toMatchObject({ status: 'running', message: 'retrying after a crash' });
    expect(step).not.toHaveProperty('messageParts');
  });
});

describe('Idempotency-Key', () => {
  it('answers a retry with the same order and refuses the key for another body', async () => {
    const key = randomUUID();
    const first = await order(customerToken, validOrder(), { 'idempotency-key': key });
    const again = await order(customerToken, validOrder(), { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const different = await order(customerToken, validOrder({ storageGb: 100 }), { 'idempotency-key': key });
    expect(different.statusCode).toBe(422);
    expect(different.json().detail).toMatch(/different request/);
  });

  it('keeps keys per organisation', async () => {
    const key = randomUUID();
    const mine = await order(customerToken, validOrder(), { 'idempotency-key': key });
    const theirs = await order(otherToken, validOrder(), { 'idempotency-key': key });
    expect(theirs.statusCode).toBe(201);
    expect(theirs.json().id).not.toBe(mine.json().id);
  });

  it('turns 50 concurrent duplicates into exactly one order and one instance', async () => {
    const key = randomUUID();
    const before = await counts();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => order(customerToken, validOrder(), { 'idempotency-key': key })),
    );
    const ids = new Set(responses.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(49);
    const after = await counts();
    expect(after.orders - before.orders).toBe(1);
    expect(after.instances - before.instances).toBe(1);
    expect(after.profiles - before.profiles).toBe(1);
  });
});

describe('listing and tenancy', () => {
  it('lists only the organisation’s orders, filters by status and pages with a cursor', async () => {
    const created = (await order(otherToken, validOrder())).json();
    const page = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/orders?limit=2&status=new',
      headers: bearerHeaders(otherToken),
    });
    const body = page.json();
    expect(body.items.length).toBeLessThanOrEqual(2);
    expect(body.items.every((o: { status: string }) => o.status === 'new')).toBe(true);
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const next: { items: { id: string }[]; nextCursor: string | null } = (
        await keyhouse.request({
          method: 'GET',
          url: `/api/v1/orders?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
          headers: bearerHeaders(otherToken),
        })
      ).json();
      all.push(...next.items.map((o) => o.id));
      cursor = next.nextCursor;
    } while (cursor);
    expect(all).toContain(created.id);
    // Keyset cursors keep PostgreSQL's microseconds: no order appears on two pages.
    expect(new Set(all).size).toBe(all.length);
    const customerOrders = (
      await keyhouse.request({
        method: 'GET',
        url: '/api/v1/orders?limit=100',
        headers: bearerHeaders(customerToken),
      })
    ).json();
    expect(customerOrders.items.map((o: { id: string }) => o.id)).not.toContain(created.id);
    const bad = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/orders?cursor=garbage',
      headers: bearerHeaders(otherToken),
    });
    expect(bad.statusCode).toBe(400);
  });

  it("answers 404 for another organisation's order, instance change and unknown ids", async () => {
    const foreign = (await order(otherToken, validOrder())).json();
    for (const url of [`/api/v1/orders/${foreign.id}`, `/api/v1/orders/${randomUUID()}`]) {
      const response = await keyhouse.request({ method: 'GET', url, headers: bearerHeaders(customerToken) });
      expect(response.statusCode).toBe(404);
    }
    const change = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${foreign.instanceId}/orders`,
      headers: bearerHeaders(customerToken),
      payload: { type: 'trusted-sources', trustedSources: ['127.0.0.1'] },
    });
    expect(change.statusCode).toBe(404);
    const profiles = (
      await keyhouse.request({
        method: 'GET',
        url: '/api/v1/billing-profiles',
        headers: bearerHeaders(customerToken),
      })
    ).json();
    expect(profiles.items.map((p: { id: string }) => p.id)).not.toContain(foreign.billingProfileId);
  });

  it('refuses a change order while the first order of the instance is still running (409 with a link)', async () => {
    const created = (await order(customerToken, validOrder())).json();
    const change = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/instances/${created.instanceId}/orders`,
      headers: bearerHeaders(customerToken),
      payload: { type: 'trusted-sources', trustedSources: ['127.0.0.2'] },
    });
    expect(change.statusCode).toBe(409);
    expect(change.json().runningOrder).toBe(`/api/v1/orders/${created.id}`);
  });
});

describe('tickets', () => {
  it('opens a ticket about an own order and lists it; refuses linking foreign orders', async () => {
    const created = (await order(customerToken, validOrder())).json();
    const ticket = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: bearerHeaders(customerToken),
      payload: { subject: 'Order failed', message: 'Please help', orderId: created.id },
    });
    expect(ticket.statusCode).toBe(201);
    expect(ticket.json()).toMatchObject({ orderId: created.id, status: 'open', createdBy: customer.email });
    const list = (
      await keyhouse.request({ method: 'GET', url: '/api/v1/tickets', headers: bearerHeaders(customerToken) })
    ).json();
    expect(list.items[0].id).toBe(ticket.json().id);
    const theirList = (
      await keyhouse.request({ method: 'GET', url: '/api/v1/tickets', headers: bearerHeaders(otherToken) })
    ).json();
    expect(theirList.items.map((t: { id: string }) => t.id)).not.toContain(ticket.json().id);
    const foreign = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: bearerHeaders(otherToken),
      payload: { subject: 'Sneaky', message: 'Look', orderId: created.id },
    });
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().errors).toEqual([
      { path: 'orderId', message: expect.any(String), code: 'ticket.orderUnknown', params: {} },
    ]);
  });
});
