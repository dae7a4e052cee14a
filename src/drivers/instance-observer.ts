import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { updateInstanceRuntime } from '../instances/instance-store.js';
import type { DesiredInstance, Driver } from './driver.js';

/**
 * Keeps the conditions and storage usage of a backend's instances fresh for the instance page: every interval,
 * the driver's `observe` of each instance, stored on the instance. Observing is read-only and cheap enough for that.
 */
export function observeInstances(options: {
  driver: Pick<Driver, 'observe'>;
  desiredInstances: () => Promise<DesiredInstance[]>;
  db: Database;
  logger: Logger;
  intervalMs: number;
}): { stop(): Promise<void> } {
  let observing: Promise<void> = Promise.resolve();
  const observe = async () => {
    for (const instance of await options.desiredInstances()) {
      const observed = await options.driver.observe(instance);
      await updateInstanceRuntime(options.db.pool, instance.instanceId, {
        conditions: observed.conditions,
        usage: observed.usage,
      });
    }
  };
  const timer = setInterval(() => {
    observing = observe().catch((error: unknown) =>
      options.logger.warn({ err: error }, 'observing instances failed'),
    );
  }, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await observing;
    },
  };
}
