import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSecretBox } from './secret-box.js';

describe('secret box', () => {
  it('round-trips, never stores plaintext, and detects tampering', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'keyhouse-secrets-'));
    const box = createSecretBox({ secretKey: null, dataDir });
    const sealed = box.seal('correct horse battery staple');
    expect(sealed).not.toContain('horse');
    expect(box.seal('correct horse battery staple')).not.toBe(sealed);
    expect(box.open(sealed)).toBe('correct horse battery staple');
    // The key file persists: a second box (a restarted process) opens what the first sealed.
    expect(createSecretBox({ secretKey: null, dataDir }).open(sealed)).toBe('correct horse battery staple');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
  });

  it('uses a configured key and refuses one of the wrong length', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const box = createSecretBox({ secretKey: key, dataDir: '/nonexistent' });
    expect(box.open(box.seal('x'))).toBe('x');
    expect(() => createSecretBox({ secretKey: 'c2hvcnQ=', dataDir: '/nonexistent' })).toThrow(/32 bytes/);
  });
});
