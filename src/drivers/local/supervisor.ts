import type { Logger } from 'pino';
import type { DesiredInstance } from '../driver.js';
import type { EnsureRunningResult, LocalDriver } from './local-driver.js';

export type Supervisor = {
  /** One pass over the desired instances (the timer calls it; tests may too). */
  runOnce(): Promise<Map<string, EnsureRunningResult | 'backing-off' | 'failed'>>;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
};

/**
 * Restarts the Keycloak processes of provisioned local instances that died (crash, OOM kill, host reboot). The
 * caller says which instances should run (the reconciler's desired specs of the local region). An instance that
 * keeps dying is restarted with growing pauses (1, 2, 4 … up to 30 minutes) instead of in a tight loop.
 */
export function superviseLocalInstances(options: {
  driver: Pick<LocalDriver, 'ensureRunning'>;
  desiredInstances: () => Promise<DesiredInstance[]>;
  logger: Logger;
  intervalMs?: number;
  now?: () => number;
}): Supervisor {
  const logger = options.logger.child({ component: 'local-supervisor' });
  const intervalMs = options.intervalMs ?? 15_000;
  const now = options.now ?? Date.now;
  const restarts = new Map<string, { count: number; lastAt: number }>();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function runOnce() {
    const results = new Map<string, EnsureRunningResult | 'backing-off' | 'failed'>();
    let desired: DesiredInstance[];
    try {
      desired = await options.desiredInstances();
    } catch (error) {
      logger.error({ err: error }, 'could not list the desired instances');
      return results;
    }
    for (const instance of desired) {
      const history = restarts.get(instance.name);
      const pausing =
        history !== undefined &&
        now() - history.lastAt < Math.min(30 * 60_000, 60_000 * 2 ** (history.count - 1));
      try {
        // While pausing after a restart we only look, so a healthy instance still reads 'running'.
        const result = await options.driver.ensureRunning(instance, { start: !pausing });
        results.set(instance.name, result === 'stopped' ? 'backing-off' : result);
        if (result === 'started') {
          // A restart within 10 minutes of the last one counts as "keeps dying".
          const recent = history && now() - history.lastAt < 10 * 60_000;
          restarts.set(instance.name, { count: recent ? history.count + 1 : 1, lastAt: now() });
        } else if (history && now() - history.lastAt > 10 * 60_000) restarts.delete(instance.name);
      } catch (error) {
        results.set(instance.name, 'failed');
        logger.error({ err: error, instance: instance.name }, 'could not restart Keycloak');
      }
    }
    return results;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      const pass = runOnce().finally(schedule);
      current = pass.catch(() => undefined);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce: () => {
      const pass = runOnce();
      current = pass.catch(() => undefined);
      return pass;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
