import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as OTPAuth from 'otpauth';
import { signUp, uniqueEmail } from '../support/accounts.js';
import { startTestKeyhouse, type TestKeyhouse } from '../support/test-keyhouse.js';

/**
 * The login limit under concurrency (issue 11, finding 1): checking the limit and counting an attempt are one
 * atomic step, so parallel guesses cannot slip past it; and a known e-mail address cannot be locked for its owner
 * by failures from elsewhere. Policy (README, "Login limit"): 5 failures per account within 15 minutes make the
 * account refuse every address that has failed on it (an address without failures may still sign in), 5 per
 * account and address always stop that address, 20 per address stop it for every account.
 */
let keyhouse: TestKeyhouse;
let current = Date.parse('2031-03-01T08:00:00Z');

beforeAll(async () => {
  keyhouse = await startTestKeyhouse(
    (config) => {
      config.server.trustProxy = true;
    },
    { now: () => new Date(current) },
  );
});
afterAll(() => keyhouse.stop());

const login = (email: string, password: string, address: string) =>
  keyhouse.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    headers: { 'x-forwarded-for': address },
    payload: { email, password },
  });

/** Status codes of all responses, counted: `{ 401: 4, 429: 55, 200: 1 }`. */
function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe('concurrent guesses', () => {
  it('lets exactly 5 of 60 parallel wrong logins for one account from one address reach the password check', async () => {
    const user = await signUp(keyhouse);
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => login(user.email, `wrong guess ${i}`, '198.51.100.20')),
    );
    expect(tally(responses.map((r) => r.statusCode))).toEqual({ 401: 5, 429: 55 });
    for (const response of responses.filter((r) => r.statusCode === 429)) {
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('with the right password among 60 parallel guesses, lets at most 5 wrong ones through per success', async () => {
    const user = await signUp(keyhouse);
    const right = Math.floor(Math.random() * 60);
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        login(user.email, i === right ? user.password : `wrong guess ${i}`, '198.51.100.22'),
      ),
    );
    const counts = tally(responses.map((r) => r.statusCode));
    // A success starts the account afresh (by design): the owner signed in. Between two successes, at most 5.
    expect(counts[401] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(5 * (1 + (counts[200] ?? 0)));
    expect(counts[429], JSON.stringify(counts)).toBeGreaterThanOrEqual(50);
  });

  it('holds for an e-mail address without an account too', async () => {
    const email = uniqueEmail('nobody');
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(email, `guess ${i}`, '198.51.100.21')),
    );
    expect(tally(responses.map((r) => r.statusCode))).toEqual({ 401: 5, 429: 25 });
  });

  it('lets at most 20 parallel logins from one address reach the password check, across accounts', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        login(uniqueEmail(`spray${i}`), 'wrong password!', '203.0.113.50'),
      ),
    );
    expect(tally(responses.map((r) => r.statusCode))).toEqual({ 401: 20, 429: 30 });
  });

  it('lets the owner in from a clean address while guesses from elsewhere hammer the account', async () => {
    const user = await signUp(keyhouse);
    const guesses = Array.from({ length: 40 }, (_, i) =>
      login(user.email, `wrong guess ${i}`, `192.0.2.${1 + (i % 8)}`),
    );
    const owner = login(user.email, user.password, '198.51.100.77');
    const [ownerResponse, ...guessResponses] = await Promise.all([owner, ...guesses]);
    expect(ownerResponse!.statusCode).toBe(200);
    // Before and after the owner's success: 5 failures on the account, then one attempt per clean address.
    const evaluated = guessResponses.filter((r) => r.statusCode === 401).length;
    expect(evaluated).toBeLessThanOrEqual(2 * (5 + 8));
  });
});

describe('no lock-out of the owner', () => {
  it('refuses the addresses that failed, not the owner at another address, and ends with the window', async () => {
    const user = await signUp(keyhouse);
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await login(user.email, 'wrong password!', `198.51.100.${30 + attempt}`)).statusCode).toBe(401);
    }
    // The account has 5 failures: an address that failed is refused, even with the right password …
    const failedAddress = await login(user.email, user.password, '198.51.100.30');
    expect(failedAddress.statusCode).toBe(429);
    expect(Number(failedAddress.headers['retry-after'])).toBe(15 * 60);
    // … a new address gets one attempt: a wrong one ends its chances, the right one signs in.
    expect((await login(user.email, 'wrong password!', '198.51.100.40')).statusCode).toBe(401);
    expect((await login(user.email, user.password, '198.51.100.40')).statusCode).toBe(429);
    expect((await login(user.email, user.password, '198.51.100.41')).statusCode).toBe(200);
    // The success starts the account afresh; the failed addresses are back after the window.
    current += 15 * 60_000;
    expect((await login(user.email, user.password, '198.51.100.30')).statusCode).toBe(200);
  });

  it('stops one address after 5 failures on one account even when the owner signs in meanwhile', async () => {
    const user = await signUp(keyhouse);
    const attacker = '198.51.100.90';
    for (let attempt = 0; attempt < 4; attempt++) await login(user.email, 'wrong password!', attacker);
    expect((await login(user.email, user.password, '198.51.100.91')).statusCode).toBe(200);
    expect((await login(user.email, 'wrong password!', attacker)).statusCode).toBe(401);
    expect((await login(user.email, 'wrong password!', attacker)).statusCode).toBe(429);
  });

  it('does not count a right password against the address', async () => {
    const user = await signUp(keyhouse);
    const address = '198.51.100.111';
    for (let attempt = 0; attempt < 25; attempt++) {
      expect((await login(user.email, user.password, address)).statusCode).toBe(200);
    }
  });
});

describe('the second factor under the same limit', () => {
  const codeAt = (secret: string, at: number) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({
      timestamp: at,
    });
  /** A code that is none of the three the server accepts now (one step of drift either way). */
  const wrongCode = (secret: string) => {
    const valid = new Set([-30_000, 0, 30_000].map((drift) => codeAt(secret, current + drift)));
    for (let n = 0; ; n++) {
      const code = String(n).padStart(6, '0');
      if (!valid.has(code)) return code;
    }
  };

  async function enrolledUser() {
    const user = await signUp(keyhouse);
    const begun = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor',
      headers: user.sessionHeaders,
    });
    const { secret } = begun.json<{ secret: string }>();
    const confirmed = await keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/two-factor/confirm',
      headers: user.sessionHeaders,
      payload: { code: codeAt(secret, current) },
    });
    expect(confirmed.statusCode).toBe(200);
    return { ...user, secret };
  }

  const loginWithCode = (email: string, password: string, totpCode: string, address: string) =>
    keyhouse.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'x-forwarded-for': address },
      payload: { email, password, totpCode },
    });

  it('lets exactly 5 of 60 parallel wrong codes with the right password be checked', async () => {
    const user = await enrolledUser();
    const code = wrongCode(user.secret);
    const responses = await Promise.all(
      Array.from({ length: 60 }, () => loginWithCode(user.email, user.password, code, '198.51.100.150')),
    );
    expect(tally(responses.map((r) => r.statusCode))).toEqual({ 401: 5, 429: 55 });
  });

  it('does not count asking for the code, nor let it clear the failures of wrong codes', async () => {
    const user = await enrolledUser();
    const address = '198.51.100.151';
    const code = wrongCode(user.secret);
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await loginWithCode(user.email, user.password, code, address)).statusCode).toBe(401);
    }
    // The password alone, many times: each is asked for the code, none counts as a failure …
    for (let attempt = 0; attempt < 10; attempt++) {
      const asked = await login(user.email, user.password, address);
      expect(asked.statusCode).toBe(401);
      expect(asked.json()).toMatchObject({ twoFactorRequired: true });
    }
    // … and none takes the three wrong codes back: two more, then the address is refused for the account.
    for (let attempt = 0; attempt < 2; attempt++) {
      expect((await loginWithCode(user.email, user.password, code, address)).statusCode).toBe(401);
    }
    expect((await loginWithCode(user.email, user.password, code, address)).statusCode).toBe(429);
    current += 15 * 60_000;
  });

  it('checks the password for turning two-factor sign-in off under the limit: 5 of 30 parallel guesses', async () => {
    const user = await enrolledUser();
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        keyhouse.request({
          method: 'POST',
          url: '/api/v1/auth/two-factor/disable',
          headers: { ...user.sessionHeaders, 'x-forwarded-for': '198.51.100.152' },
          payload: { password: `wrong guess ${i}` },
        }),
      ),
    );
    expect(tally(responses.map((r) => r.statusCode))).toEqual({ 400: 5, 429: 25 });
    const refused = responses.find((r) => r.statusCode === 400)!;
    expect(refused.json().errors).toEqual([
      expect.objectContaining({ path: 'password', code: 'account.passwordWrong' }),
    ]);
    current += 15 * 60_000;
  });
});
