import { createHash, createHmac, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: the form of every secret Keyhouse hands out (sessions, API tokens, invitations). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * How secrets are stored: a plain SHA-256 suffices because they carry 256 bits of entropy (unlike passwords), and it
 * lets us look them up by hash.
 */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The CSRF token of a session, derived from the session secret: as unguessable as a random one to anyone without
 * the HttpOnly cookie, yet the server can hand it out again (GET /auth/session) after the portal reloads a page.
 */
export function csrfTokenOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('keyhouse-csrf').digest('base64url');
}
