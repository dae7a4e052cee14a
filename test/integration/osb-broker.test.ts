import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planIdOf, OSB_SERVICE_ID } from '../../src/osb/osb-schemas.js';
import {
  basicAuth,
  deleteQuery,
  enableBroker,
  originatingIdentity,
  osb,
  osbHeaders,
  provisionBody,
} from '../support/osb.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The broker's rules that need no Keycloak: authentication, version, the catalog, the asynchronous contract,
 * conflicts, the organisation mapping and how updates and deprovisioning map onto orders. Only the API role runs,
 * so orders stay where the broker puts them; test/integration/osb-keycloak.test.ts runs the same against a real
 * instance.
 */
let keyhouse: TestKeyhouse;

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(enableBroker);
});
afterAll(async () => {
  await keyhouse?.stop();
});

const provision = (id: string, body: object, query = '?accepts_incomplete=true', headers = osbHeaders()) =>
  osb(keyhouse, 'PUT', `/service_instances/${id}${query}`, { payload: body, headers });

async function orderRows(instanceId: string) {
  const { rows } = await keyhouse.db.pool.query<{
    id: string;
    type: string;
    status: string;
    spec: { nodeSize: string };
  }>('SELECT id, type, status, spec FROM orders WHERE instance_id = $1 ORDER BY created_at', [instanceId]);
  return rows;
}

async function instanceOfServiceInstance(id: string) {
  const { rows } = await keyhouse.db.pool.query<{ instance_id: string }>(
    'SELECT instance_id FROM osb_service_instances WHERE id = $1',
    [id],
  );
  return rows[0]!.instance_id;
}

/** Stands in for the worker: the create order is done and the instance runs. */
async function markProvisioned(instanceId: string) {
  await keyhouse.db.pool.query(
    `UPDATE orders SET status = 'done' WHERE instance_id = $1 AND type = 'create'`,
    [instanceId],
  );
  await keyhouse.db.pool.query(
    `UPDATE instances SET status = 'running', url = 'https://kc-test.localhost:18001' WHERE id = $1`,
    [instanceId],
  );
}

describe('broker switched off', () => {
  it('answers 404 on every /osb route without configured credentials', async () => {
    const off = await startTestKeyhouse();
    try {
      const response = await off.request({ method: 'GET', url: '/osb/v2/catalog', headers: osbHeaders() });
      expect(response.statusCode).toBe(404);
    } finally {
      await off.stop();
    }
  });
});

describe('authentication and version', () => {
  it('refuses requests without or with wrong basic auth with 401', async () => {
    const none = await osb(keyhouse, 'GET', '/catalog', { headers: { 'x-broker-api-version': '2.17' } });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Basic');
    const wrong = await osb(keyhouse, 'GET', '/catalog', {
      headers: {
        authorization: basicAuth('platform', 'wrong-password-wrong'),
        'x-broker-api-version': '2.17',
      },
    });
    expect(wrong.statusCode).toBe(401);
    // A bearer token of the REST API is no broker credential.
    const bearer = await osb(keyhouse, 'GET', '/catalog', {
      headers: { authorization: 'Bearer kh_aaaaaaaaaaaaaaaaaaaa', 'x-broker-api-version': '2.17' },
    });
    expect(bearer.statusCode).toBe(401);
  });

  it('requires X-Broker-API-Version 2.13 or later (412)', async () => {
    const missing = await osb(keyhouse, 'GET', '/catalog', { headers: { authorization: basicAuth() } });
    expect(missing.statusCode).toBe(412);
    expect(missing.json().description).toContain('X-Broker-API-Version');
    for (const version of ['2.12', '1.99', '3.0', 'latest']) {
      const old = await osb(keyhouse, 'GET', '/catalog', {
        headers: osbHeaders({ 'x-broker-api-version': version }),
      });
      expect(old.statusCode, version).toBe(412);
    }
    for (const version of ['2.13', '2.14', '2.17']) {
      const fine = await osb(keyhouse, 'GET', '/catalog', {
        headers: osbHeaders({ 'x-broker-api-version': version }),
      });
      expect(fine.statusCode, version).toBe(200);
    }
  });
});

describe('catalog', () => {
  it('offers keycloak with one plan per node size, costs and parameter schemas', async () => {
    const response = await osb(keyhouse, 'GET', '/catalog');
    expect(response.statusCode).toBe(200);
    const [service, ...others] = response.json().services;
    expect(others).toEqual([]);
    expect(service).toMatchObject({
      id: OSB_SERVICE_ID,
      name: 'keycloak',
      bindable: true,
      plan_updateable: true,
      instances_retrievable: true,
      bindings_retrievable: true,
    });
    const sizes = keyhouse.config.catalog.nodeSizes;
    expect(service.plans.map((p: { name: string }) => p.name)).toEqual(sizes.map((s) => s.id));
    const plan = service.plans.find((p: { name: string }) => p.name === 'b2-4');
    expect(plan.id).toBe(planIdOf('b2-4'));
    expect(plan.free).toBe(false);
    expect(plan.metadata.costs).toEqual(expect.arrayContaining([{ amount: { eur: 0.11 }, unit: 'HOURLY' }]));
    const create = plan.schemas.service_instance.create.parameters;
    expect(create.$schema).toBe('http://json-schema.org/draft-04/schema#');
    expect(Object.keys(create.properties).sort()).toEqual(
      ['adminSources', 'region', 'storageGb', 'trustedSources', 'version', 'zone'].sort(),
    );
    expect(create.required).toEqual(['trustedSources']);
    expect(create.additionalProperties).toBe(false);
    expect(create.properties.storageGb).toMatchObject({
      type: 'integer',
      minimum: 50,
      maximum: 200,
      multipleOf: 50,
    });
    expect(create.properties.region.enum).toEqual(keyhouse.config.catalog.regions.map((r) => r.id));
    const update = plan.schemas.service_instance.update.parameters;
    expect(Object.keys(update.properties).sort()).toEqual([
      'adminSources',
      'storageGb',
      'trustedSources',
      'version',
    ]);
    expect(JSON.stringify(response.json()).length).toBeLessThan(64 * 1024);
  });
});

describe('provisioning', () => {
  it('is asynchronous only: 422 AsyncRequired without accepts_incomplete=true', async () => {
    for (const query of ['', '?accepts_incomplete=false']) {
      const response = await provision(randomUUID(), provisionBody('org-async'), query);
      expect(response.statusCode).toBe(422);
      expect(response.json().error).toBe('AsyncRequired');
    }
    const { rows } = await keyhouse.db.pool.query(
      'SELECT 1 FROM osb_organizations WHERE platform_organization_id = $1',
      ['org-async'],
    );
    expect(rows).toHaveLength(0);
  });

  it('refuses bad plans and parameters with 400 and the field at fault', async () => {
    const plan = await provision(randomUUID(), { ...provisionBody('org-bad'), plan_id: 'nope' });
    expect(plan.statusCode).toBe(400);
    const open = await provision(randomUUID(), provisionBody('org-bad', { trustedSources: ['0.0.0.0/0'] }));
    expect(open.statusCode).toBe(400);
    expect(open.json().description).toContain('trustedSources');
    const storage = await provision(
      randomUUID(),
      provisionBody('org-bad', { trustedSources: ['127.0.0.1'], storageGb: 75 }),
    );
    expect(storage.statusCode).toBe(400);
    expect(storage.json().description).toContain('storageGb');
    const unknown = await provision(
      randomUUID(),
      provisionBody('org-bad', { trustedSources: ['127.0.0.1'], cpu: 4 }),
    );
    expect(unknown.statusCode).toBe(400);
  });

  it('answers 202 with an operation, 202 again for the same request, 409 for other attributes', async () => {
    const id = randomUUID();
    const body = provisionBody('org-1', { trustedSources: ['127.0.0.1'], storageGb: 100 });
    const first = await provision(
      id,
      body,
      '?accepts_incomplete=true',
      osbHeaders({
        'x-broker-api-originating-identity': originatingIdentity('cf-user-1'),
      }),
    );
    expect(first.statusCode).toBe(202);
    const { operation } = first.json();
    expect(operation).toEqual(expect.any(String));

    const again = await provision(id, body);
    expect(again.statusCode).toBe(202);
    expect(again.json().operation).toBe(operation);

    const other = await provision(
      id,
      provisionBody('org-1', { trustedSources: ['127.0.0.1'], storageGb: 150 }),
    );
    expect(other.statusCode).toBe(409);
    const otherPlan = await provision(
      id,
      provisionBody('org-1', { trustedSources: ['127.0.0.1'], storageGb: 100 }, 'b4-8'),
    );
    expect(otherPlan.statusCode).toBe(409);

    const instanceId = await instanceOfServiceInstance(id);
    const orders = await orderRows(instanceId);
    expect(orders).toEqual([expect.objectContaining({ id: operation, type: 'create', status: 'new' })]);

    const last = await osb(keyhouse, 'GET', `/service_instances/${id}/last_operation?operation=${operation}`);
    expect(last.statusCode).toBe(200);
    expect(last.json().state).toBe('in progress');

    // Still provisioning: not fetchable yet, and not bindable.
    expect((await osb(keyhouse, 'GET', `/service_instances/${id}`)).statusCode).toBe(404);
    const bind = await osb(keyhouse, 'PUT', `/service_instances/${id}/service_bindings/${randomUUID()}`, {
      payload: { service_id: OSB_SERVICE_ID, plan_id: planIdOf('b2-4') },
    });
    expect(bind.statusCode).toBe(422);
    expect(bind.json().error).toBe('ConcurrencyError');

    // An update while provisioning runs: ConcurrencyError.
    const update = await osb(keyhouse, 'PATCH', `/service_instances/${id}?accepts_incomplete=true`, {
      payload: { service_id: OSB_SERVICE_ID, plan_id: planIdOf('b4-8') },
    });
    expect(update.statusCode).toBe(422);
    expect(update.json().error).toBe('ConcurrencyError');

    // Once done: the same PUT answers 200.
    await markProvisioned(instanceId);
    const done = await provision(id, body);
    expect(done.statusCode).toBe(200);
    expect((await osb(keyhouse, 'GET', `/service_instances/${id}/last_operation`)).json().state).toBe(
      'succeeded',
    );
  });

  it('maps the platform organisation to one Keyhouse organisation with a service user and the default billing profile', async () => {
    const a = await provision(randomUUID(), provisionBody('org-map'));
    const b = await provision(randomUUID(), provisionBody('org-map'));
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    const { rows } = await keyhouse.db.pool.query<{
      organization_id: string;
      email: string;
      role: string;
      company: string;
      protection: boolean[];
    }>(
      `SELECT m.organization_id, u.email, u.role, p.company,
              (SELECT array_agg(i.deletion_protection) FROM instances i WHERE i.organization_id = m.organization_id) AS protection
         FROM osb_organizations m JOIN users u ON u.id = m.service_user_id JOIN billing_profiles p ON p.id = m.billing_profile_id
        WHERE m.platform_organization_id = 'org-map'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      role: 'admin',
      company: keyhouse.config.osb.defaultBillingProfile.company,
      protection: [false, false],
    });
    expect(rows[0]!.email).toMatch(/@keyhouse\.invalid$/);
    // The service user cannot sign in (nobody knows its password).
    const login = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: rows[0]!.email, password: 'anything at all, really' },
    });
    expect(login.statusCode).toBe(401);
  });

  it('records the originating identity in the audit log', async () => {
    const id = randomUUID();
    await provision(
      id,
      provisionBody('org-audit'),
      '?accepts_incomplete=true',
      osbHeaders({
        'x-broker-api-originating-identity': originatingIdentity('cf-user-42'),
      }),
    );
    const { rows } = await keyhouse.db.pool.query<{
      action: string;
      actor: string;
      details: Record<string, unknown>;
    }>(`SELECT action, actor, details FROM audit_events WHERE details->>'serviceInstanceId' = $1`, [id]);
    expect(rows).toEqual([
      expect.objectContaining({
        action: 'osb.provision',
        details: expect.objectContaining({
          platform: 'cloudfoundry',
          originatingIdentity: { user_id: 'cf-user-42' },
        }),
      }),
    ]);
  });
});

describe('update', () => {
  it('maps a plan change to a scale order and parameters to storage / trusted-sources / admin-sources orders, one at a time', async () => {
    const id = randomUUID();
    await provision(id, provisionBody('org-update'));
    const instanceId = await instanceOfServiceInstance(id);
    await markProvisioned(instanceId);
    const patch = (payload: object, query = '?accepts_incomplete=true') =>
      osb(keyhouse, 'PATCH', `/service_instances/${id}${query}`, {
        payload: { service_id: OSB_SERVICE_ID, ...payload },
      });

    expect((await patch({ plan_id: planIdOf('b4-8') }, '')).json().error).toBe('AsyncRequired');
    expect((await patch({ plan_id: planIdOf('b2-4') })).statusCode).toBe(200);
    const twoChanges = await patch({ plan_id: planIdOf('b4-8'), parameters: { storageGb: 100 } });
    expect(twoChanges.statusCode).toBe(422);
    expect(twoChanges.json().description).toContain('One change per update');

    const scale = await patch({ plan_id: planIdOf('b4-8'), previous_values: { plan_id: planIdOf('b2-4') } });
    expect(scale.statusCode).toBe(202);
    const scaleOrder = (await orderRows(instanceId)).at(-1)!;
    expect(scaleOrder).toMatchObject({
      id: scale.json().operation,
      type: 'scale',
      spec: { nodeSize: 'b4-8' },
    });
    // The same update again while it runs: 202 with the same operation; another one: ConcurrencyError.
    const repeated = await patch({ plan_id: planIdOf('b4-8') });
    expect(repeated.statusCode).toBe(202);
    expect(repeated.json().operation).toBe(scale.json().operation);
    const concurrent = await patch({ parameters: { storageGb: 100 } });
    expect(concurrent.statusCode).toBe(422);
    expect(concurrent.json().error).toBe('ConcurrencyError');
    // Fetching while the update runs: ConcurrencyError too.
    expect((await osb(keyhouse, 'GET', `/service_instances/${id}`)).json().error).toBe('ConcurrencyError');

    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [scaleOrder.id]);
    const storage = await patch({ parameters: { storageGb: 100 } });
    expect(storage.statusCode).toBe(202);
    expect((await orderRows(instanceId)).at(-1)).toMatchObject({ type: 'storage', status: 'new' });
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [
      storage.json().operation,
    ]);

    const shrink = await patch({ parameters: { storageGb: 50 } });
    expect(shrink.statusCode).toBe(400);
    expect(shrink.json().description).toContain('only grow');

    const sources = await patch({ parameters: { trustedSources: ['10.1.2.0/24'] } });
    expect(sources.statusCode).toBe(202);
    expect((await orderRows(instanceId)).at(-1)).toMatchObject({ type: 'trusted-sources' });
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [
      sources.json().operation,
    ]);

    const outside = await patch({ parameters: { adminSources: ['10.9.9.9'] } });
    expect(outside.statusCode).toBe(400);
    expect(outside.json().description).toContain('parameters.adminSources.0');
    expect(outside.json().description).toContain('not within the trusted sources');
    const admins = await patch({ parameters: { adminSources: ['10.1.2.7'] } });
    expect(admins.statusCode).toBe(202);
    expect((await orderRows(instanceId)).at(-1)).toMatchObject({
      type: 'admin-sources',
      spec: { trustedSources: ['10.1.2.0/24'], adminSources: ['10.1.2.7/32'] },
    });
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [
      admins.json().operation,
    ]);

    const fetched = await osb(keyhouse, 'GET', `/service_instances/${id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toMatchObject({
      service_id: OSB_SERVICE_ID,
      plan_id: planIdOf('b4-8'),
      parameters: { storageGb: 100, trustedSources: ['10.1.2.0/24'], adminSources: ['10.1.2.7/32'] },
    });
  });
});

describe('deprovisioning', () => {
  it('answers 410 for an unknown instance, and 422 AsyncRequired without accepts_incomplete', async () => {
    const unknown = await osb(keyhouse, 'DELETE', `/service_instances/${randomUUID()}${deleteQuery()}`);
    expect(unknown.statusCode).toBe(410);
    expect((await osb(keyhouse, 'GET', `/service_instances/${randomUUID()}/last_operation`)).statusCode).toBe(
      410,
    );
    const id = randomUUID();
    await provision(id, provisionBody('org-delete'));
    const sync = await osb(keyhouse, 'DELETE', `/service_instances/${id}${deleteQuery('b2-4', false)}`);
    expect(sync.statusCode).toBe(422);
    expect(sync.json().error).toBe('AsyncRequired');
  });

  it('during provisioning: cancels a create order that has not started and places the delete order', async () => {
    const id = randomUUID();
    await provision(id, provisionBody('org-delete'));
    const instanceId = await instanceOfServiceInstance(id);
    const deleted = await osb(keyhouse, 'DELETE', `/service_instances/${id}${deleteQuery()}`);
    expect(deleted.statusCode).toBe(202);
    expect(deleted.json().operation).toBe('deprovision');
    const orders = await orderRows(instanceId);
    expect(orders.map((o) => [o.type, o.status])).toEqual([
      ['create', 'failed'],
      ['delete', 'new'],
    ]);
    const last = await osb(keyhouse, 'GET', `/service_instances/${id}/last_operation?operation=deprovision`);
    expect(last.json()).toMatchObject({ state: 'in progress' });
    // Deleting again is the same operation.
    const again = await osb(keyhouse, 'DELETE', `/service_instances/${id}${deleteQuery()}`);
    expect(again.statusCode).toBe(202);
    expect(await orderRows(instanceId)).toHaveLength(2);
  });

  it('during a running provisioning: waits, then places the delete order once the create order has ended', async () => {
    const id = randomUUID();
    await provision(id, provisionBody('org-delete'));
    const instanceId = await instanceOfServiceInstance(id);
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'processing' WHERE instance_id = $1`, [
      instanceId,
    ]);
    expect((await osb(keyhouse, 'DELETE', `/service_instances/${id}${deleteQuery()}`)).statusCode).toBe(202);
    const waiting = await osb(
      keyhouse,
      'GET',
      `/service_instances/${id}/last_operation?operation=deprovision`,
    );
    expect(waiting.json()).toEqual({ state: 'in progress', description: expect.stringContaining('waiting') });
    expect((await orderRows(instanceId)).map((o) => o.type)).toEqual(['create']);

    await markProvisioned(instanceId);
    const polled = await osb(
      keyhouse,
      'GET',
      `/service_instances/${id}/last_operation?operation=deprovision`,
    );
    expect(polled.json().state).toBe('in progress');
    expect((await orderRows(instanceId)).map((o) => [o.type, o.status])).toEqual([
      ['create', 'done'],
      ['delete', 'new'],
    ]);
    // Once the delete order is done: succeeded, and the instance is gone for the platform.
    const deleteOrder = (await orderRows(instanceId)).at(-1)!;
    await keyhouse.db.pool.query(`UPDATE orders SET status = 'done' WHERE id = $1`, [deleteOrder.id]);
    await keyhouse.db.pool.query(`UPDATE instances SET status = 'deleted' WHERE id = $1`, [instanceId]);
    const succeeded = await osb(
      keyhouse,
      'GET',
      `/service_instances/${id}/last_operation?operation=deprovision`,
    );
    expect(succeeded.json().state).toBe('succeeded');
    expect((await osb(keyhouse, 'DELETE', `/service_instances/${id}${deleteQuery()}`)).statusCode).toBe(410);
  });
});
