import { describe, expect, it } from 'vitest';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password-hashing.js';

describe('password hashing', () => {
  it('produces salted argon2id hashes that verify only the right password', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    expect(first).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword(first, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(first, 'correct horse battery stapler')).toBe(false);
  });

  it('treats a stored value that is no argon2 hash as a mismatch instead of failing', async () => {
    expect(await verifyPassword('not a hash', 'anything at all')).toBe(false);
  });

  it('runs a dummy verification for unknown accounts without failing', async () => {
    await expect(verifyAgainstDummy('whatever was typed')).resolves.toBeUndefined();
  });
});
