import { randomUUID } from 'node:crypto';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OSB_SERVICE_ID, planIdOf } from '../../src/osb/osb-schemas.js';
import { waitFor } from '../support/edge-probes.js';
import { enableBroker, originatingIdentity, osb, osbHeaders, provisionBody } from '../support/osb.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The broker against a real Keycloak: provision, bind (a client-credentials client whose token comes from the
 * instance through the edge), unbind, a plan change (a scale order: a Keycloak restart), deprovision. One instance
 * for the whole file; embedded-database project only, like the provisioning test.
 */
describe.runIf(process.env.KEYHOUSE_TEST_DATABASE === 'embedded')(
  'Open Service Broker with a real instance',
  () => {
    let keyhouse: TestKeyhouse;
    const serviceInstanceId = randomUUID();
    const bindingId = randomUUID();
    const body = provisionBody(`org-${randomUUID()}`, { trustedSources: ['127.0.0.1'] });
    let provisionOperation: string;
    let credentials: { issuer: string; token_endpoint: string; client_id: string; client_secret: string };

    /** The edge on loopback with the instance's name for SNI and Host, trusting Keyhouse's CA. */
    const throughEdge = () =>
      new Agent({
        connect: {
          ca: keyhouse.ca.certificatePem,
          lookup: (_hostname, options, callback) => {
            if ((options as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
            else (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4);
          },
        },
      });

    async function clientCredentialsGrant(clientId: string, clientSecret: string) {
      const response = await fetch(credentials.token_endpoint, {
        method: 'POST',
        dispatcher: throughEdge(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
        }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    }

    async function waitForOperation(operation: string, timeoutMs: number) {
      let last: { state: string; description?: string } = { state: 'in progress' };
      await waitFor(
        async () => {
          const response = await osb(
            keyhouse,
            'GET',
            `/service_instances/${serviceInstanceId}/last_operation?operation=${encodeURIComponent(operation)}`,
          );
          expect(response.statusCode).toBe(200);
          last = response.json();
          return last.state !== 'in progress';
        },
        timeoutMs,
        `operation ${operation} to end`,
      );
      return last;
    }

    beforeAll(async () => {
      keyhouse = await startTestKeyhouse((config) => {
        enableBroker(config);
        config.roles = ['api', 'worker', 'edge'];
        config.catalog.serviceTypes[0]!.versions = config.catalog.serviceTypes[0]!.versions.slice(0, 1);
        config.edge.listenHost = '127.0.0.1';
        const base = 20000 + Math.floor(Math.random() * 20000);
        config.edge.portRange = { from: base, to: base + 20 };
        config.keycloak.portRange = { from: base + 100, to: base + 140 };
      });
    }, 15 * 60_000);

    afterAll(async () => {
      // Should the deprovisioning test not have run to its end, the instance is removed through the driver.
      const { rows } = await keyhouse.db.pool.query<{ id: string; name: string; status: string }>(
        `SELECT i.id, i.name, i.status FROM instances i JOIN osb_service_instances s ON s.instance_id = i.id WHERE s.id = $1`,
        [serviceInstanceId],
      );
      if (rows[0] && rows[0].status !== 'deleted') {
        await keyhouse.localBackend!.driver.destroy(
          { instanceId: rows[0].id, name: rows[0].name },
          async () => undefined,
        );
      }
      await keyhouse?.stop();
    }, 180_000);

    it(
      'provisions asynchronously: 202, 202 again, 409 with other attributes, 422 for updates meanwhile, then succeeded',
      { timeout: 11 * 60_000 },
      async () => {
        const put = (payload: object) =>
          osb(keyhouse, 'PUT', `/service_instances/${serviceInstanceId}?accepts_incomplete=true`, {
            payload,
            headers: osbHeaders({ 'x-broker-api-originating-identity': originatingIdentity('cf-admin') }),
          });
        const first = await put(body);
        expect(first.statusCode).toBe(202);
        provisionOperation = first.json().operation;
        expect((await put(body)).json()).toEqual({ operation: provisionOperation });
        expect((await put({ ...body, plan_id: planIdOf('b4-8') })).statusCode).toBe(409);
        const update = await osb(
          keyhouse,
          'PATCH',
          `/service_instances/${serviceInstanceId}?accepts_incomplete=true`,
          {
            payload: { service_id: OSB_SERVICE_ID, parameters: { storageGb: 100 } },
          },
        );
        expect(update.statusCode).toBe(422);
        expect(update.json().error).toBe('ConcurrencyError');
        const noVersion = await osb(
          keyhouse,
          'GET',
          `/service_instances/${serviceInstanceId}/last_operation`,
          {
            headers: { authorization: osbHeaders().authorization },
          },
        );
        expect(noVersion.statusCode).toBe(412);

        const result = await waitForOperation(provisionOperation, 10 * 60_000);
        expect(result).toEqual({ state: 'succeeded', description: expect.stringContaining('https://') });
        expect((await put(body)).statusCode).toBe(200);
        const fetched = await osb(keyhouse, 'GET', `/service_instances/${serviceInstanceId}`);
        expect(fetched.statusCode).toBe(200);
        expect(fetched.json()).toMatchObject({
          service_id: OSB_SERVICE_ID,
          plan_id: planIdOf('b2-4'),
          dashboard_url: expect.stringMatching(
            /^https:\/\/kc-[0-9a-f]+\.localhost:\d+\/admin\/master\/console\/$/,
          ),
          parameters: { trustedSources: ['127.0.0.1/32'], storageGb: 50, region: 'local' },
        });
      },
    );

    it('binds: a confidential client whose credentials obtain a token through the edge; again 200, other 409', async () => {
      const bindUrl = `/service_instances/${serviceInstanceId}/service_bindings/${bindingId}`;
      const bindBody = {
        service_id: OSB_SERVICE_ID,
        plan_id: planIdOf('b2-4'),
        bind_resource: { app_guid: 'app-1' },
      };
      const created = await osb(keyhouse, 'PUT', bindUrl, { payload: bindBody });
      expect(created.statusCode).toBe(201);
      credentials = created.json().credentials;
      const { rows } = await keyhouse.db.pool.query<{ customer_number: string; url: string }>(
        `SELECT o.customer_number, i.url FROM osb_service_instances s JOIN instances i ON i.id = s.instance_id
         JOIN organizations o ON o.id = i.organization_id WHERE s.id = $1`,
        [serviceInstanceId],
      );
      expect(credentials).toEqual({
        issuer: `${rows[0]!.url}/realms/${rows[0]!.customer_number}`,
        token_endpoint: `${rows[0]!.url}/realms/${rows[0]!.customer_number}/protocol/openid-connect/token`,
        client_id: `osb-${bindingId}`,
        client_secret: expect.any(String),
      });

      const token = await clientCredentialsGrant(credentials.client_id, credentials.client_secret);
      expect(token.status).toBe(200);
      expect(token.body).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i) });
      const claims = JSON.parse(
        Buffer.from(String(token.body.access_token).split('.')[1]!, 'base64url').toString(),
      );
      expect(claims.iss).toBe(credentials.issuer);
      expect(claims.azp).toBe(credentials.client_id);
      expect((await clientCredentialsGrant(credentials.client_id, 'wrong-secret')).status).toBe(401);

      const again = await osb(keyhouse, 'PUT', bindUrl, { payload: bindBody });
      expect(again.statusCode).toBe(200);
      expect(again.json().credentials).toEqual(credentials);
      const other = await osb(keyhouse, 'PUT', bindUrl, {
        payload: { ...bindBody, bind_resource: { app_guid: 'app-2' } },
      });
      expect(other.statusCode).toBe(409);

      const fetched = await osb(keyhouse, 'GET', bindUrl);
      expect(fetched.statusCode).toBe(200);
      expect(fetched.json().credentials).toEqual(credentials);

      const audit = await keyhouse.db.pool.query<{ details: string }>(
        `SELECT details::text AS details FROM audit_events WHERE action = 'osb.bind'`,
      );
      expect(audit.rows).toHaveLength(1);
      expect(audit.rows[0]!.details).not.toContain(credentials.client_secret);
    });

    it('unbinds: the client is gone, its credentials no longer work; again 410', async () => {
      const bindUrl = `/service_instances/${serviceInstanceId}/service_bindings/${bindingId}`;
      const query = `?service_id=${OSB_SERVICE_ID}&plan_id=${planIdOf('b2-4')}`;
      const removed = await osb(keyhouse, 'DELETE', bindUrl + query);
      expect(removed.statusCode).toBe(200);
      expect(removed.json()).toEqual({});
      const token = await clientCredentialsGrant(credentials.client_id, credentials.client_secret);
      expect([400, 401]).toContain(token.status);
      expect(token.body.error).toBe('invalid_client');
      expect((await osb(keyhouse, 'DELETE', bindUrl + query)).statusCode).toBe(410);
      expect((await osb(keyhouse, 'GET', bindUrl)).statusCode).toBe(404);
    });

    it(
      'changes the plan with a scale order; last_operation follows it to succeeded',
      { timeout: 6 * 60_000 },
      async () => {
        const update = await osb(
          keyhouse,
          'PATCH',
          `/service_instances/${serviceInstanceId}?accepts_incomplete=true`,
          {
            payload: {
              service_id: OSB_SERVICE_ID,
              plan_id: planIdOf('b4-8'),
              previous_values: { plan_id: planIdOf('b2-4') },
            },
          },
        );
        expect(update.statusCode).toBe(202);
        const operation = update.json().operation;
        const { rows } = await keyhouse.db.pool.query<{ type: string; spec: { nodeSize: string } }>(
          'SELECT type, spec FROM orders WHERE id = $1',
          [operation],
        );
        expect(rows[0]).toMatchObject({ type: 'scale', spec: { nodeSize: 'b4-8' } });
        const result = await waitForOperation(operation, 5 * 60_000);
        expect(result.state).toBe('succeeded');
        const fetched = await osb(keyhouse, 'GET', `/service_instances/${serviceInstanceId}`);
        expect(fetched.json().plan_id).toBe(planIdOf('b4-8'));
      },
    );

    it('deprovisions: 202, last_operation succeeded, then 410', { timeout: 4 * 60_000 }, async () => {
      const query = `?accepts_incomplete=true&service_id=${OSB_SERVICE_ID}&plan_id=${planIdOf('b4-8')}`;
      const deleted = await osb(keyhouse, 'DELETE', `/service_instances/${serviceInstanceId}${query}`);
      expect(deleted.statusCode).toBe(202);
      const result = await waitForOperation(deleted.json().operation, 3 * 60_000);
      expect(result.state).toBe('succeeded');
      expect(
        (await osb(keyhouse, 'DELETE', `/service_instances/${serviceInstanceId}${query}`)).statusCode,
      ).toBe(410);
      expect((await osb(keyhouse, 'GET', `/service_instances/${serviceInstanceId}`)).statusCode).toBe(404);
      const { rows } = await keyhouse.db.pool.query<{ status: string }>(
        'SELECT i.status FROM instances i JOIN osb_service_instances s ON s.instance_id = i.id WHERE s.id = $1',
        [serviceInstanceId],
      );
      expect(rows[0]!.status).toBe('deleted');
    });
  },
);
