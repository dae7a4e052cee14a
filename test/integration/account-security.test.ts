import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUserWithRole,
  sessionCookieOf,
  signUp,
  TEST_PASSWORD,
  type SignedInUser,
} from '../support/accounts.js';
import { createLogger } from '../../src/platform/logger.js';
import { linkToken, startTestSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

// Account security against a real SMTP server in this process: reset links, invitations and codes come out of the
// mails that arrive. The clock is the test's, so a TOTP code of the next 30-second step and an expired link need no
// waiting.

let keyhouse: TestKeyhouse;
let smtp: TestSmtpServer;
let clock = Date.parse('2026-12-01T10:00:00Z');
/** Every log line of this file's Keyhouse, at debug level (requests with their URLs, the mail sender). */
const logLines: string[] = [];
const now = () => new Date(clock);

beforeAll(async () => {
  smtp = await startTestSmtpServer();
  keyhouse = await startTestKeyhouse(
    (config) => {
      config.mail.smtpUrl = smtp.url;
      config.portal.publicUrl = 'https://portal.keyhouse.test';
    },
    {
      now,
      mail: { dispatchIntervalMs: 200 },
      logger: createLogger({ level: 'debug', destination: { write: (line: string) => logLines.push(line) } }),
    },
  );
});
afterAll(async () => {
  await keyhouse?.stop();
  await smtp?.stop();
});

const login = (payload: Record<string, unknown>) =>
  keyhouse.request({ method: 'POST', url: '/api/v1/auth/login', payload });

async function requestReset(email: string) {
  const response = await keyhouse.request({
    method: 'POST',
    url: '/api/v1/auth/password-reset',
    payload: { email },
    headers: { 'accept-language': 'de-DE' },
  });
  expect(response.statusCode).toBe(202);
  return response;
}

describe('password reset', () => {
  it('mails a single-use link that sets a new password and ends every session', async () => {
    const admin = await signUp(keyhouse);
    await requestReset(admin.email);
    const mail = await smtp.waitFor(admin.email, (m) => /reset/i.test(m.subject));
    expect(mail.subject).toBe('Reset your password');
    expect(mail.html).toContain('https://portal.keyhouse.test/reset-password#token=');
    const token = linkToken(mail, /#token=([A-Za-z0-9_-]+)/);

    // The token is stored only as a hash, and no longer even sealed in the outbox once the mail was sent.
    const stored = () =>
      keyhouse.db.pool
        .query(
          `SELECT (SELECT count(*) FROM password_resets WHERE token_hash = $1)::int AS plain,
                  (SELECT count(*) FROM mail_outbox WHERE kind = 'password-reset' AND recipient = $2
                    AND sealed_secret IS NULL AND state = 'sent')::int AS wiped`,
          [token, admin.email],
        )
        .then((result) => result.rows[0]);
    await expect.poll(stored).toEqual({ plain: 0, wiped: 1 });

    const confirm = (password: string) =>
      keyhouse.request({
        method: 'POST',
        url: '/api/v1/auth/password-reset/confirm',
        payload: { token, password },
      });
    expect((await confirm('a brand new passphrase')).statusCode).toBe(204);
    // The old session is gone, the old password refused, the new one works.
    const session = await keyhouse.request({
      url: '/api/v1/auth/session',
      headers: { cookie: admin.cookie },
    });
    expect(session.statusCode).toBe(401);
    expect((await login({ email: admin.email, password: TEST_PASSWORD })).statusCode).toBe(401);
    expect((await login({ email: admin.email, password: 'a brand new passphrase' })).statusCode).toBe(200);

    const reused = await confirm('yet another passphrase');
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({
      detail: expect.stringMatching(/used already/),
      reason: 'reset-link-used',
    });
  });

  it('refuses an expired link (30 minutes)', async () => {
    const admin = await signUp(keyhouse);
    await requestReset(admin.email);
    const mail = await smtp.waitFor(admin.email, (m) => /reset/i.test(m.subject));
    clock += 31 * 60_000;
    const expired = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token: linkToken(mail, /#token=([A-Za-z0-9_-]+)/), password: 'a brand new passphrase' },
    });
    expect(expired.statusCode).toBe(422);
    expect(expired.json()).toMatchObject({
      detail: expect.stringMatching(/expired/),
      reason: 'reset-link-expired',
    });
  });

  it('answers an unknown address exactly like a known one, and sends nothing', async () => {
    const known = await signUp(keyhouse);
    const a = await requestReset(known.email);
    const b = await requestReset('nobody-here@example.com');
    expect([a.statusCode, a.body]).toEqual([b.statusCode, b.body]);
    await smtp.waitFor(known.email, (m) => /reset/i.test(m.subject));
    const { rows } = await keyhouse.db.pool.query(`SELECT 1 FROM mail_outbox WHERE recipient = $1`, [
      'nobody-here@example.com',
    ]);
    expect(rows).toEqual([]);
  });

  it('keeps the token out of every log line', async () => {
    // The token only ever travels in a POST body and the link's fragment; the request log has URLs, never bodies.
    const admin = await signUp(keyhouse);
    await requestReset(admin.email);
    const mail = await smtp.waitFor(admin.email, (m) => /reset/i.test(m.subject));
    const token = linkToken(mail, /#token=([A-Za-z0-9_-]+)/);
    const response = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/password-reset/confirm',
      payload: { token, password: 'x' },
    });
    // A refused confirmation names the field, not the token.
    expect(response.statusCode).toBe(400);
    expect(response.body).not.toContain(token);
    await expect.poll(() => logLines.some((line) => line.includes('mail sent'))).toBe(true);
    expect(logLines.some((line) => line.includes('/api/v1/auth/password-reset/confirm'))).toBe(true);
    expect(logLines.filter((line) => line.includes(token))).toEqual([]);
  });
});

describe('members: role change and removal', () => {
  let admin: SignedInUser;
  beforeAll(async () => {
    admin = await signUp(keyhouse);
  });

  it('changes a role and removes a member, who can no longer sign in or use a token', async () => {
    const { session: tech, token } = await createUserWithRole(keyhouse, admin, 'technician');
    const changed = await keyhouse.request({
      method: 'PATCH',
      url: `/api/v1/members/${tech.user.id}`,
      headers: admin.sessionHeaders,
      payload: { role: 'manager' },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().role).toBe('manager');

    const removed = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/members/${tech.user.id}`,
      headers: admin.sessionHeaders,
    });
    expect(removed.statusCode).toBe(204);
    expect((await login({ email: tech.email, password: TEST_PASSWORD })).statusCode).toBe(401);
    const withToken = await keyhouse.request({
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(withToken.statusCode).toBe(401);
    const members = await keyhouse.request({ url: '/api/v1/members', headers: { cookie: admin.cookie } });
    expect(members.json().items.map((m: { email: string }) => m.email)).toEqual([admin.email]);
    const audit = await keyhouse.request({
      url: '/api/v1/audit-events?action=member.remove',
      headers: { cookie: admin.cookie },
    });
    expect(audit.json().items[0].details).toMatchObject({ email: tech.email });
  });

  it('keeps the last admin: neither demoted nor removed, not even by themselves', async () => {
    const demote = await keyhouse.request({
      method: 'PATCH',
      url: `/api/v1/members/${admin.user.id}`,
      headers: admin.sessionHeaders,
      payload: { role: 'read-only' },
    });
    expect(demote.statusCode).toBe(409);
    expect(demote.json()).toMatchObject({
      detail: expect.stringMatching(/last admin/),
      reason: 'last-admin',
    });
    const leave = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/members/${admin.user.id}`,
      headers: admin.sessionHeaders,
    });
    expect(leave.statusCode).toBe(409);
  });

  it('lets one of two admins demote the other, but not both at once', async () => {
    const first = await signUp(keyhouse);
    const { session: second } = await createUserWithRole(keyhouse, first, 'admin');
    const [a, b] = await Promise.all([
      keyhouse.request({
        method: 'PATCH',
        url: `/api/v1/members/${second.user.id}`,
        headers: first.sessionHeaders,
        payload: { role: 'read-only' },
      }),
      keyhouse.request({
        method: 'PATCH',
        url: `/api/v1/members/${first.user.id}`,
        headers: second.sessionHeaders,
        payload: { role: 'read-only' },
      }),
    ]);
    // The loser was demoted while it waited for the members' lock: it is no admin any more (checked again there).
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 403]);
  });

  it('lets only admins change members, and answers another organisation’s member as not found', async () => {
    const { session: manager } = await createUserWithRole(keyhouse, admin, 'manager');
    const refused = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/members/${admin.user.id}`,
      headers: manager.sessionHeaders,
    });
    expect(refused.statusCode).toBe(403);
    const other = await signUp(keyhouse);
    const foreign = await keyhouse.request({
      method: 'PATCH',
      url: `/api/v1/members/${other.user.id}`,
      headers: admin.sessionHeaders,
      payload: { role: 'read-only' },
    });
    expect(foreign.statusCode).toBe(404);
  });
});

describe('two-factor sign-in (TOTP)', () => {
  const codeAt = (secret: string, at: number) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({
      timestamp: at,
    });

  async function enrol(user: SignedInUser) {
    const begun = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor',
      headers: user.sessionHeaders,
    });
    expect(begun.statusCode).toBe(201);
    const { secret, otpauthUrl, qrCodeSvg } = begun.json();
    expect(otpauthUrl).toMatch(/^otpauth:\/\/totp\/Keyhouse:/);
    expect(qrCodeSvg).toMatch(/^<svg/);
    const wrong = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor/confirm',
      headers: user.sessionHeaders,
      payload: { code: codeAt(secret, clock) === '000000' ? '111111' : '000000' },
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().errors[0].path).toBe('code');
    const confirmed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor/confirm',
      headers: user.sessionHeaders,
      payload: { code: codeAt(secret, clock) },
    });
    expect(confirmed.statusCode).toBe(200);
    const { recoveryCodes } = confirmed.json();
    expect(recoveryCodes).toHaveLength(10);
    return { secret, recoveryCodes: recoveryCodes as string[] };
  }

  it('asks for the code after the password, accepts each code once, and a recovery code once', async () => {
    const user = await signUp(keyhouse);
    const { secret, recoveryCodes } = await enrol(user);
    const credentials = { email: user.email, password: TEST_PASSWORD };

    const first = await login(credentials);
    expect(first.statusCode).toBe(401);
    expect(first.json()).toMatchObject({ twoFactorRequired: true });
    expect(first.cookies).toEqual([]);
    // A wrong password never reaches the second factor.
    const wrongPassword = await login({ ...credentials, password: 'not the password', totpCode: '123456' });
    expect(wrongPassword.json().twoFactorRequired).toBeUndefined();

    clock += 30_000;
    const code = codeAt(secret, clock);
    const signedIn = await login({ ...credentials, totpCode: code });
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json().user.twoFactorEnabled).toBe(true);
    const replayed = await login({ ...credentials, totpCode: code });
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json().detail).toMatch(/wrong or was used/);

    const withRecovery = await login({ ...credentials, recoveryCode: recoveryCodes[0]!.toUpperCase() });
    expect(withRecovery.statusCode).toBe(200);
    const recoveryAgain = await login({ ...credentials, recoveryCode: recoveryCodes[0] });
    expect(recoveryAgain.statusCode).toBe(401);
    clock += 16 * 60_000; // past the login throttle's window, which counted the refusals above
  });

  it('enforced by the organisation: a member without a second factor can only set one up', async () => {
    const admin = await signUp(keyhouse);
    const { session: member } = await createUserWithRole(keyhouse, admin, 'technician');
    const enforced = await keyhouse.request({
      method: 'PATCH',
      url: '/api/v1/organization',
      headers: admin.sessionHeaders,
      payload: { requireTwoFactor: true },
    });
    expect(enforced.statusCode).toBe(200);
    expect(enforced.json().requireTwoFactor).toBe(true);

    const session = await keyhouse.request({
      url: '/api/v1/auth/session',
      headers: { cookie: member.cookie },
    });
    expect(session.json().mustEnrolTwoFactor).toBe(true);
    const blocked = await keyhouse.request({ url: '/api/v1/instances', headers: { cookie: member.cookie } });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().detail).toMatch(/two-factor/);

    await enrol(member);
    const open = await keyhouse.request({ url: '/api/v1/instances', headers: { cookie: member.cookie } });
    expect(open.statusCode).toBe(200);
    const disable = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor/disable',
      headers: member.sessionHeaders,
      payload: { password: TEST_PASSWORD },
    });
    expect(disable.statusCode).toBe(409);
  });
});

describe('sessions', () => {
  it('lists the user’s sessions and revokes one; another user’s session is not found', async () => {
    const user = await signUp(keyhouse);
    const second = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: TEST_PASSWORD },
      headers: { 'user-agent': 'Firefox on the laptop' },
    });
    const secondCookie = sessionCookieOf(second);
    const list = await keyhouse.request({ url: '/api/v1/auth/sessions', headers: { cookie: user.cookie } });
    const items = list.json().items as { id: string; current: boolean; userAgent: string | null }[];
    expect(items).toHaveLength(2);
    expect(items.filter((s) => s.current)).toHaveLength(1);
    const laptop = items.find((s) => s.userAgent === 'Firefox on the laptop')!;
    expect(laptop.current).toBe(false);

    const stranger = await signUp(keyhouse);
    const foreign = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${laptop.id}`,
      headers: stranger.sessionHeaders,
    });
    expect(foreign.statusCode).toBe(404);

    const revoked = await keyhouse.request({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${laptop.id}`,
      headers: user.sessionHeaders,
    });
    expect(revoked.statusCode).toBe(204);
    const gone = await keyhouse.request({ url: '/api/v1/auth/session', headers: { cookie: secondCookie } });
    expect(gone.statusCode).toBe(401);
    const still = await keyhouse.request({ url: '/api/v1/auth/session', headers: { cookie: user.cookie } });
    expect(still.statusCode).toBe(200);
  });
});
