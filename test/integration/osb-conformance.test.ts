import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OSB_SERVICE_ID, planIdOf } from '../../src/osb/osb-schemas.js';
import { enableBroker, originatingIdentity, osb, osbHeaders, provisionBody } from '../support/osb.js';
import { changedTables, snapshotTables } from '../support/table-snapshot.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The broker against the MUSTs of the Open Service Broker API v2.17 that an outside probe found broken (issue 11,
 * findings 4, 5, 6 and 10), and the rule behind all of them: a 4xx leaves the broker's resources unchanged
 * ("semantically unchanged" in the spec; here: no row of any table changes).
 */
let keyhouse: TestKeyhouse;

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(enableBroker);
});
afterAll(() => keyhouse?.stop());

const query = (plan = 'b2-4', extra = '') =>
  `?accepts_incomplete=true&service_id=${OSB_SERVICE_ID}&plan_id=${planIdOf(plan)}${extra}`;

function expectOsbError(response: LightMyRequestResponse, status: number, error?: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toContain('application/json');
  const body = response.json<{ description: string; error?: string }>();
  expect(body.description).toEqual(expect.any(String));
  expect(body.description.length).toBeGreaterThan(0);
  if (error) expect(body.error).toBe(error);
}

/** Runs the request and checks that it was refused with `status` and changed no row of any table. */
async function expectRefusedWithoutWrites(
  send: () => Promise<LightMyRequestResponse>,
  status: number,
  error?: string,
): Promise<LightMyRequestResponse> {
  const before = await snapshotTables(keyhouse.db.pool);
  const response = await send();
  expectOsbError(response, status, error);
  expect(changedTables(before, await snapshotTables(keyhouse.db.pool))).toEqual([]);
  return response;
}

async function provisioned(organization = `org-${randomUUID()}`) {
  const id = randomUUID();
  const response = await osb(keyhouse, 'PUT', `/service_instances/${id}${query()}`, {
    payload: provisionBody(organization),
  });
  expect(response.statusCode, response.body).toBe(202);
  const { rows } = await keyhouse.db.pool.query<{ instance_id: string }>(
    'SELECT instance_id FROM osb_service_instances WHERE id = $1',
    [id],
  );
  return {
    id,
    instanceId: rows[0]!.instance_id,
    operation: response.json<{ operation: string }>().operation,
  };
}

/** Stands in for the worker: the create order is done and the instance runs. */
async function markProvisioned(instanceId: string) {
  await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE instance_id = $1`, [instanceId]);
  await keyhouse.db.pool.query(
    `UPDATE instances SET status = 'running', url = 'https://kc-test.localhost:18001' WHERE id = $1`,
    [instanceId],
  );
}

describe('4. last_operation with an operation that is no operation of ours', () => {
  it('answers 400, not 500', async () => {
    const { id } = await provisioned();
    for (const operation of ['abc', '', '00000000-0000-0000-0000-00000000000g', randomUUID()]) {
      const response = await osb(
        keyhouse,
        'GET',
        `/service_instances/${id}/last_operation?operation=${encodeURIComponent(operation)}`,
      );
      expectOsbError(response, 400);
    }
  });
});

describe('5. a refused provision', () => {
  it('writes nothing for a new platform organisation with invalid parameters', async () => {
    const organization = `org-${randomUUID()}`;
    for (const parameters of [
      { trustedSources: ['127.0.0.1'], storageGb: 51 },
      { trustedSources: [] },
      { trustedSources: ['0.0.0.0/0'] },
      { trustedSources: ['127.0.0.1'], zone: 'nowhere' },
      { trustedSources: ['127.0.0.1'], cpu: 4 },
    ]) {
      await expectRefusedWithoutWrites(
        () =>
          osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, {
            payload: provisionBody(organization, parameters),
          }),
        400,
      );
    }
  });

  it('puts organisation, order, job, instance mapping and audit event into one transaction', async () => {
    const id = randomUUID();
    const response = await osb(keyhouse, 'PUT', `/service_instances/${id}${query()}`, {
      payload: provisionBody(`org-${randomUUID()}`),
      headers: osbHeaders({ 'x-broker-api-originating-identity': originatingIdentity('cf-user-7') }),
    });
    expect(response.statusCode).toBe(202);
    const { rows } = await keyhouse.db.pool.query<{ xids: string[] }>(
      `SELECT ARRAY[
         (SELECT xmin::text FROM osb_service_instances WHERE id = $1),
         (SELECT o.xmin::text FROM orders o JOIN osb_service_instances s ON s.last_order_id = o.id WHERE s.id = $1),
         (SELECT m.xmin::text FROM osb_organizations m JOIN osb_service_instances s
             ON s.organization_id = m.organization_id WHERE s.id = $1),
         (SELECT j.xmin::text FROM pgboss.job j JOIN osb_service_instances s ON j.singleton_key = s.last_order_id::text
           WHERE s.id = $1),
         (SELECT xmin::text FROM audit_events WHERE action = 'osb.provision' AND details->>'serviceInstanceId' = $1)
       ] AS xids`,
      [id],
    );
    const xids = rows[0]!.xids;
    expect(xids.every((xid) => xid !== null)).toBe(true);
    expect(new Set(xids).size).toBe(1);
  });
});

describe('6. an originating identity the audit log cannot hold', () => {
  const identity = (json: string, platform = 'cloudfoundry') =>
    `${platform} ${Buffer.from(json).toString('base64')}`;

  it('is refused before anything is written', async () => {
    for (const header of [
      identity('{"user_id":"a\\u0000b"}'),
      identity('{"us\\u0000er":"x"}'),
      identity('["not", "an object"]'),
      identity('not json at all'),
      'cloudfoundry',
      'cloudfoundry !!!not-base64!!!',
    ]) {
      await expectRefusedWithoutWrites(
        () =>
          osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, {
            payload: provisionBody(`org-${randomUUID()}`),
            headers: osbHeaders({ 'x-broker-api-originating-identity': header }),
          }),
        400,
      );
    }
  });
});

describe('2. a NUL byte in what a platform sends', () => {
  it('is refused in the context (organisation name, platform, ids) before anything is written', async () => {
    for (const field of ['organization_name', 'platform', 'organization_guid', 'space_guid'] as const) {
      const body = provisionBody(`org-${randomUUID()}`);
      await expectRefusedWithoutWrites(
        () =>
          osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, {
            payload: { ...body, context: { ...body.context, [field]: 'Platform\u0000Org' } },
          }),
        400,
      );
    }
  });
});

describe('10. what the OSB specification requires the broker to refuse', () => {
  it('refuses a provision without organization_guid or space_guid', async () => {
    const { space_guid: _space, ...withoutSpace } = provisionBody(`org-${randomUUID()}`);
    const { organization_guid: _organization, ...withoutOrganization } = provisionBody(`org-${randomUUID()}`);
    for (const payload of [withoutSpace, withoutOrganization]) {
      await expectRefusedWithoutWrites(
        () => osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, { payload }),
        400,
      );
    }
  });

  it('refuses a provision with a plan of another service or maintenance information it cannot honour', async () => {
    await expectRefusedWithoutWrites(
      () =>
        osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, {
          payload: { ...provisionBody(`org-${randomUUID()}`), service_id: 'another-service' },
        }),
      400,
    );
    await expectRefusedWithoutWrites(
      () =>
        osb(keyhouse, 'PUT', `/service_instances/${randomUUID()}${query()}`, {
          payload: { ...provisionBody(`org-${randomUUID()}`), maintenance_info: { version: '1.0.0' } },
        }),
      422,
      'MaintenanceInfoConflict',
    );
  });

  it('refuses a deprovision without service_id or plan_id, or with ones that are not ours', async () => {
    const { id, instanceId } = await provisioned();
    await markProvisioned(instanceId);
    for (const missing of [
      `?accepts_incomplete=true&plan_id=${planIdOf('b2-4')}`,
      `?accepts_incomplete=true&service_id=${OSB_SERVICE_ID}`,
      `?accepts_incomplete=true&service_id=${OSB_SERVICE_ID}&plan_id=unknown-plan`,
      `?accepts_incomplete=true&service_id=other&plan_id=${planIdOf('b2-4')}`,
    ]) {
      await expectRefusedWithoutWrites(
        () => osb(keyhouse, 'DELETE', `/service_instances/${id}${missing}`),
        400,
      );
    }
    const accepted = await osb(keyhouse, 'DELETE', `/service_instances/${id}${query()}`);
    expect(accepted.statusCode).toBe(202);
  });

  it('refuses an unbind without service_id or plan_id and keeps the binding', async () => {
    const { id, instanceId } = await provisioned();
    await markProvisioned(instanceId);
    const bindingId = randomUUID();
    // A binding as the broker stores it (its OIDC client lives in Keycloak: osb-keycloak.test.ts).
    await keyhouse.db.pool.query(
      `INSERT INTO osb_service_bindings (id, service_instance_id, client_id, sealed_secret, request_hash)
       VALUES ($1, $2, $3, 'sealed', 'hash')`,
      [bindingId, id, `osb-${bindingId}`],
    );
    for (const missing of [`?plan_id=${planIdOf('b2-4')}`, `?service_id=${OSB_SERVICE_ID}`, '']) {
      await expectRefusedWithoutWrites(
        () => osb(keyhouse, 'DELETE', `/service_instances/${id}/service_bindings/${bindingId}${missing}`),
        400,
      );
    }
  });

  it('refuses a bind with a plan that is not the instance’s: 409 for an existing binding, 400 for a new one', async () => {
    const { id, instanceId } = await provisioned();
    await markProvisioned(instanceId);
    const bindingId = randomUUID();
    await keyhouse.db.pool.query(
      `INSERT INTO osb_service_bindings (id, service_instance_id, client_id, sealed_secret, request_hash)
       VALUES ($1, $2, $3, 'sealed', 'hash')`,
      [bindingId, id, `osb-${bindingId}`],
    );
    const bind = (binding: string, plan: string) =>
      osb(keyhouse, 'PUT', `/service_instances/${id}/service_bindings/${binding}`, {
        payload: {
          service_id: OSB_SERVICE_ID,
          plan_id: planIdOf(plan),
          bind_resource: { app_guid: 'app-1' },
        },
      });
    await expectRefusedWithoutWrites(() => bind(bindingId, 'b4-8'), 409);
    await expectRefusedWithoutWrites(() => bind(randomUUID(), 'b4-8'), 400);
  });

  it('refuses an update with an unknown plan or without service_id', async () => {
    const { id, instanceId } = await provisioned();
    await markProvisioned(instanceId);
    for (const payload of [
      { service_id: OSB_SERVICE_ID, plan_id: 'unknown' },
      { plan_id: planIdOf('b4-8') },
    ]) {
      await expectRefusedWithoutWrites(
        () => osb(keyhouse, 'PATCH', `/service_instances/${id}?accepts_incomplete=true`, { payload }),
        400,
      );
    }
  });

  it('answers in its own error format everywhere under /osb, also for unknown routes and foreign bodies', async () => {
    expectOsbError(await osb(keyhouse, 'GET', '/nothing-here'), 404);
    const text = await keyhouse.request({
      method: 'PUT',
      url: `/osb/v2/service_instances/${randomUUID()}${query()}`,
      headers: { ...osbHeaders(), 'content-type': 'text/plain' },
      payload: 'provision please',
    });
    expectOsbError(text, 400);
    const malformed = await keyhouse.request({
      method: 'PUT',
      url: `/osb/v2/service_instances/${randomUUID()}${query()}`,
      headers: { ...osbHeaders(), 'content-type': 'application/json' },
      payload: '{"service_id":',
    });
    expectOsbError(malformed, 400);
    const badUrl = await keyhouse.request({
      method: 'GET',
      url: '/osb/v2/service_instances/%E0%A4%A/last_operation',
      headers: osbHeaders(),
    });
    expectOsbError(badUrl, 400);
  });
});
