import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyedMutex, LockTimeoutError, withFileLock } from './file-lock.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const lockFile = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyhouse-lock-'));
  dirs.push(dir);
  return path.join(dir, 'build.lock');
};

describe('withFileLock', () => {
  it('takes over a lock whose owner died', async () => {
    const file = lockFile();
    writeFileSync(file, '999999999'); // no such pid
    expect(await withFileLock(file, async () => 'ran', { timeoutMs: 1000 })).toBe('ran');
  });

  it('waits for a live owner and gives up at the deadline', async () => {
    const file = lockFile();
    writeFileSync(file, String(process.ppid)); // alive for the whole test
    let waitedFor = 0;
    await expect(
      withFileLock(file, async () => 'never', {
        timeoutMs: 300,
        pollMs: 50,
        onWait: (pid) => (waitedFor = pid),
      }),
    ).rejects.toBeInstanceOf(LockTimeoutError);
    expect(waitedFor).toBe(process.ppid);
  });

  it('releases the lock after the work, also when it fails', async () => {
    const file = lockFile();
    await expect(
      withFileLock(file, async () => Promise.reject(new Error('boom')), { timeoutMs: 100 }),
    ).rejects.toThrow('boom');
    expect(await withFileLock(file, async () => 'again', { timeoutMs: 100 })).toBe('again');
  });
});

describe('createKeyedMutex', () => {
  it('runs work of one key one after the other, other keys in parallel, and survives failures', async () => {
    const serialised = createKeyedMutex();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = serialised('a', async () => {
      await gate;
      order.push('a1');
      throw new Error('a1 failed');
    });
    const second = serialised('a', async () => order.push('a2'));
    await serialised('b', async () => order.push('b1'));
    release();
    await expect(first).rejects.toThrow('a1 failed');
    await second;
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });
});
