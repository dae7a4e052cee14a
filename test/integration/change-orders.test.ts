import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerHeaders, createUserWithRole, signUp, type SignedInUser } from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';
import { exampleOrder } from '../support/orders.js';

/**
 * The API of day-2 orders without a Keycloak: the refusals of change orders, roles, one change at a time, the
 * audit list and the usage report. Only the API role runs (orders stay `new`); instances are put into `running`
 * directly in the database, as a finished create order would leave them.
 */
let keyhouse: TestKeyhouse;
let admin: SignedInUser;
let headers: Record<string, string>;
let technician: Record<string, string>;
let manager: Record<string, string>;
let readOnly: Record<string, string>;
let other: Record<string, string>;

const OLD = '26.5.6';
const NEW = '26.7.3';

beforeAll(async () => {
  keyhouse = await startTestKeyhouse((config) => {
    config.catalog.serviceTypes[0]!.versions = [OLD, NEW];
  });
  admin = await signUp(keyhouse);
  headers = bearerHeaders(await admin.createApiToken());
  technician = (await createUserWithRole(keyhouse, admin, 'technician')).headers;
  manager = (await createUserWithRole(keyhouse, admin, 'manager')).headers;
  readOnly = (await createUserWithRole(keyhouse, admin, 'read-only')).headers;
  const stranger = await signUp(keyhouse, { organizationName: 'Other AG' });
  other = bearerHeaders(await stranger.createApiToken());
});
afterAll(() => keyhouse.stop());

type Placed = { instanceId: string; orderId: string; name: string; billingProfileId: string };

/** A running instance of the admin's organisation: a create order placed through the API, then marked DONE. */
async function runningInstance(spec: Record<string, unknown> = {}, as = headers): Promise<Placed> {
  const placed = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/orders',
    headers: as,
    payload: exampleOrder(keyhouse.config, { version: OLD, ...spec }),
  });
  expect(placed.statusCode).toBe(201);
  const order = placed.json();
  await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [order.id]);
  const { rows } = await keyhouse.db.pool.query<{ name: string }>(
    `UPDATE instances SET status = 'running' WHERE id = $1 RETURNING name`,
    [order.instanceId],
  );
  return {
    instanceId: order.instanceId,
    orderId: order.id,
    name: rows[0]!.name,
    billingProfileId: order.billingProfileId,
  };
}

const change = (instanceId: string, payload: Record<string, unknown>, as = headers, extra = {}) =>
  keyhouse.request({
    method: 'POST',
    url: `/api/v1/instances/${instanceId}/orders`,
    headers: { ...as, ...extra },
    payload,
  });

const protection = (instanceId: string, on: boolean, as = headers) =>
  keyhouse.request({
    method: 'PATCH',
    url: `/api/v1/instances/${instanceId}`,
    headers: as,
    payload: { deletionProtection: on },
  });

function expectFieldError(response: Awaited<ReturnType<typeof change>>, path: string, message: RegExp) {
  expect(response.statusCode).toBe(400);
  expect(response.json().errors).toEqual([
    expect.objectContaining({ path, message: expect.stringMatching(message) }),
  ]);
}

describe('change-order refusals', () => {
  it('grows storage only, in steps, within the maximum', async () => {
    const { instanceId } = await runningInstance({ storageGb: 100 });
    expectFieldError(await change(instanceId, { type: 'storage', storageGb: 100 }), 'storageGb', /only grow/);
    expectFieldError(await change(instanceId, { type: 'storage', storageGb: 50 }), 'storageGb', /only grow/);
    expectFieldError(
      await change(instanceId, { type: 'storage', storageGb: 120 }),
      'storageGb',
      /steps of 50/,
    );
    expectFieldError(
      await change(instanceId, { type: 'storage', storageGb: 250 }),
      'storageGb',
      /at most 200/,
    );
    const grown = await change(instanceId, { type: 'storage', storageGb: 150 });
    expect(grown.statusCode).toBe(201);
    // 50 GB more: 14.30 EUR a month.
    expect(grown.json()).toMatchObject({
      type: 'storage',
      status: 'new',
      previousSpec: { storageGb: 100 },
      spec: { storageGb: 150 },
      priceDelta: { perMonth: '14.30' },
    });
  });

  it('upgrades only to a newer catalog version', async () => {
    const atNew = await runningInstance({ version: NEW });
    expectFieldError(await change(atNew.instanceId, { type: 'upgrade', version: OLD }), 'version', /newer/);
    expectFieldError(await change(atNew.instanceId, { type: 'upgrade', version: NEW }), 'version', /newer/);
    const atOld = await runningInstance();
    expectFieldError(
      await change(atOld.instanceId, { type: 'upgrade', version: '27.0.0' }),
      'version',
      /available/,
    );
    const upgrade = await change(atOld.instanceId, { type: 'upgrade', version: NEW });
    expect(upgrade.statusCode).toBe(201);
    expect(upgrade.json()).toMatchObject({ spec: { version: NEW }, priceDelta: { perMonth: '0.00' } });
  });

  it('refuses scaling to the same node size or an unknown one; shows the price delta of a scale', async () => {
    const { instanceId } = await runningInstance();
    expectFieldError(
      await change(instanceId, { type: 'scale', nodeSize: 'b2-4' }),
      'nodeSize',
      /already runs on/,
    );
    expect((await change(instanceId, { type: 'scale', nodeSize: 'z9-99' })).statusCode).toBe(400);
    const scaled = await change(instanceId, { type: 'scale', nodeSize: 'b8-16' });
    expect(scaled.statusCode).toBe(201);
    // 0.44 - 0.11 = 0.33 EUR an hour, × 730 = 240.90 EUR a month.
    expect(scaled.json()).toMatchObject({
      price: { perHour: '0.4596' },
      priceDelta: { perHour: '0.3300', perMonth: '240.90' },
    });
  });

  it('deletes only with deletion protection off and the typed name', async () => {
    const { instanceId, name } = await runningInstance();
    const whileProtected = await change(instanceId, { type: 'delete', confirmName: name });
    expect(whileProtected.statusCode).toBe(409);
    expect(whileProtected.json().detail).toMatch(/Deletion protection is on/);

    expect((await protection(instanceId, false)).json()).toMatchObject({ deletionProtection: false });
    expectFieldError(
      await change(instanceId, { type: 'delete', confirmName: 'kc-00000000' }),
      'confirmName',
      /type the instance's name/,
    );
    expectFieldError(
      await change(instanceId, { type: 'delete', confirmName: name.toUpperCase() }),
      'confirmName',
      /to confirm/,
    );

    const deleted = await change(instanceId, { type: 'delete', confirmName: name });
    expect(deleted.statusCode).toBe(201);
    // Deleting ends the price: the delta is minus the whole price.
    expect(deleted.json()).toMatchObject({
      type: 'delete',
      price: { perMonth: '0.00' },
      priceDelta: { perMonth: '-94.60' },
    });

    const audit = await keyhouse.db.pool.query<{ action: string; details: { from: boolean; to: boolean } }>(
      `SELECT action, details FROM audit_events WHERE target_id = $1 ORDER BY id`,
      [instanceId],
    );
    expect(audit.rows).toEqual([
      { action: 'instance.deletion-protection', details: { from: true, to: false } },
    ]);
  });

  it('changes admin sources within the trusted sources at no cost; refuses trusted sources that would strand them', async () => {
    const { instanceId } = await runningInstance({
      trustedSources: ['127.0.0.0/24'],
      adminSources: ['127.0.0.3'],
    });
    const shown = await keyhouse.request({ method: 'GET', url: `/api/v1/instances/${instanceId}`, headers });
    expect(shown.json()).toMatchObject({ trustedSources: ['127.0.0.0/24'], adminSources: ['127.0.0.3/32'] });

    expectFieldError(
      await change(instanceId, { type: 'admin-sources', adminSources: ['10.0.0.1'] }),
      'adminSources.0',
      /not within the trusted sources/,
    );
    expectFieldError(
      await change(instanceId, { type: 'trusted-sources', trustedSources: ['127.0.0.1'] }),
      'trustedSources',
      /change the admin sources first/,
    );
    const placed = await change(instanceId, { type: 'admin-sources', adminSources: null }, technician);
    expect(placed.statusCode).toBe(201);
    expect(placed.json()).toMatchObject({
      type: 'admin-sources',
      spec: { trustedSources: ['127.0.0.0/24'], adminSources: null },
      previousSpec: { adminSources: ['127.0.0.3/32'] },
      priceDelta: { perHour: '0.0000', perMonth: '0.00' },
    });
    const audit = await keyhouse.db.pool.query<{ action: string }>(
      `SELECT action FROM audit_events WHERE target_id = $1`,
      [placed.json().id],
    );
    expect(audit.rows).toEqual([{ action: 'order.admin-sources' }]);
  });

  it('lets technicians change but not delete, and managers delete but not change', async () => {
    const a = await runningInstance();
    expect((await change(a.instanceId, { type: 'scale', nodeSize: 'b4-8' }, manager)).statusCode).toBe(403);
    expect((await change(a.instanceId, { type: 'restart' }, manager)).statusCode).toBe(403);
    expect((await change(a.instanceId, { type: 'scale', nodeSize: 'b4-8' }, readOnly)).statusCode).toBe(403);
    expect((await change(a.instanceId, { type: 'scale', nodeSize: 'b4-8' }, technician)).statusCode).toBe(
      201,
    );

    const b = await runningInstance();
    // Deletion protection is the managers' (and admins') switch, like deleting.
    expect((await protection(b.instanceId, false, technician)).statusCode).toBe(403);
    expect((await protection(b.instanceId, false, manager)).statusCode).toBe(200);
    expect((await change(b.instanceId, { type: 'delete', confirmName: b.name }, technician)).statusCode).toBe(
      403,
    );
    expect((await change(b.instanceId, { type: 'delete', confirmName: b.name }, manager)).statusCode).toBe(
      201,
    );
  });

  it('runs one change at a time: 409 with a link to the running order, for every type', async () => {
    const { instanceId, name } = await runningInstance();
    await protection(instanceId, false);
    const first = await change(instanceId, { type: 'restart' });
    expect(first.statusCode).toBe(201);
    for (const payload of [
      { type: 'scale', nodeSize: 'b4-8' },
      { type: 'storage', storageGb: 100 },
      { type: 'trusted-sources', trustedSources: ['127.0.0.2'] },
      { type: 'admin-sources', adminSources: [] },
      { type: 'restart' },
      { type: 'upgrade', version: NEW },
      { type: 'delete', confirmName: name },
    ]) {
      const refused = await change(instanceId, payload);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({
        status: 409,
        runningOrder: `/api/v1/orders/${first.json().id}`,
      });
    }
    // Once it is processing, still refused; once it is done, the next change is accepted.
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'processing' WHERE id = $1`, [first.json().id]);
    expect((await change(instanceId, { type: 'restart' })).statusCode).toBe(409);
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [first.json().id]);
    expect((await change(instanceId, { type: 'restart' })).statusCode).toBe(201);
  });

  it('honours Idempotency-Key for change orders', async () => {
    const { instanceId } = await runningInstance();
    const key = { 'idempotency-key': randomUUID() };
    const first = await change(instanceId, { type: 'scale', nodeSize: 'a2-8' }, headers, key);
    const again = await change(instanceId, { type: 'scale', nodeSize: 'a2-8' }, headers, key);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    expect((await change(instanceId, { type: 'scale', nodeSize: 'b4-8' }, headers, key)).statusCode).toBe(
      422,
    );
  });

  it("answers 404 for another organisation's instance and for deleted instances", async () => {
    const { instanceId } = await runningInstance();
    expect((await change(instanceId, { type: 'restart' }, other)).statusCode).toBe(404);
    expect((await protection(instanceId, false, other)).statusCode).toBe(404);
    await keyhouse.db.pool.query(`UPDATE instances SET status = 'deleted' WHERE id = $1`, [instanceId]);
    expect((await change(instanceId, { type: 'restart' })).statusCode).toBe(404);
    // Still listed, with its status.
    const shown = await keyhouse.request({ method: 'GET', url: `/api/v1/instances/${instanceId}`, headers });
    expect(shown.json()).toMatchObject({ status: 'deleted' });
  });
});

describe('GET /api/v1/audit-events', () => {
  it('lists who did what, when and from where, newest first, filtered and paged', async () => {
    const { instanceId } = await runningInstance();
    await change(instanceId, { type: 'scale', nodeSize: 'b4-8' }, technician);

    const all = await keyhouse.request({ method: 'GET', url: '/api/v1/audit-events?limit=100', headers });
    expect(all.statusCode).toBe(200);
    const events = all.json().items as { action: string; createdAt: string; id: string }[];
    expect(events.length).toBeGreaterThan(5);
    const times = events.map((e) => Date.parse(e.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const scales = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/audit-events?action=order.scale&limit=1',
      headers: manager,
    });
    expect(scales.statusCode).toBe(200);
    const page1 = scales.json();
    expect(page1.items).toHaveLength(1);
    expect(page1.items[0]).toMatchObject({
      action: 'order.scale',
      actor: expect.stringMatching(/^technician-/),
      outcome: 'success',
      sourceAddress: '127.0.0.1',
      targetType: 'order',
      details: { instanceId, change: { type: 'scale', nodeSize: 'b4-8' } },
    });
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (
      await keyhouse.request({
        method: 'GET',
        url: `/api/v1/audit-events?action=order.scale&limit=1&cursor=${page1.nextCursor}`,
        headers: manager,
      })
    ).json();
    expect(page2.items.length).toBeGreaterThan(0);
    expect(page2.items[0].id).not.toBe(page1.items[0].id);
    expect(page2.items.every((e: { action: string }) => e.action === 'order.scale')).toBe(true);
  });

  it('is for admins and managers only, per organisation', async () => {
    for (const role of [technician, readOnly]) {
      const refused = await keyhouse.request({ method: 'GET', url: '/api/v1/audit-events', headers: role });
      expect(refused.statusCode).toBe(403);
    }
    const foreign = (
      await keyhouse.request({ method: 'GET', url: '/api/v1/audit-events?limit=100', headers: other })
    ).json();
    expect(foreign.items.every((e: { actor: string }) => !e.actor.startsWith('technician-'))).toBe(true);
    expect(foreign.items.map((e: { action: string }) => e.action)).not.toContain('order.scale');
    const bad = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/audit-events?cursor=nonsense',
      headers,
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('GET /api/v1/billing-profiles/{id}/usage', () => {
  it('bills a month exactly from the usage records: next full hour, higher size in the hour, deletion hour in full', async () => {
    const { instanceId, orderId, billingProfileId } = await runningInstance();
    // Provisioned 10:20 (b2-4, 50 GB), scaled to b4-8 at 12:30, storage 100 GB at midnight, deleted 15:10 two
    // days later. The instance's own usage records of January 2025 (the reconciler writes these at DONE).
    await keyhouse.db.pool.query(
      `INSERT INTO usage_records (instance_id, billing_profile_id, node_size, storage_gb, order_id, started_at, ended_at)
       VALUES ($1, $2, 'b2-4', 50, $3, '2025-01-10T10:20:00Z', '2025-01-10T12:30:00Z'),
              ($1, $2, 'b4-8', 50, $3, '2025-01-10T12:30:00Z', '2025-01-11T00:00:00Z'),
              ($1, $2, 'b4-8', 100, $3, '2025-01-11T00:00:00Z', '2025-01-12T15:10:00Z')`,
      [instanceId, billingProfileId, orderId],
    );
    const response = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/billing-profiles/${billingProfileId}/usage?month=2025-01`,
      headers: readOnly,
    });
    expect(response.statusCode).toBe(200);
    const usage = response.json();
    // Node: 11:00 at b2-4; 12:00 (the scale's hour) to the 12th 15:00 at b4-8 = 52 h × 0.22.
    // Storage: 50 GB 11:00–23:00 = 13 h; 100 GB from midnight (the growth's hour) = 40 h; 14.30 / 730 per 50 GB·h.
    expect(usage).toMatchObject({ billingProfileId, month: '2025-01', currency: 'EUR', totalCents: 1337 });
    expect(usage.lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ instanceId, kind: 'node', nodeSize: 'b2-4', hours: 1, amountCents: 11 }),
        expect.objectContaining({ instanceId, kind: 'node', nodeSize: 'b4-8', hours: 52, amountCents: 1144 }),
        expect.objectContaining({ instanceId, kind: 'storage', storageGb: 50, hours: 13, amountCents: 25 }),
        expect.objectContaining({ instanceId, kind: 'storage', storageGb: 100, hours: 40, amountCents: 157 }),
      ]),
    );
    expect(usage.lines).toHaveLength(4);

    const february = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/billing-profiles/${billingProfileId}/usage?month=2025-02`,
      headers,
    });
    expect(february.json()).toMatchObject({ lines: [], totalCents: 0 });
  });

  it("answers 404 for another organisation's billing profile and 400 for a malformed month", async () => {
    const { billingProfileId } = await runningInstance();
    const foreign = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/billing-profiles/${billingProfileId}/usage?month=2025-01`,
      headers: other,
    });
    expect(foreign.statusCode).toBe(404);
    for (const month of ['2025-13', '2025-1', 'januar']) {
      const bad = await keyhouse.request({
        method: 'GET',
        url: `/api/v1/billing-profiles/${billingProfileId}/usage?month=${month}`,
        headers,
      });
      expect(bad.statusCode).toBe(400);
    }
  });
});
