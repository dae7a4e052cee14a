import { errnoOf, isNotFound } from '../platform/errno.js';
import { createHaproxyCli, HaproxyCliError, type HaproxyCli } from './haproxy-cli.js';
import { frontendName } from './haproxy-config.js';

/**
 * Whether this host's HAProxy sends an instance's traffic to one upstream port only: the current workers route the
 * instance's `server keycloak` there, and no worker of an earlier configuration is left (an old worker answers the
 * next request of each of its keep-alive connections through the upstream it was loaded with). The local driver
 * waits for this before it stops the Keycloak a route has just moved away from (scale and restart without
 * downtime).
 */
export type UpstreamObservation =
  | { serves: 'only-this' }
  | { serves: 'not-yet'; why: string }
  /** No HAProxy answers on this host's master socket (the edge runs elsewhere or is down). */
  | { serves: 'unknown'; why: string };

/** `show servers state <backend>` → the port of each server by name. */
export function parseServersState(text: string): Map<string, number> {
  const lines = text.split('\n');
  const header = lines.find((line) => line.startsWith('# be_id'));
  const ports = new Map<string, number>();
  if (!header) return ports;
  const names = header.replace(/^#\s*/, '').split(' ');
  const nameAt = names.indexOf('srv_name');
  const portAt = names.indexOf('srv_port');
  for (const line of lines) {
    if (line.startsWith('#') || !/^\d+ /.test(line)) continue;
    const values = line.split(' ');
    const port = Number(values[portAt]);
    if (values[nameAt] && Number.isInteger(port)) ports.set(values[nameAt], port);
  }
  return ports;
}

/**
 * The master CLI dropped or refused the request: the master re-executes itself on every reload, and its socket
 * refuses for that moment (EPIPE, reset, refused, a worker gone). Also while HAProxy is down and being restarted:
 * waiting is right then too.
 */
const RELOAD_ERRORS = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED']);

export function createUpstreamObserver(
  masterSocket: string,
  cli: HaproxyCli = createHaproxyCli(masterSocket),
) {
  async function observe(instanceId: string, upstreamPort: number): Promise<UpstreamObservation> {
    let table;
    try {
      table = await cli.processes();
    } catch (error) {
      if (isNotFound(error)) return { serves: 'unknown', why: `no HAProxy master socket ${masterSocket}` };
      throw error;
    }
    if (table.oldWorkers.length)
      return { serves: 'not-yet', why: `old HAProxy workers ${table.oldWorkers.join(', ')} still finishing` };
    if (!table.workers.length) return { serves: 'not-yet', why: 'HAProxy has no current worker' };
    for (const worker of table.workers) {
      const port = parseServersState(
        await cli.worker(worker, `show servers state ${frontendName(instanceId)}`),
      ).get('keycloak');
      if (port !== upstreamPort)
        return { serves: 'not-yet', why: `HAProxy worker ${worker} routes to port ${port ?? 'none'}` };
    }
    return { serves: 'only-this' };
  }
  return async (instanceId: string, upstreamPort: number): Promise<UpstreamObservation> => {
    try {
      return await observe(instanceId, upstreamPort);
    } catch (error) {
      if (error instanceof HaproxyCliError || RELOAD_ERRORS.has(errnoOf(error) ?? ''))
        return { serves: 'not-yet', why: `HAProxy's CLI: ${(error as Error).message}` };
      throw error;
    }
  };
}
