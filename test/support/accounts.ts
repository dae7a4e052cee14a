import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { Organization, User } from '../../src/accounts/account-schemas.js';
import type { Role } from '../../src/accounts/roles.js';
import { SESSION_COOKIE } from '../../src/http/auth-guard.js';
import { createPasswordResetService } from '../../src/accounts/password-reset-service.js';
import { createOperator } from '../../src/operators/operator-service.js';
import { createSecretBox } from '../../src/platform/secret-box.js';
import type { TestKeyhouse } from './test-keyhouse.js';

/** A signed-in user as a test sees it, with ready-made headers for both ways of authenticating. */
export type SignedInUser = {
  user: User;
  organization: Organization;
  email: string;
  password: string;
  csrfToken: string;
  /** `keyhouse_session=<value>`, for a `cookie` header. */
  cookie: string;
  /** Cookie plus x-csrf-token: what the portal sends on writes. */
  sessionHeaders: Record<string, string>;
  /** Creates an API token of this user (through the API) and answers its secret. */
  createApiToken(name?: string): Promise<string>;
};

export const bearerHeaders = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

export const uniqueEmail = (prefix = 'user') => `${prefix}-${randomBytes(6).toString('hex')}@example.com`;

export const TEST_PASSWORD = 'correct horse battery staple';

function expectStatus(response: LightMyRequestResponse, status: number, what: string) {
  if (response.statusCode !== status) {
    throw new Error(`${what} answered ${response.statusCode}, expected ${status}: ${response.body}`);
  }
}

/** The session cookie set by a sign-up, login or invitation acceptance, as a `cookie` header value. */
export function sessionCookieOf(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error(`no ${SESSION_COOKIE} cookie in the response`);
  return `${SESSION_COOKIE}=${cookie.value}`;
}

function signedInUser(
  keyhouse: TestKeyhouse,
  response: LightMyRequestResponse,
  credentials: { email: string; password: string },
): SignedInUser {
  const body = response.json<{ user: User; organization: Organization; csrfToken: string }>();
  const cookie = sessionCookieOf(response);
  const sessionHeaders = { cookie, 'x-csrf-token': body.csrfToken };
  return {
    ...body,
    ...credentials,
    cookie,
    sessionHeaders,
    async createApiToken(name = 'test token') {
      const created = await keyhouse.request({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: sessionHeaders,
        payload: { name },
      });
      expectStatus(created, 201, 'POST /api/v1/tokens');
      return created.json<{ token: string }>().token;
    },
  };
}

/** Signs up a new organisation (with a unique e-mail unless given) and answers its admin, signed in. */
export async function signUp(
  keyhouse: TestKeyhouse,
  overrides: Partial<{ email: string; password: string; organizationName: string }> = {},
): Promise<SignedInUser> {
  const credentials = {
    email: overrides.email ?? uniqueEmail('admin'),
    password: overrides.password ?? TEST_PASSWORD,
  };
  const response = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/auth/signup',
    payload: { ...credentials, organizationName: overrides.organizationName ?? 'Example GmbH' },
  });
  expectStatus(response, 201, 'POST /api/v1/auth/signup');
  return signedInUser(keyhouse, response, credentials);
}

/**
 * A user with `role` in the admin's organisation, created through invitation and acceptance. Answers the user's
 * session and an API token of theirs (with headers for it).
 */
export async function createUserWithRole(
  keyhouse: TestKeyhouse,
  admin: SignedInUser,
  role: Role,
): Promise<{ session: SignedInUser; token: string; headers: Record<string, string> }> {
  const email = uniqueEmail(role);
  const invited = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/invitations',
    headers: admin.sessionHeaders,
    payload: { email, role },
  });
  expectStatus(invited, 201, 'POST /api/v1/invitations');
  const { invitationUrl } = invited.json<{ invitationUrl: string }>();
  const accepted = await keyhouse.request({
    method: 'POST',
    url: `/api/v1${invitationUrl}/accept`,
    payload: { password: TEST_PASSWORD },
  });
  expectStatus(accepted, 201, `POST /api/v1${invitationUrl}/accept`);
  const session = signedInUser(keyhouse, accepted, { email, password: TEST_PASSWORD });
  const token = await session.createApiToken(`${role} token`);
  return { session, token, headers: bearerHeaders(token) };
}

/**
 * A provider operator, created the way `keyhouse admin create-operator --password-stdin` does it, then signed in
 * through the API.
 */
export async function signInOperator(
  keyhouse: TestKeyhouse,
  role: 'operator' | 'operator-read-only' = 'operator',
): Promise<{ email: string; password: string; cookie: string; sessionHeaders: Record<string, string> }> {
  const email = uniqueEmail(role);
  const now = () => new Date();
  const passwordResets = createPasswordResetService({
    db: keyhouse.db,
    secretBox: testSecretBox(keyhouse),
    now,
  });
  const outcome = await createOperator(
    { db: keyhouse.db, now, passwordResets },
    { email, role, password: TEST_PASSWORD },
    { principal: undefined, label: 'test', requestId: 'test', sourceAddress: '127.0.0.1' },
  );
  if (outcome !== 'created') throw new Error(`operator ${email}: ${outcome}`);
  const response = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password: TEST_PASSWORD },
  });
  expectStatus(response, 200, 'POST /api/v1/auth/login (operator)');
  const cookie = sessionCookieOf(response);
  const { csrfToken } = response.json<{ csrfToken: string }>();
  return { email, password: TEST_PASSWORD, cookie, sessionHeaders: { cookie, 'x-csrf-token': csrfToken } };
}

/** The secret box of a test Keyhouse (the key file in its data dir). */
export const testSecretBox = (keyhouse: TestKeyhouse) =>
  createSecretBox({ secretKey: keyhouse.config.secretKey, dataDir: keyhouse.config.dataDir });
