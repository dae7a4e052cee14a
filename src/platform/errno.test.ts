import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNotFound, readTextIfExists } from './errno.js';

describe('errno helpers', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-errno-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file, answers null for a missing one, and throws for anything else', () => {
    const file = path.join(dir, 'present.txt');
    writeFileSync(file, 'text');
    expect(readTextIfExists(file)).toBe('text');
    expect(readTextIfExists(path.join(dir, 'absent.txt'))).toBeNull();
    // A path through a file is "not there" too.
    expect(readTextIfExists(path.join(file, 'below'))).toBeNull();
    // A directory is there, but is no file: that is not a missing file.
    expect(() => readTextIfExists(dir)).toThrow(/EISDIR/);
  });

  it('knows only ENOENT and ENOTDIR as not found', () => {
    expect(isNotFound(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(true);
    expect(isNotFound(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(false);
    expect(isNotFound('ENOENT')).toBe(false);
  });
});
