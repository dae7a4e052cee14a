import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerHeaders, createUserWithRole, signUp } from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

let keyhouse: TestKeyhouse;
beforeAll(async () => {
  keyhouse = await startTestKeyhouse();
});
afterAll(() => keyhouse.stop());

describe('sign-up and session', () => {
  it('creates an organisation with a customer number and its admin, and signs in', async () => {
    const admin = await signUp(keyhouse, { organizationName: 'Acme AG' });
    expect(admin.organization.customerNumber).toMatch(/^kd5\d{5}$/);
    expect(admin.user.role).toBe('admin');
    const session = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: { cookie: admin.cookie },
    });
    expect(session.statusCode).toBe(200);
    expect(session.json()).toMatchObject({
      user: { email: admin.email, role: 'admin' },
      organization: { name: 'Acme AG' },
    });
  });

  it('gives users of other roles through invitations, with tokens', async () => {
    const admin = await signUp(keyhouse);
    const readOnly = await createUserWithRole(keyhouse, admin, 'read-only');
    const me = await keyhouse.request({
      method: 'GET',
      url: '/api/v1/auth/session',
      headers: bearerHeaders(readOnly.token),
    });
    expect(me.json()).toMatchObject({
      user: { role: 'read-only' },
      organization: { id: admin.organization.id },
    });
  });
});
