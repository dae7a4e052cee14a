import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { errnoOf } from '../platform/errno.js';
import { processesWithArgument } from '../platform/proc.js';
import type { PrometheusFiles } from './prometheus-files.js';

/**
 * The embedded Prometheus as a process of its own: started detached (own session, output to its log file), so it
 * keeps scraping while Keyhouse restarts, and found again by its `--config.file` argument in /proc, so a restarted
 * Keyhouse adopts it instead of starting a twin. One started with other arguments (another port, retention) is
 * stopped and started with the current ones.
 */

export type PrometheusSettings = {
  binary: string;
  port: number;
  retentionDays: number;
  files: PrometheusFiles;
};

export function prometheusArguments(settings: PrometheusSettings): string[] {
  return [
    `--config.file=${settings.files.config}`,
    `--storage.tsdb.path=${settings.files.data}`,
    `--storage.tsdb.retention.time=${settings.retentionDays}d`,
    // Loopback only: the API reads it; nobody else needs to.
    `--web.listen-address=127.0.0.1:${settings.port}`,
  ];
}

/** The running Prometheus processes of this configuration file, with their arguments. */
export function findPrometheus(files: PrometheusFiles) {
  return processesWithArgument(`--config.file=${files.config}`);
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if (errnoOf(error) !== 'ESRCH') throw error; // else already gone
  }
}

/** SIGTERM, SIGKILL after `timeoutMs`; answers once every process of this configuration is gone. */
export async function stopPrometheus(files: PrometheusFiles, timeoutMs = 15_000): Promise<void> {
  const pids = findPrometheus(files).map((p) => p.pid);
  pids.forEach((pid) => signal(pid, 'SIGTERM'));
  const deadline = Date.now() + timeoutMs;
  while (findPrometheus(files).length) {
    if (Date.now() > deadline) findPrometheus(files).forEach((p) => signal(p.pid, 'SIGKILL'));
    await delay(100);
  }
}

/** Prometheus answers /-/ready with 200 (its TSDB is open and it scrapes). */
export async function isPrometheusReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch (error) {
    if (error instanceof TypeError || (error as Error).name === 'TimeoutError') return false;
    throw error;
  }
}

export type EnsuredPrometheus = 'adopted' | 'started' | 'restarted';

/**
 * Makes one Prometheus of these settings run: adopts a running one with the same arguments, replaces one with
 * other arguments, starts one when none runs. Waits until it is ready (or throws after `readyTimeoutMs`).
 */
export async function ensurePrometheus(
  settings: PrometheusSettings,
  readyTimeoutMs = 60_000,
): Promise<EnsuredPrometheus> {
  const wanted = prometheusArguments(settings);
  const running = findPrometheus(settings.files);
  const same = running.filter((p) => JSON.stringify(p.argv.slice(1)) === JSON.stringify(wanted));
  let outcome: EnsuredPrometheus = 'adopted';
  if (same.length !== 1 || running.length !== 1) {
    outcome = running.length ? 'restarted' : 'started';
    if (running.length) await stopPrometheus(settings.files);
    mkdirSync(settings.files.data, { recursive: true });
    const log = openSync(settings.files.log, 'a', 0o600);
    try {
      const child = spawn(settings.binary, wanted, {
        cwd: settings.files.dir,
        detached: true,
        stdio: ['ignore', log, log],
      });
      await Promise.race([
        once(child, 'spawn'),
        once(child, 'error').then(([error]) => Promise.reject(error as Error)),
      ]);
      child.unref();
    } finally {
      closeSync(log);
    }
  }
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await isPrometheusReady(settings.port))) {
    if (Date.now() > deadline)
      throw new Error(
        `Prometheus did not become ready on 127.0.0.1:${settings.port} (see ${settings.files.log}).`,
      );
    if (!findPrometheus(settings.files).length)
      throw new Error(`Prometheus exited at start (see ${settings.files.log}).`);
    await delay(200);
  }
  return outcome;
}
