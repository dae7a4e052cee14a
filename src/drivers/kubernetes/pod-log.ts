import type { LogEntry, LogPage } from '../../instances/instance-log-schemas.js';
import { UnavailableError } from '../../platform/errors.js';
import type { InstanceLogSource, LogRead, LogTarget } from '../driver.js';
import { createLogPage, createLogParser, redactSecrets } from '../local/instance-log.js';
import { names, namespaceOf } from './instance-objects.js';
import { KubernetesRefusal, KubernetesUnreachable } from './kubernetes-client.js';
import type { KubernetesRegionAccess } from './kubernetes-driver.js';

/**
 * The Keycloak log of a Kubernetes instance: the log of the `keycloak` container of the operator's pod, as the API
 * server serves it from the kubelet. Keycloak's console format is its file format, in UTC (the image sets no time
 * zone); entries are parsed as the local driver parses its files. The log reaches back to the container's start
 * only (the kubelet keeps the current container's log), not the 7 days a local instance keeps.
 */

/** Lines from chunks as they arrive: a line split between two chunks waits for its rest. */
async function* linesOf(chunks: AsyncIterable<string>): AsyncIterable<string[]> {
  let rest = '';
  for await (const chunk of chunks) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    if (lines.length) yield lines;
  }
  if (rest) yield [rest];
}

/** A read's page from the container's log; no pod (none started yet, or between restarts) is an empty page. */
export async function readPodLog(
  chunks: AsyncIterable<string> | null,
  target: LogTarget,
  query: LogRead,
): Promise<LogPage> {
  const page = createLogPage(target, query, 'utc');
  if (chunks) for await (const lines of linesOf(chunks)) for (const line of lines) page.push(line);
  return page.page();
}

/** The entries of a followed container log, in the batches the API server sends them. */
export async function* followPodLog(
  chunks: AsyncIterable<string> | null,
  target: LogTarget,
): AsyncIterable<LogEntry[]> {
  if (!chunks) return;
  for await (const lines of linesOf(chunks)) {
    const batch: LogEntry[] = [];
    const parser = createLogParser(
      (entry) => batch.push({ ...entry, text: redactSecrets(entry.text, target.secrets) }),
      'utc',
    );
    for (const line of lines) parser.push(line);
    // Keycloak writes an entry with its stack trace at once: what arrived together is complete.
    parser.flush();
    if (batch.length) yield batch;
  }
}

/** The Kubernetes regions' logs (`regions` by id), read through each region's API server. */
export function createKubernetesLogSource(
  regions: Record<string, KubernetesRegionAccess>,
): InstanceLogSource {
  async function keycloakLog(
    target: LogTarget,
    options: { sinceTime?: Date; follow?: boolean; signal?: AbortSignal },
  ) {
    const region = regions[target.region];
    if (!region)
      throw new UnavailableError('The logs of this region are not served by this Keyhouse process.');
    try {
      return await region.client.podLog(
        {
          namespace: namespaceOf(region.settings, target.name),
          pod: `${names.keycloak}-0`,
          container: 'keycloak',
        },
        options,
      );
    } catch (error) {
      if (error instanceof KubernetesUnreachable)
        throw new UnavailableError(
          `The Kubernetes cluster of region ${region.name} does not answer; try again in a minute.`,
        );
      if (error instanceof KubernetesRefusal)
        throw new UnavailableError(
          `The log of this instance's Keycloak cannot be read now (${error.message}).`,
        );
      throw error;
    }
  }

  return {
    readLog: async (target, query) =>
      readPodLog(await keycloakLog(target, { sinceTime: query.since }), target, query),
    async *followLog(target, signal) {
      yield* followPodLog(await keycloakLog(target, { follow: true, signal }), target);
    },
  };
}
