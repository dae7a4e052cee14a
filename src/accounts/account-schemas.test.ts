import { describe, expect, it } from 'vitest';
import {
  createInvitationRequestSchema,
  emailSchema,
  loginRequestSchema,
  signupRequestSchema,
} from './account-schemas.js';

const validSignup = { email: 'anna@example.com', password: 'x'.repeat(12), organizationName: 'Example GmbH' };

describe('account schemas', () => {
  it('lower-cases e-mail addresses', () => {
    expect(emailSchema.parse('Anna.Schmidt@Example.COM')).toBe('anna.schmidt@example.com');
  });

  it('refuses malformed and overlong e-mail addresses', () => {
    for (const email of [
      'anna',
      'anna@',
      '@example.com',
      'an na@example.com',
      `${'a'.repeat(250)}@example.com`,
    ]) {
      expect(emailSchema.safeParse(email).success, email).toBe(false);
    }
  });

  it('asks new passwords for 12 to 200 characters', () => {
    for (const [length, valid] of [
      [11, false],
      [12, true],
      [200, true],
      [201, false],
    ] as const) {
      const result = signupRequestSchema.safeParse({ ...validSignup, password: 'p'.repeat(length) });
      expect(result.success, `length ${length}`).toBe(valid);
    }
  });

  it('trims organisation names and refuses blank or overlong ones', () => {
    expect(signupRequestSchema.parse({ ...validSignup, organizationName: '  Acme  ' }).organizationName).toBe(
      'Acme',
    );
    expect(signupRequestSchema.safeParse({ ...validSignup, organizationName: '   ' }).success).toBe(false);
    expect(signupRequestSchema.safeParse({ ...validSignup, organizationName: 'a'.repeat(121) }).success).toBe(
      false,
    );
  });

  it('refuses unknown fields, so a typo is reported instead of ignored', () => {
    expect(signupRequestSchema.safeParse({ ...validSignup, role: 'admin' }).success).toBe(false);
  });

  it('does not apply the new-password rules at login', () => {
    expect(loginRequestSchema.safeParse({ email: 'anna@example.com', password: 'short' }).success).toBe(true);
  });

  it('invites only with a known role', () => {
    expect(
      createInvitationRequestSchema.safeParse({ email: 'bob@example.com', role: 'manager' }).success,
    ).toBe(true);
    expect(createInvitationRequestSchema.safeParse({ email: 'bob@example.com', role: 'owner' }).success).toBe(
      false,
    );
  });
});
