import { describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import type { DesiredInstance } from '../driver.js';
import type { EnsureRunningResult } from './local-driver.js';
import { superviseLocalInstances } from './supervisor.js';

const instance = { name: 'kc-1a2b3c4d' } as DesiredInstance;

describe('superviseLocalInstances', () => {
  it('restarts a dead instance, then backs off while it keeps dying, and forgets after a quiet period', async () => {
    let clock = 0;
    let alive = false;
    const calls: boolean[] = [];
    const supervisor = superviseLocalInstances({
      driver: {
        async ensureRunning(_instance, options): Promise<EnsureRunningResult> {
          calls.push(options?.start !== false);
          if (alive) return 'running';
          if (options?.start === false) return 'stopped';
          return 'started';
        },
      },
      desiredInstances: async () => [instance],
      logger: createLogger({ level: 'silent' }),
      intervalMs: 60 * 60_000,
      now: () => clock,
    });
    try {
      const pass = async () => (await supervisor.runOnce()).get(instance.name);
      expect(await pass()).toBe('started');
      clock += 30_000; // died again within the first minute: wait
      expect(await pass()).toBe('backing-off');
      clock += 31_000;
      expect(await pass()).toBe('started');
      clock += 90_000; // second restart: the pause is now two minutes
      expect(await pass()).toBe('backing-off');
      alive = true;
      expect(await pass()).toBe('running'); // pausing still reports a healthy instance as running
      clock += 60 * 60_000;
      alive = false;
      expect(await pass()).toBe('started');
      expect(calls).toEqual([true, false, true, false, false, true]);
    } finally {
      await supervisor.stop();
    }
  });

  it('keeps going when listing the instances fails', async () => {
    const supervisor = superviseLocalInstances({
      driver: { ensureRunning: async () => 'running' },
      desiredInstances: async () => {
        throw new Error('database away');
      },
      logger: createLogger({ level: 'silent' }),
    });
    expect((await supervisor.runOnce()).size).toBe(0);
    await supervisor.stop();
  });
});
