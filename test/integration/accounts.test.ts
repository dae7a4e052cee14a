import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerHeaders,
  createUserWithRole,
  sessionCookieOf,
  signUp,
  TEST_PASSWORD,
  uniqueEmail,
} from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

let keyhouse: TestKeyhouse;
beforeAll(async () => {
  keyhouse = await startTestKeyhouse();
});
afterAll(() => keyhouse.stop());

const login = (target: TestKeyhouse, email: string, password: string, headers: Record<string, string> = {}) =>
  target.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers });

function expectProblem(response: LightMyRequestResponse, status: number) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toContain('application/problem+json');
  expect(response.json()).toMatchObject({ status });
}

async function auditRows(organizationId: string) {
  const result = await keyhouse.db.pool.query<{
    action: string;
    outcome: string;
    actor: string;
    details: Record<string, unknown>;
  }>('SELECT action, outcome, actor, details FROM audit_events WHERE organization_id = $1 ORDER BY id', [
    organizationId,
  ]);
  return result.rows;
}

describe('sign-up', () => {
  it('creates an organisation with a customer number and its admin, and starts a session', async () => {
    const admin = await signUp(keyhouse, {
      organizationName: 'Acme AG',
      email: uniqueEmail('Anna').toUpperCase(),
    });
    expect(admin.organization).toMatchObject({
      name: 'Acme AG',
      customerNumber: expect.stringMatching(/^kd\d{6,}$/),
    });
    expect(admin.user).toMatchObject({ email: admin.email.toLowerCase(), role: 'admin' });

    const session = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: { cookie: admin.cookie },
    });
    expect(session.statusCode).toBe(200);
    expect(session.json()).toEqual({
      user: admin.user,
      organization: admin.organization,
      mustEnrolTwoFactor: false,
      csrfToken: admin.csrfToken,
      // What the portal offers as the first trusted source.
      sourceAddress: '127.0.0.1',
    });
  });

  it('gives each organisation its own customer number', async () => {
    const first = await signUp(keyhouse);
    const second = await signUp(keyhouse);
    expect(first.organization.customerNumber).not.toBe(second.organization.customerNumber);
  });

  it('sets an HttpOnly, SameSite=Lax session cookie for the whole site, not Secure over plain HTTP', async () => {
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: uniqueEmail(), password: TEST_PASSWORD, organizationName: 'Cookie KG' },
    });
    const cookie = response.cookies.find((c) => c.name === 'keyhouse_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie?.secure).toBeFalsy();
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie?.expires?.getTime()).toBeGreaterThan(Date.now() + 11 * 3600_000);
  });

  it('refuses an e-mail address that already has an account, whatever its case', async () => {
    const admin = await signUp(keyhouse);
    const again = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: admin.email.toUpperCase(), password: TEST_PASSWORD, organizationName: 'Twin' },
    });
    expectProblem(again, 409);
  });

  it('creates one account when two sign-ups with one e-mail race', async () => {
    const email = uniqueEmail('race');
    const signups = await Promise.all(
      ['One', 'Two'].map((organizationName) =>
        keyhouse.request({
          method: 'POST',
          url: '/api/v1/auth/signup',
          payload: { email, password: TEST_PASSWORD, organizationName },
        }),
      ),
    );
    expect(signups.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    const organizations = await keyhouse.db.pool.query(
      "SELECT 1 FROM organizations WHERE name IN ('One', 'Two')",
    );
    expect(organizations.rowCount).toBe(1);
  });

  it('answers invalid fields with a validation problem naming each field', async () => {
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'not-an-address', password: 'short', organizationName: '' },
    });
    expectProblem(response, 400);
    const paths = response.json<{ errors: { path: string; message: string }[] }>().errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['email', 'password', 'organizationName']));
  });

  it('bounds passwords at 12 to 200 characters', async () => {
    for (const password of ['x'.repeat(11), 'x'.repeat(201)]) {
      const response = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/auth/signup',
        payload: { email: uniqueEmail(), password, organizationName: 'Bounds' },
      });
      expectProblem(response, 400);
    }
  });
});

describe('login and logout', () => {
  it('signs in with the right password, case-insensitively for the e-mail', async () => {
    const admin = await signUp(keyhouse);
    const response = await login(keyhouse, admin.email.toUpperCase(), admin.password);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ user: { id: admin.user.id }, organization: admin.organization });
    const session = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: { cookie: sessionCookieOf(response) },
    });
    expect(session.json()).toMatchObject({
      user: { id: admin.user.id },
      csrfToken: response.json().csrfToken,
    });
  });

  it('does not reveal whether an account exists', async () => {
    const admin = await signUp(keyhouse);
    const wrongPassword = await login(keyhouse, admin.email, 'wrong password of length');
    const unknownAccount = await login(keyhouse, uniqueEmail('nobody'), 'wrong password of length');
    expectProblem(wrongPassword, 401);
    expectProblem(unknownAccount, 401);
    expect(wrongPassword.json().detail).toBe(unknownAccount.json().detail);
    expect(wrongPassword.cookies).toHaveLength(0);
  });

  it('ends the session on logout and clears the cookie', async () => {
    const admin = await signUp(keyhouse);
    const logout = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: admin.sessionHeaders,
    });
    expect(logout.statusCode).toBe(204);
    const cleared = logout.cookies.find((c) => c.name === 'keyhouse_session');
    expect(cleared?.value).toBe('');
    const after = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: { cookie: admin.cookie },
    });
    expectProblem(after, 401);
  });

  it('stores passwords as argon2id hashes and never returns them', async () => {
    const admin = await signUp(keyhouse);
    const stored = await keyhouse.db.pool.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [admin.user.id],
    );
    expect(stored.rows[0]?.password_hash).toMatch(/^\$argon2id\$/);
    const members = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/members',
      headers: { cookie: admin.cookie },
    });
    expect(members.body).not.toContain('argon2');
    expect(members.body).not.toContain(admin.password);
    expect(members.json().items[0]).not.toHaveProperty('passwordHash');
  });

  it('stores sessions only as hashes', async () => {
    const admin = await signUp(keyhouse);
    const sessionToken = admin.cookie.split('=')[1]!;
    const stored = await keyhouse.db.pool.query<{ token_hash: string; csrf_token_hash: string }>(
      'SELECT token_hash, csrf_token_hash FROM sessions WHERE user_id = $1',
      [admin.user.id],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored.rows)).not.toContain(sessionToken);
    expect(JSON.stringify(stored.rows)).not.toContain(admin.csrfToken);
  });
});

describe('CSRF protection of cookie-authenticated writes', () => {
  const createToken = (headers: Record<string, string>) =>
    keyhouse.request({ method: 'POST', url: '/api/v1/tokens', headers, payload: { name: 'ci' } });

  it('refuses a write without the x-csrf-token header', async () => {
    const admin = await signUp(keyhouse);
    expectProblem(await createToken({ cookie: admin.cookie }), 403);
  });

  it('refuses a write with a wrong x-csrf-token header', async () => {
    const admin = await signUp(keyhouse);
    const other = await signUp(keyhouse);
    expectProblem(await createToken({ cookie: admin.cookie, 'x-csrf-token': other.csrfToken }), 403);
    expectProblem(await createToken({ cookie: admin.cookie, 'x-csrf-token': 'x'.repeat(43) }), 403);
  });

  it('accepts a write with the session’s CSRF token', async () => {
    const admin = await signUp(keyhouse);
    expect((await createToken(admin.sessionHeaders)).statusCode).toBe(201);
  });

  it('needs no CSRF token with a bearer token', async () => {
    const admin = await signUp(keyhouse);
    const token = await admin.createApiToken();
    expect((await createToken(bearerHeaders(token))).statusCode).toBe(201);
  });
});

describe('API tokens', () => {
  it('shows the secret once, lists tokens without secrets, and stops working when revoked', async () => {
    const admin = await signUp(keyhouse);
    const created = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: admin.sessionHeaders,
      payload: { name: 'deploy pipeline' },
    });
    expect(created.statusCode).toBe(201);
    const { id, token } = created.json<{ id: string; token: string }>();
    expect(created.json()).toEqual({ id, name: 'deploy pipeline', token, createdAt: expect.any(String) });
    expect(token).toMatch(/^kh_[A-Za-z0-9_-]{43}$/);

    const me = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: bearerHeaders(token),
    });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ user: { id: admin.user.id } });
    expect(me.json()).not.toHaveProperty('csrfToken');

    const list = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/tokens',
      headers: bearerHeaders(token),
    });
    expect(list.json()).toEqual({
      items: [{ id, name: 'deploy pipeline', createdAt: expect.any(String), lastUsedAt: expect.any(String) }],
      nextCursor: null,
    });
    expect(list.body).not.toContain(token);

    const revoked = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/tokens/${id}`,
      headers: admin.sessionHeaders,
    });
    expect(revoked.statusCode).toBe(204);
    expectProblem(
      await keyhouse.request({ method: 'GET', url: '/api/v1/auth/session', headers: bearerHeaders(token) }),
      401,
    );
    expectProblem(
      await keyhouse.request({
        method: 'DELETE',
        url: `/api/v1/tokens/${id}`,
        headers: admin.sessionHeaders,
      }),
      404,
    );
  });

  it('refuses an unknown bearer token even on public routes', async () => {
    const response = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/catalog',
      headers: bearerHeaders(`kh_${'A'.repeat(43)}`),
    });
    expectProblem(response, 401);
  });

  it("treats another organisation's token as not found", async () => {
    const alice = await signUp(keyhouse);
    const mallory = await signUp(keyhouse);
    const aliceToken = await alice.createApiToken();
    const { items } = (
      await keyhouse.request({ method: 'GET', url: '/api/v1/tokens', headers: bearerHeaders(aliceToken) })
    ).json<{ items: { id: string }[] }>();
    const revoke = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/tokens/${items[0]!.id}`,
      headers: mallory.sessionHeaders,
    });
    expectProblem(revoke, 404);
    expect(
      (
        await keyhouse.request({
          method: 'GET',
          url: '/api/v1/auth/session',
          headers: bearerHeaders(aliceToken),
        })
      ).statusCode,
    ).toBe(200);
  });

  it('stores tokens only as hashes', async () => {
    const admin = await signUp(keyhouse);
    const token = await admin.createApiToken();
    const stored = await keyhouse.db.pool.query('SELECT * FROM api_tokens WHERE user_id = $1', [
      admin.user.id,
    ]);
    expect(JSON.stringify(stored.rows)).not.toContain(token);
  });

  it('lets every role create its own tokens, acting with that role', async () => {
    const admin = await signUp(keyhouse);
    const readOnly = await createUserWithRole(keyhouse, admin, 'read-only');
    const created = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: readOnly.headers,
      payload: { name: 'read-only script' },
    });
    expect(created.statusCode).toBe(201);
    const me = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: bearerHeaders(created.json().token),
    });
    expect(me.json()).toMatchObject({
      user: { role: 'read-only' },
      organization: { id: admin.organization.id },
    });
  });
});

describe('members and invitations', () => {
  it('invites a user with a role, who accepts, signs in and appears among the members', async () => {
    const admin = await signUp(keyhouse);
    const email = uniqueEmail('tech');
    const invited = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers: admin.sessionHeaders,
      payload: { email: email.toUpperCase(), role: 'technician' },
    });
    expect(invited.statusCode).toBe(201);
    const invitation = invited.json<{ id: string; invitationUrl: string }>();
    expect(invitation).toMatchObject({ email, role: 'technician', expiresAt: expect.any(String) });
    expect(invitation.invitationUrl).toMatch(/^\/invitations\/[A-Za-z0-9_-]{43}$/);

    const pending = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/invitations',
      headers: { cookie: admin.cookie },
    });
    expect(pending.json().items).toEqual([expect.objectContaining({ id: invitation.id, email })]);
    expect(pending.body).not.toContain(invitation.invitationUrl);

    const accepted = await keyhouse.request({
      method: 'POST',
      url: `/api/v1${invitation.invitationUrl}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expect(accepted.statusCode).toBe(201);
    expect(accepted.json()).toMatchObject({
      user: { email, role: 'technician' },
      organization: admin.organization,
    });
    expect(accepted.cookies.find((c) => c.name === 'keyhouse_session')).toBeDefined();
    expect((await login(keyhouse, email, TEST_PASSWORD)).statusCode).toBe(200);

    const members = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/members',
      headers: { cookie: admin.cookie },
    });
    expect(members.json().items.map((m: { email: string }) => m.email)).toEqual([admin.email, email]);

    const again = await keyhouse.request({
      method: 'POST',
      url: `/api/v1${invitation.invitationUrl}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expectProblem(again, 409);
    const afterwards = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/invitations',
      headers: { cookie: admin.cookie },
    });
    expect(afterwards.json().items).toEqual([]);
  });

  it('creates one user when an invitation is accepted twice at once', async () => {
    const admin = await signUp(keyhouse);
    const invited = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers: admin.sessionHeaders,
      payload: { email: uniqueEmail('twice'), role: 'manager' },
    });
    const { invitationUrl } = invited.json<{ invitationUrl: string }>();
    const acceptances = await Promise.all(
      [1, 2].map(() =>
        keyhouse.request({
          method: 'POST',
          url: `/api/v1${invitationUrl}/accept`,
          payload: { password: TEST_PASSWORD },
        }),
      ),
    );
    expect(acceptances.map((r) => r.statusCode).sort()).toEqual([201, 409]);
  });

  it('answers an unknown invitation link with not found', async () => {
    const response = await keyhouse.request({
      method: 'POST',
      url: `/api/v1/invitations/${'A'.repeat(43)}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expectProblem(response, 404);
  });

  it('refuses to invite an address that already has an account', async () => {
    const admin = await signUp(keyhouse);
    const other = await signUp(keyhouse);
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers: admin.sessionHeaders,
      payload: { email: other.email, role: 'manager' },
    });
    expectProblem(response, 409);
  });

  it('lets only admins invite', async () => {
    const admin = await signUp(keyhouse);
    for (const role of ['read-only', 'technician', 'manager'] as const) {
      const user = await createUserWithRole(keyhouse, admin, role);
      const attempt = {
        method: 'POST' as const,
        url: '/api/v1/invitations',
        payload: { email: uniqueEmail(), role },
      };
      expectProblem(await keyhouse.request({ ...attempt, headers: user.headers }), 403);
      expectProblem(await keyhouse.request({ ...attempt, headers: user.session.sessionHeaders }), 403);
      expectProblem(
        await keyhouse.request({ method: 'GET', url: '/api/v1/invitations', headers: user.headers }),
        403,
      );
    }
  });

  it('shows every role the members of its own organisation only', async () => {
    const admin = await signUp(keyhouse);
    const readOnly = await createUserWithRole(keyhouse, admin, 'read-only');
    await signUp(keyhouse);
    const members = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/members',
      headers: readOnly.headers,
    });
    expect(members.statusCode).toBe(200);
    expect(members.json().items.map((m: { id: string }) => m.id)).toEqual([
      admin.user.id,
      readOnly.session.user.id,
    ]);
  });

  it('pages through members with a cursor', async () => {
    const admin = await signUp(keyhouse);
    const technician = await createUserWithRole(keyhouse, admin, 'technician');
    const first = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/members?limit=1',
      headers: { cookie: admin.cookie },
    });
    const page = first.json<{ items: { id: string }[]; nextCursor: string }>();
    expect(page.items.map((m) => m.id)).toEqual([admin.user.id]);
    const second = await keyhouse.request({
      method: 'GET',
      url: `/api/v1/members?limit=1&cursor=${page.nextCursor}`,
      headers: { cookie: admin.cookie },
    });
    expect(second.json()).toEqual({ items: [technician.session.user], nextCursor: null });
  });
});

describe('audit', () => {
  it('records every account change, and no password or secret', async () => {
    const admin = await signUp(keyhouse);
    await login(keyhouse, admin.email, 'a wrong password here');
    await login(keyhouse, admin.email, admin.password);
    const token = await admin.createApiToken('audited');
    const tokenId = (
      await keyhouse.request({ method: 'GET', url: '/api/v1/tokens', headers: bearerHeaders(token) })
    ).json().items[0].id;
    await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/tokens/${tokenId}`,
      headers: bearerHeaders(token),
    });
    const member = await createUserWithRole(keyhouse, admin, 'manager');
    await keyhouse.request({ method: 'POST', url: '/api/v1/auth/logout', headers: admin.sessionHeaders });

    const rows = await auditRows(admin.organization.id);
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['auth.signup', 'success'],
      ['auth.login', 'failure'],
      ['auth.login', 'success'],
      ['token.create', 'success'],
      ['token.revoke', 'success'],
      ['invitation.create', 'success'],
      ['invitation.accept', 'success'],
      ['token.create', 'success'],
      ['auth.logout', 'success'],
    ]);
    const everything = JSON.stringify(rows);
    for (const secret of [admin.password, 'a wrong password here', token, member.token, admin.csrfToken]) {
      expect(everything).not.toContain(secret);
    }
    const invitationToken = await keyhouse.db.pool.query<{ details: string }>(
      "SELECT details::text FROM audit_events WHERE action = 'invitation.create' AND organization_id = $1",
      [admin.organization.id],
    );
    expect(invitationToken.rows[0]!.details).not.toMatch(/[A-Za-z0-9_-]{43}/);
  });
});

describe('OpenAPI', () => {
  it('documents every account operation', async () => {
    const document = (await keyhouse.request({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    const operationIds = Object.values(
      document.paths as Record<string, Record<string, { operationId: string }>>,
    )
      .flatMap((path) => Object.values(path))
      .map((operation) => operation.operationId);
    expect(operationIds).toEqual(
      expect.arrayContaining([
        'signUp',
        'logIn',
        'logOut',
        'getSession',
        'createApiToken',
        'listApiTokens',
        'revokeApiToken',
        'listMembers',
        'createInvitation',
        'listInvitations',
        'acceptInvitation',
      ]),
    );
  });
});

describe('with a controlled clock behind a TLS proxy', () => {
  let clocked: TestKeyhouse;
  let current = Date.parse('2030-01-01T08:00:00Z');
  const advanceMinutes = (minutes: number) => {
    current += minutes * 60_000;
  };
  // The proxy tells the source address and that the client spoke TLS.
  const from = (address: string) => ({ 'x-forwarded-for': address, 'x-forwarded-proto': 'https' });

  beforeAll(async () => {
    clocked = await startTestKeyhouse(
      (config) => {
        config.server.trustProxy = true;
      },
      { now: () => new Date(current) },
    );
  });
  afterAll(() => clocked.stop());

  it('marks the session cookie Secure when the request came over TLS', async () => {
    const response = await clocked.request({
      method: 'POST',
      url: '/api/v1/auth/signup',
      headers: from('198.51.100.1'),
      payload: { email: uniqueEmail(), password: TEST_PASSWORD, organizationName: 'TLS GmbH' },
    });
    expect(response.cookies.find((c) => c.name === 'keyhouse_session')).toMatchObject({ secure: true });
  });

  it('limits failed logins per account, with Retry-After, until the window ends', async () => {
    const admin = await signUp(clocked);
    for (let attempt = 0; attempt < 5; attempt++) {
      // Each from another address, so only the account limit applies.
      expectProblem(
        await login(clocked, admin.email, 'wrong password!', from(`198.51.100.${10 + attempt}`)),
        401,
      );
    }
    // Every address that failed on the account is refused now, also with the right password (the owner at a
    // clean address is not: test/integration/login-limit.test.ts).
    const limited = await login(clocked, admin.email, admin.password, from('198.51.100.10'));
    expectProblem(limited, 429);
    expect(Number(limited.headers['retry-after'])).toBe(15 * 60);

    advanceMinutes(10);
    const stillLimited = await login(clocked, admin.email, admin.password, from('198.51.100.14'));
    expectProblem(stillLimited, 429);
    expect(Number(stillLimited.headers['retry-after'])).toBe(5 * 60);

    advanceMinutes(5);
    expect((await login(clocked, admin.email, admin.password, from('198.51.100.14'))).statusCode).toBe(200);
  });

  it('limits unknown accounts the same way as known ones', async () => {
    const email = uniqueEmail('ghost');
    for (let attempt = 0; attempt < 5; attempt++) {
      expectProblem(await login(clocked, email, 'wrong password!', from(`198.51.101.${attempt}`)), 401);
    }
    expectProblem(await login(clocked, email, 'wrong password!', from('198.51.101.3')), 429);
  });

  it('resets the account counter after a successful login', async () => {
    const admin = await signUp(clocked);
    const address = from('198.51.102.1');
    for (let attempt = 0; attempt < 4; attempt++)
      await login(clocked, admin.email, 'wrong password!', address);
    expect((await login(clocked, admin.email, admin.password, address)).statusCode).toBe(200);
    for (let attempt = 0; attempt < 4; attempt++) {
      expectProblem(await login(clocked, admin.email, 'wrong password!', address), 401);
    }
    expect((await login(clocked, admin.email, admin.password, address)).statusCode).toBe(200);
  });

  it('limits failed logins per source address across accounts', async () => {
    const address = from('203.0.113.7');
    for (let attempt = 0; attempt < 20; attempt++) {
      expectProblem(await login(clocked, uniqueEmail('spray'), 'wrong password!', address), 401);
    }
    const admin = await signUp(clocked);
    const limited = await login(clocked, admin.email, admin.password, address);
    expectProblem(limited, 429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(clocked, admin.email, admin.password, from('203.0.113.8'))).statusCode).toBe(200);

    const rows = await clocked.db.pool.query<{ details: { reason: string } }>(
      "SELECT details FROM audit_events WHERE action = 'auth.login' AND outcome = 'failure' AND source_address = $1",
      ['203.0.113.7'],
    );
    expect(rows.rows.map((r) => r.details.reason)).toContain('rate-limited');
  });

  it('ends sessions after 12 hours', async () => {
    const admin = await signUp(clocked);
    const whoAmI = () =>
      clocked.request({ method: 'GET', url: '/api/v1/auth/session', headers: { cookie: admin.cookie } });
    advanceMinutes(11 * 60 + 59);
    expect((await whoAmI()).statusCode).toBe(200);
    advanceMinutes(1);
    expectProblem(await whoAmI(), 401);
  });

  it('refuses an expired invitation clearly and drops it from the pending list', async () => {
    const admin = await signUp(clocked);
    const invited = await clocked.request({
      method: 'POST',
      url: '/api/v1/invitations',
      headers: admin.sessionHeaders,
      payload: { email: uniqueEmail('late'), role: 'read-only' },
    });
    const { invitationUrl } = invited.json<{ invitationUrl: string }>();
    advanceMinutes(7 * 24 * 60);
    const accepted = await clocked.request({
      method: 'POST',
      url: `/api/v1${invitationUrl}/accept`,
      payload: { password: TEST_PASSWORD },
    });
    expectProblem(accepted, 422);
    expect(accepted.json().detail).toContain('expired');
    // The admin's session (12 h) has ended too; a token outlives it.
    const adminAgain = await login(clocked, admin.email, admin.password);
    const pending = await clocked.request({
      method: 'GET',
      url: '/api/v1/invitations',
      headers: { cookie: sessionCookieOf(adminAgain) },
    });
    expect(pending.json().items).toEqual([]);
  });
});
