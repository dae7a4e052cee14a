import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/accounts/password-hashing.js';
import {
  bearerHeaders,
  createUserWithRole,
  signUp,
  TEST_PASSWORD,
  uniqueEmail,
  type SignedInUser,
} from '../support/accounts.js';
import { exampleBillingProfile, exampleOrder } from '../support/orders.js';
import { changedTables, snapshotTables } from '../support/table-snapshot.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * What an outside probe of the API role found (issue 11), one test per finding; the broker's findings are in
 * osb-conformance.test.ts, the login limit under concurrency in login-limit.test.ts.
 */
let keyhouse: TestKeyhouse;
let admin: SignedInUser;
let token: string;
const logLines: string[] = [];

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(() => undefined, {
    logDestination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  });
  admin = await signUp(keyhouse);
  token = await admin.createApiToken();
});
afterAll(() => keyhouse.stop());

function expectProblem(response: LightMyRequestResponse, status: number) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toContain('application/problem+json');
  expect(response.json()).toMatchObject({ status });
}

function expectFieldError(response: LightMyRequestResponse, path: string) {
  expectProblem(response, 400);
  expect(response.json<{ errors: { path: string }[] }>().errors.map((e) => e.path)).toContain(path);
}

/** Sends the request and checks that it answered 400 naming `path`, and that no table changed. */
async function expectRefusedWithoutWrites(
  request: Parameters<TestKeyhouse['request']>[0],
  path: string,
): Promise<void> {
  const before = await snapshotTables(keyhouse.db.pool);
  expectFieldError(await keyhouse.request(request), path);
  expect(changedTables(before, await snapshotTables(keyhouse.db.pool))).toEqual([]);
}

describe('2. a NUL byte in a text field', () => {
  const nul = (text: string) => `${text}\u0000`;

  it('is a field error for tickets, token names and billing profiles, and writes nothing', async () => {
    const headers = bearerHeaders(token);
    await expectRefusedWithoutWrites(
      { method: 'POST', url: '/api/v1/tickets', headers, payload: { subject: nul('Help'), message: 'Hi' } },
      'subject',
    );
    await expectRefusedWithoutWrites(
      { method: 'POST', url: '/api/v1/tickets', headers, payload: { subject: 'Help', message: nul('Hi') } },
      'message',
    );
    await expectRefusedWithoutWrites(
      { method: 'POST', url: '/api/v1/tokens', headers, payload: { name: nul('ci') } },
      'name',
    );
    for (const field of ['company', 'street', 'city', 'postalCode', 'vatId', 'invoiceEmail'] as const) {
      await expectRefusedWithoutWrites(
        {
          method: 'POST',
          url: '/api/v1/billing-profiles',
          headers,
          payload: { ...exampleBillingProfile, [field]: nul(field === 'vatId' ? 'DE123456789' : 'x') },
        },
        field,
      );
    }
  });

  it('is a field error inside an order and at sign-up', async () => {
    await expectRefusedWithoutWrites(
      {
        method: 'POST',
        url: '/api/v1/orders',
        headers: bearerHeaders(token),
        payload: exampleOrder(keyhouse.config, {
          billingProfile: { ...exampleBillingProfile, company: nul('Beispiel') },
        }),
      },
      'billingProfile.company',
    );
    await expectRefusedWithoutWrites(
      {
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: uniqueEmail(), password: TEST_PASSWORD, organizationName: nul('Null GmbH') },
      },
      'organizationName',
    );
  });

  it('is also refused in a text that is otherwise only a control character', async () => {
    await expectRefusedWithoutWrites(
      {
        method: 'POST',
        url: '/api/v1/tickets',
        headers: bearerHeaders(token),
        payload: { subject: 'Bell\u0007 rings', message: 'x' },
      },
      'subject',
    );
  });
});

describe('3. a crafted pagination cursor', () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const crafted = [
    cursorOf(['0000-01-01T00:00:00Z', randomUUID()]),
    cursorOf(['2026-01-01T00:00:00+23:59', randomUUID()]),
    cursorOf(['2026-02-30T00:00:00Z', randomUUID()]),
    cursorOf(['2026-01-01T00:00:00Z', 'x42']),
    cursorOf(['2026-01-01T00:00:00Z', 42]),
    cursorOf({ createdAt: '2026-01-01T00:00:00Z' }),
    '!!!not base64!!!',
  ];

  it('is a field error on every list, never a 500', async () => {
    const lists = [
      '/api/v1/orders',
      '/api/v1/instances',
      '/api/v1/tickets',
      '/api/v1/billing-profiles',
      '/api/v1/tokens',
      '/api/v1/members',
      '/api/v1/invitations',
      '/api/v1/audit-events',
    ];
    for (const list of lists) {
      for (const cursor of crafted) {
        const response = await keyhouse.request({
          method: 'GET',
          url: `${list}?cursor=${encodeURIComponent(cursor)}`,
          headers: bearerHeaders(token),
        });
        expectFieldError(response, 'query.cursor');
      }
    }
  });

  it('still pages with the cursors the lists hand out', async () => {
    for (let i = 0; i < 3; i++) await admin.createApiToken(`page ${i}`);
    const first = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/tokens?limit=2',
      headers: bearerHeaders(token),
    });
    const { nextCursor } = first.json<{ nextCursor: string }>();
    const second = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/tokens?limit=2&cursor=${nextCursor}`,
      headers: bearerHeaders(token),
    });
    expect(second.statusCode).toBe(200);
    expect(second.json().items.length).toBeGreaterThan(0);
  });
});

describe('7. secrets in URLs', () => {
  it('never writes an invitation token to the log, neither the API call nor the portal page', async () => {
    const invited = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers: admin.sessionHeaders,
      payload: { email: uniqueEmail('invited'), role: 'manager' },
    });
    const { invitationUrl } = invited.json<{ invitationUrl: string }>();
    const invitationToken = invitationUrl.split('/').at(-1)!;
    await keyhouse.request({ method: 'GET', url: invitationUrl });
    const accepted = await keyhouse.request({
      method: 'POST',
      url: `/api/v1${invitationUrl}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expect(accepted.statusCode).toBe(201);
    expect(logLines.some((line) => line.includes('/invitations/'))).toBe(true);
    expect(logLines.filter((line) => line.includes(invitationToken))).toEqual([]);
  });
});

describe('8. authentication before validation', () => {
  const anonymousWrites: [string, string, unknown][] = [
    ['POST', '/api/v1/orders', { serviceType: 42 }],
    ['POST', `/api/v1/instances/${randomUUID()}/orders`, { type: 'nonsense' }],
    ['POST', '/api/v1/instances/not-an-id/orders', { type: 'restart' }],
    ['POST', '/api/v1/tokens', { name: '' }],
    ['POST', '/api/v1/invitations', { email: 'not an address' }],
    ['POST', '/api/v1/billing-profiles', { company: 7 }],
    ['POST', '/api/v1/tickets', {}],
    ['PATCH', '/api/v1/instances/not-an-id', { deletionProtection: 'maybe' }],
    ['GET', '/api/v1/orders/not-an-id', undefined],
    ['GET', '/api/v1/orders?limit=100000', undefined],
  ];

  it('answers 401 without credentials, whatever the body, path or query', async () => {
    for (const [method, url, payload] of anonymousWrites) {
      const response = await keyhouse.request({
        method: method as 'POST',
        url,
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      expectProblem(response, 401);
    }
  });

  it('answers 401 before it reads a malformed or foreign body', async () => {
    const malformed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { 'content-type': 'application/json' },
      payload: '{"serviceType":',
    });
    expectProblem(malformed, 401);
    const text = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expectProblem(text, 401);
  });

  it('answers 403 to a role without the permission, and to a cookie write without CSRF token, before it validates', async () => {
    const readOnly = await createUserWithRole(keyhouse, admin, 'read-only');
    const invalidInvitation = { email: 'not an address' };
    expectProblem(
      await keyhouse.request({
        method: 'POST',
        url: '/api/v1/invitations',
        headers: readOnly.headers,
        payload: invalidInvitation,
      }),
      403,
    );
    expectProblem(
      await keyhouse.request({
        method: 'POST',
        url: '/api/v1/invitations',
        headers: { cookie: admin.cookie },
        payload: invalidInvitation,
      }),
      403,
    );
  });
});

describe('9. every error of the API is problem+json', () => {
  it('answers headers over 16 KB with 431 as a problem document', async () => {
    const address = await keyhouse.http.listen({ host: '127.0.0.1', port: 0 });
    const { port } = new URL(address);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `GET /api/v1/catalog HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
        );
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head!.toLowerCase()).toContain('content-type: application/problem+json');
    expect(JSON.parse(body!)).toMatchObject({
      status: 431,
      title: expect.any(String),
      detail: expect.any(String),
    });
  });

  it('answers an over-long path parameter with a problem document that does not echo it', async () => {
    const longId = 'x'.repeat(300);
    const response = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/orders/${longId}`,
      headers: bearerHeaders(token),
    });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body).not.toContain(longId);
  });

  it('answers a broken percent-encoding with 400 as a problem document', async () => {
    const response = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/orders/%E0%A4%A',
      headers: bearerHeaders(token),
    });
    expectProblem(response, 400);
  });
});

describe('11. smaller findings', () => {
  it('treats a __proto__ key as a field error or ignores it, but never calls the JSON invalid', async () => {
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: { ...bearerHeaders(token), 'content-type': 'application/json' },
      payload: '{"subject":"About the prototype","message":"hi","__proto__":{"admin":true}}',
    });
    if (response.statusCode === 400) expectFieldError(response, '__proto__');
    else expect(response.statusCode).toBe(201);
    const constructorKey = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tickets',
      headers: { ...bearerHeaders(token), 'content-type': 'application/json' },
      payload: '{"subject":"About constructors","message":"hi","constructor":{"prototype":{"admin":true}}}',
    });
    expectFieldError(constructorKey, 'constructor');
  });

  it('names query errors query.*, as the README says', async () => {
    const response = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/orders?limit=0',
      headers: bearerHeaders(token),
    });
    expectFieldError(response, 'query.limit');
  });

  it('documents the public catalog as public', async () => {
    const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(document.paths['/api/v1/catalog'].get.security).toEqual([]);
  });

  it('checks an invitation token before it spends a password hash on it', async () => {
    // CPU time (all threads of this process, argon2's included), not wall time: the machine is shared.
    const cpuMs = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const hashStarted = cpuMs();
    for (let i = 0; i < 5; i++) await hashPassword(TEST_PASSWORD);
    const perHash = (cpuMs() - hashStarted) / 5;
    const attempts = 20;
    const started = cpuMs();
    for (let i = 0; i < attempts; i++) {
      const response = await keyhouse.request({
        method: 'POST',
        url: `/api/v1/invitations/${'a'.repeat(43)}${i}/accept`,
        payload: { password: TEST_PASSWORD },
      });
      expectProblem(response, 404);
    }
    const perAttempt = (cpuMs() - started) / attempts;
    expect(
      perAttempt,
      `${perAttempt.toFixed(1)} ms CPU per attempt, ${perHash.toFixed(1)} ms per hash`,
    ).toBeLessThan(perHash / 2);
  });
});
