import { describe, expect, it } from 'vitest';
import { csrfTokenOf, newSecret, sha256Hex } from './secret-tokens.js';

describe('secret tokens', () => {
  it('are 32 random bytes in base64url', () => {
    const secrets = new Set(Array.from({ length: 100 }, newSecret));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('are stored as SHA-256 hex, the form the auth guard compares', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('derive one stable CSRF token per session, different for every session and from the session secret', () => {
    const session = newSecret();
    expect(csrfTokenOf(session)).toBe(csrfTokenOf(session));
    expect(csrfTokenOf(session)).not.toBe(csrfTokenOf(newSecret()));
    expect(csrfTokenOf(session)).not.toContain(session);
    expect(csrfTokenOf(session)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
